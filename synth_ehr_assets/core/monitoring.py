"""Drift between two releases' headline figures (fidelity and privacy), for the nightly monitor."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class DriftThresholds:
    """A figure drifts when it moves by more than `relative` of its previous value and more than `absolute`."""

    relative: float = 0.10
    absolute: float = 0.02


@dataclass(frozen=True)
class FigureChange:
    figure: str
    previous: float
    current: float

    @property
    def delta(self) -> float:
        return self.current - self.previous

    def drifted(self, thresholds: DriftThresholds) -> bool:
        if math.isnan(self.previous) or math.isnan(self.current):
            return math.isnan(self.previous) != math.isnan(self.current)
        moved = abs(self.delta)
        return moved > thresholds.absolute and moved > thresholds.relative * abs(self.previous)


def compare_figures(
    previous: dict[str, float], current: dict[str, float], thresholds: DriftThresholds = DriftThresholds()
) -> tuple[list[FigureChange], list[FigureChange]]:
    """(every figure present in both releases, the subset that drifted), both sorted by figure name."""
    shared = sorted(set(previous) & set(current))
    changes = [FigureChange(name, float(previous[name]), float(current[name])) for name in shared]
    return changes, [change for change in changes if change.drifted(thresholds)]


def drift_table(changes: list[FigureChange], thresholds: DriftThresholds) -> str:
    """Markdown table of the changes, drifted figures flagged."""
    lines = ["| figure | previous | current | change | drift |", "|---|---|---|---|---|"]
    for change in changes:
        flag = "**yes**" if change.drifted(thresholds) else ""
        lines.append(f"| {change.figure} | {change.previous:.4g} | {change.current:.4g} | {change.delta:+.4g} | {flag} |")
    return "\n".join(lines)

"""Two written releases side by side: every headline figure of their manifests and every gate's outcome."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from synth_ehr_assets.core.export.bundle import MANIFEST_NAME


@dataclass(frozen=True)
class FigureRow:
    section: str
    figure: str
    a: float | None
    b: float | None

    @property
    def change(self) -> float | None:
        if self.a is None or self.b is None or math.isnan(self.a) or math.isnan(self.b):
            return None
        return self.b - self.a


@dataclass(frozen=True)
class Comparison:
    a: str
    b: str
    figures: list[FigureRow]
    gates: list[tuple[str, bool | None, bool | None]]  # (asset.check, passed in A, passed in B); None = absent

    @property
    def regressions(self) -> list[str]:
        """Gates that passed in A and fail in B."""
        return [name for name, a, b in self.gates if a is True and b is False]


def load_manifest(folder: Path) -> dict:
    path = Path(folder) / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: is {folder} a written release folder?")
    return json.loads(path.read_text(encoding="utf-8"))


def _gates(manifest: dict) -> dict[str, bool]:
    return {f"{g['asset']}.{g['check']}": bool(g["passed"]) for g in manifest.get("gates", [])}


def compare_releases(folder_a: Path, folder_b: Path) -> Comparison:
    """Every numeric figure under `metrics` (fidelity, privacy, judge, ...) of either release, and every gate."""
    a, b = load_manifest(folder_a), load_manifest(folder_b)
    rows = []
    for section in sorted(set(a.get("metrics", {})) | set(b.get("metrics", {}))):
        fa, fb = a.get("metrics", {}).get(section, {}), b.get("metrics", {}).get(section, {})
        for name in sorted(set(fa) | set(fb)):
            va, vb = fa.get(name), fb.get(name)
            if isinstance(va, (int, float)) or isinstance(vb, (int, float)):
                rows.append(FigureRow(section, name, _number(va), _number(vb)))
    ga, gb = _gates(a), _gates(b)
    gates = [(name, ga.get(name), gb.get(name)) for name in sorted(set(ga) | set(gb))]
    return Comparison(a["release_id"], b["release_id"], rows, gates)


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _cell(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def _outcome(passed: bool | None) -> str:
    return {True: "pass", False: "FAIL", None: "—"}[passed]


def format_comparison(comparison: Comparison) -> str:
    """A plain-text table: figure, A, B, change; then the gates, regressions marked."""
    width = max([len(r.figure) for r in comparison.figures] + [len(n) for n, _, _ in comparison.gates] + [10])
    head = f"{'':{width + 2}} {comparison.a:>12} {comparison.b:>12} {'change':>10}"
    lines, section = [head], None
    for row in comparison.figures:
        if row.section != section:
            section = row.section
            lines.append(f"{section}")
        change = "" if row.change is None else f"{row.change:+.4g}"
        lines.append(f"  {row.figure:{width}} {_cell(row.a):>12} {_cell(row.b):>12} {change:>10}")
    lines.append("gates")
    for name, a, b in comparison.gates:
        flag = "  <- regression" if a is True and b is False else ""
        lines.append(f"  {name:{width}} {_outcome(a):>12} {_outcome(b):>12}{flag}")
    regressions = comparison.regressions
    lines.append("")
    lines.append(f"{len(regressions)} gate(s) passed in {comparison.a} and fail in {comparison.b}"
                 + (f": {', '.join(regressions)}" if regressions else ""))
    return "\n".join(lines)

"""What `synth-ehr release run` shows while a release runs: one line per step as it starts and finishes (time,
rows, checks) and a live bar per running step, drawn with rich. Fed by the run logger in `defs.progress`."""

from __future__ import annotations

import threading
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn


def _rows(count) -> str:
    return f"{count:,} rows" if isinstance(count, int) else "-"


def _figure(metadata: dict) -> str:
    value, threshold = metadata.get("value"), metadata.get("threshold")
    if isinstance(value, (int, float)) and isinstance(threshold, (int, float)):
        return f" {value:.4g} (threshold {threshold:.4g})"
    return ""


class TerminalReport:
    """Steps, bars and checks on one console; thread-safe because Dagster may log from worker threads."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False)
        self.bars = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("{task.fields[figures]}"), console=self.console, transient=True,
        )
        self._tasks: dict[str, int] = {}
        self._started: dict[str, float] = {}
        self._rows: dict[str, list[tuple[str, object]]] = {}
        self._checks: dict[str, list[str]] = {}
        self._figures: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> TerminalReport:
        self.bars.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.bars.stop()

    def print(self, text: str = "") -> None:
        self.bars.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def step_started(self, step: str) -> None:
        with self._lock:
            self._started[step] = time.perf_counter()
            self._tasks[step] = self.bars.add_task(step, total=None, figures="")
            self.print(f"▶ {step}")

    def progress(self, step: str, what: str, done: int, total: int, figures: dict) -> None:
        with self._lock:
            task = self._tasks.get(step)
            if task is None:
                return
            shown = "  ".join(f"{name} {value:.4g}" for name, value in figures.items())
            self.bars.update(task, description=f"{step}: {what}", completed=done, total=total, figures=shown)

    def materialized(self, step: str, asset: str, rows, figures: dict | None = None) -> None:
        with self._lock:
            self._rows.setdefault(step, []).append((asset, rows))
            if figures:
                self._figures.setdefault(step, []).extend(
                    f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in figures.items()
                )

    def checked(self, step: str, check: str, passed: bool, blocking: bool, metadata: dict) -> None:
        with self._lock:
            mark = "✓" if passed else ("✗" if blocking else "!")
            kind = "gate" if blocking else "check"
            self._checks.setdefault(step, []).append(f"    {mark} {kind} {check}{_figure(metadata)}")

    def step_finished(self, step: str, seconds: float | None, ok: bool, error: str = "") -> None:
        with self._lock:
            task = self._tasks.pop(step, None)
            if task is not None:
                self.bars.remove_task(task)
            if seconds is None:
                seconds = time.perf_counter() - self._started.get(step, time.perf_counter())
            outputs = self._rows.pop(step, [])
            if len(outputs) == 1 and outputs[0][0] == step:
                rows = _rows(outputs[0][1])
            else:
                rows = "  ".join(f"{asset} {_rows(count)}" for asset, count in outputs) or "-"
            if step in self._figures:
                figures = ", ".join(self._figures.pop(step))
                rows = figures if rows == "-" else f"{rows}  ({figures})"
            mark = "✓" if ok else "✗"
            self.print(f"{mark} {step:32} {seconds:7.1f}s  {rows}")
            checks = self._checks.pop(step, [])
            for line in checks:
                self.print(line)
            if error and not any(line.lstrip().startswith("✗") for line in checks):
                self.print(f"    {error.splitlines()[0]}")

    def step_skipped(self, step: str) -> None:
        with self._lock:
            self.print(f"- {step:32} skipped (an upstream step or blocking gate failed)")

    def warning(self, step: str | None, text: str) -> None:
        with self._lock:
            self.print(f"  ! {step or 'run'}: {text}")

"""Progress of long steps as Dagster log records, and the run logger that turns a run's records into the
terminal report (`core.terminal`) and a full log file."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import dagster as dg

from synth_ehr_assets.core.progress import Progress

PROGRESS_ATTR = "synth_ehr_progress"  # `extra` key of a progress record: {"what", "done", "total", "figures"}
MIN_INTERVAL_S = 0.5
# figures worth a glance on a step's finishing line (the model assets write no rows)
SHOWN_METADATA = ("final_loss", "epochs_run", "best_epoch", "stopped_reason", "mlflow_model")


def step_progress(context: dg.AssetExecutionContext, what: str) -> Progress:
    """A `Progress` that logs `what: done/total` (INFO at each tenth, DEBUG in between, at most twice a second)
    with the numbers attached, so the CLI can draw a bar and the UI log still reads as text."""
    last = {"time": 0.0, "tenth": -1}

    def progress(done: int, total: int, /, **figures: float) -> None:
        now, tenth = time.monotonic(), (10 * done) // max(total, 1)
        if done < total and tenth == last["tenth"] and now - last["time"] < MIN_INTERVAL_S:
            return
        level = logging.INFO if tenth != last["tenth"] or done >= total else logging.DEBUG
        last.update(time=now, tenth=tenth)
        shown = "".join(f" {name}={value:.4g}" for name, value in figures.items())
        extra = {PROGRESS_ATTR: {"what": what, "done": done, "total": total, "figures": figures}}
        context.log.log(level, f"{what}: {done:,}/{total:,}{shown}", extra=extra)

    return progress


class _ReportHandler(logging.Handler):
    """Feeds the terminal report from Dagster's records: step events, progress, checks, warnings."""

    def __init__(self, report) -> None:
        super().__init__(logging.DEBUG)
        self.report = report

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        step, event = meta.get("step_key"), meta.get("dagster_event")
        progress = getattr(record, PROGRESS_ATTR, None)
        if progress is not None and step:
            self.report.progress(step, progress["what"], progress["done"], progress["total"], progress["figures"])
        elif event is not None:
            self._event(step, event)
        elif record.levelno >= logging.WARNING:
            text = meta.get("orig_message", record.getMessage())
            # the in-process executor reports a skipped step only as this warning, without a STEP_SKIPPED event
            if step and text.startswith(f"Dependencies for step {step} failed"):
                self.report.step_skipped(step)
            else:
                self.report.warning(step, text)

    def _event(self, step: str | None, event) -> None:
        kind = event.event_type_value
        data = event.event_specific_data
        if kind == "STEP_START":
            self.report.step_started(step)
        elif kind == "ASSET_MATERIALIZATION":
            metadata = data.materialization.metadata
            rows = metadata.get("dagster/row_count")
            shown = {k: metadata[k].value for k in SHOWN_METADATA if k in metadata}
            self.report.materialized(step, data.materialization.asset_key.to_user_string(),
                                     rows.value if rows is not None else None, shown)
        elif kind == "ASSET_CHECK_EVALUATION":
            self.report.checked(step, data.check_name, data.passed, bool(data.blocking),
                                {k: v.value for k, v in data.metadata.items()})
        elif kind == "STEP_SUCCESS":
            self.report.step_finished(step, data.duration_ms / 1000, True)
        elif kind == "STEP_FAILURE":
            self.report.step_finished(step, None, False, data.error.message.strip() if data.error else "")
        elif kind == "STEP_SKIPPED":
            self.report.step_skipped(step)


def run_logger(report, log_path: Path) -> dg.LoggerDefinition:
    """A Dagster logger writing every record (DEBUG up) to `log_path` and feeding `report` (a `TerminalReport`)."""

    def build(_init_context) -> logging.Logger:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        logger = logging.Logger("synth_ehr.run", logging.DEBUG)  # not registered: nothing propagates to root
        to_file = logging.FileHandler(log_path, encoding="utf-8")
        to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s"))
        logger.addHandler(to_file)
        logger.addHandler(_ReportHandler(report))
        return logger

    return dg.LoggerDefinition(build, description="synth-ehr CLI: terminal report + full log file")

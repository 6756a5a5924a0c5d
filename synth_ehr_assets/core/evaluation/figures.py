"""Report figures as one long table (release_id, report, metric, column, value): the DuckDB shape of a report.

Headline figures have `column` null; per-column, per-pair and per-row figures name their subject in `column`.
"""

from __future__ import annotations

import math

import polars as pl

FIGURES_SCHEMA: dict[str, pl.DataType] = {
    "release_id": pl.String(),
    "report": pl.String(),
    "metric": pl.String(),
    "column": pl.String(),
    "value": pl.Float64(),
}


def figures_frame(
    release_id: str, report: str, headline: dict[str, float], detail: list[tuple[str, str, float]]
) -> pl.DataFrame:
    """Headline floats (column null) followed by `(metric, column, value)` detail rows, in the given order."""
    rows = [(metric, None, _float(value)) for metric, value in headline.items()]
    rows += [(metric, column, _float(value)) for metric, column, value in detail]
    frame = pl.DataFrame(rows, schema={"metric": pl.String, "column": pl.String, "value": pl.Float64}, orient="row")
    return frame.select(
        pl.lit(release_id).alias("release_id"),
        pl.lit(report).alias("report"),
        pl.col("metric").cast(pl.String),
        pl.col("column").cast(pl.String),
        pl.col("value").cast(pl.Float64),
    )


def _float(value: float | None) -> float:
    """sdmetrics reports an unscorable pair as None: store it as NaN."""
    return math.nan if value is None else float(value)


def headline(figures: pl.DataFrame) -> dict[str, float]:
    """The table-level figures of a report (rows without a column) as a mapping."""
    rows = figures.filter(pl.col("column").is_null())
    return dict(zip(rows["metric"].to_list(), rows["value"].to_list()))


def detail(figures: pl.DataFrame, metric: str) -> pl.DataFrame:
    """The `(column, value)` rows of one detail metric, in stored order."""
    return figures.filter((pl.col("metric") == metric) & pl.col("column").is_not_null()).select("column", "value")


def require(figures: pl.DataFrame, metric: str) -> float:
    """One headline figure; a clear error when the report lacks it."""
    value = headline(figures).get(metric)
    if value is None:
        reports = ",".join(sorted(set(figures["report"].to_list()))) or "empty table"
        raise ValueError(f"report ({reports}) has no figure '{metric}'")
    return value


def finite_metadata(values: dict[str, float]) -> dict[str, float]:
    """Floats for Dagster metadata (the UI plots them across partitions); NaN figures are left out."""
    return {name: float(value) for name, value in values.items() if value is not None and math.isfinite(value)}

"""Helpers shared by the clinical-edit modules: the row key, wide → long code slots, one violation frame."""

from __future__ import annotations

import polars as pl

ROW = "_row"
LONG_INDEX = [ROW, "claim_type", "age", "sex"]


def flag(frame: pl.DataFrame, mask: pl.Expr, rule: str, column: str, detail: pl.Expr) -> pl.DataFrame:
    """The rows of `frame` where `mask` holds (null counts as a violation), as violation rows."""
    return frame.filter(mask.fill_null(True)).select(
        ROW, pl.lit(rule).alias("rule"), pl.lit(column).alias("column"), detail.cast(pl.String).alias("detail")
    )


def empty() -> pl.DataFrame:
    return pl.DataFrame(schema={ROW: pl.UInt32, "rule": pl.String, "column": pl.String, "detail": pl.String})


def violations(frame: pl.DataFrame, rule: str, detail: pl.Expr, column: pl.Expr | None = None) -> pl.DataFrame:
    """Every row of an already filtered long `frame` as a violation of `rule`."""
    return frame.select(
        ROW, pl.lit(rule).alias("rule"), (pl.col("column") if column is None else column).alias("column"),
        detail.cast(pl.String).alias("detail"),
    )


def long(frame: pl.DataFrame, columns: list[str], extra: tuple[str, ...] = ()) -> pl.DataFrame:
    """One row per filled code slot: _row, claim_type, age, sex, `extra`, column, code (grouped by slot).

    Concatenating one filtered select per slot is about 3× faster than `unpivot` on string columns.
    """
    parts = [
        frame.lazy()
        .filter(pl.col(c).is_not_null())
        .select(*LONG_INDEX, *extra, pl.lit(c).alias("column"), pl.col(c).alias("code"))
        for c in columns
    ]
    return pl.concat(parts).collect()


"""Small helpers that turn frames and figures into Dagster UI metadata."""

import dagster as dg
import polars as pl


def preview(df: pl.DataFrame, rows: int = 10, max_columns: int = 14) -> dg.MarkdownMetadataValue:
    """A Markdown table of the first rows, trimmed to fit the asset page."""
    head = df.head(rows).select(df.columns[:max_columns])
    header = "| " + " | ".join(head.columns) + " |"
    rule = "|" + "---|" * len(head.columns)
    body = ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in head.iter_rows()]
    return dg.MetadataValue.md("\n".join([header, rule, *body]))


def counts(series: pl.Series, top: int = 15) -> dg.MarkdownMetadataValue:
    """Markdown value counts of a column, largest first."""
    table = series.value_counts(sort=True).head(top)
    lines = ["| value | count |", "|---|---|"]
    lines += [f"| {value} | {count} |" for value, count in table.iter_rows()]
    return dg.MetadataValue.md("\n".join(lines))


def table_metadata(df: pl.DataFrame, **extra) -> dict:
    return {"dagster/row_count": df.height, "preview": preview(df), **extra}

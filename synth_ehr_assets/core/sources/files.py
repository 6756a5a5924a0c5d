"""`file` source: a CSV or Parquet table in the canonical schema, or mapped onto it with `source.column_map`.

Every value is read as text first (Parquet columns are cast to text) so one bad value quarantines one row
instead of failing the file. Problems that make the whole file unusable raise `SourceError`: the spec points
at a missing file, the file is empty or unreadable, a required column is absent, or `column_map` names a
canonical column that does not exist or a file column that is not there. Columns the schema does not know are
ignored and listed in `stats["ignored_columns"]`; a `release_id` column in the file is replaced by the release's.
Quarantine rows count data rows from 1 (the first row under the header), as a spreadsheet user sees them.
`source.date_format` (or a `{column, format}` entry in `column_map`) names the date format; `source.line_level`
aggregates claim lines (CMS-style layouts: one row per billed line) into claims before validation.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from synth_ehr_assets.core import schema
from synth_ehr_assets.core.sources import code_checks
from synth_ehr_assets.core.sources.result import Progress, SourceError, SourceResult, fingerprint_files, report
from synth_ehr_assets.core.sources.validation import MONEY_COLUMNS, REQUIRED_COLUMNS, _money, validate
from synth_ehr_assets.core.spec import FileSource, ReleaseSpec

PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".csv.gz", ".txt")


def load_file_source(spec: ReleaseSpec, progress: Progress | None = None) -> SourceResult:
    source: FileSource = spec.source
    path = spec.resolve_path(source.path)
    if not path.is_file():
        raise SourceError(
            f"source file {path} does not exist (release spec field 'source.path' is {source.path!r}; "
            "relative paths resolve against the spec file's folder)"
        )
    raw = read_as_text(path, source.format)
    report(progress, 0, raw.height)
    frame = apply_column_map(raw, source.file_columns(), path)
    if source.line_level:
        frame = aggregate_lines(frame)
    claims, quarantine, stats = validate(
        frame, release_id=spec.release_id, source=path.name, date_formats=source.date_formats()
    )
    report(progress, raw.height, raw.height)
    if source.line_level:
        stats.update(lines_in=raw.height, claims_in=frame.height)
    ignored = sorted(set(raw.columns) - set(source.file_columns().values()) - set(schema.CLAIM_COLUMNS))
    stats.update(
        path=str(path),
        format=_format(path, source.format),
        ignored_columns=", ".join(ignored) or "none",
        quarantine_share=stats["rows_rejected"] / stats["rows_in"],
    )
    descriptions = code_checks.procedure_descriptions(claims)
    return SourceResult(claims, quarantine, fingerprint_files([path]), descriptions, stats)


def _format(path: Path, declared: str) -> str:
    if declared != "auto":
        return declared
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    raise SourceError(
        f"cannot tell the format of {path} from its name: use .csv or .parquet, or set 'source.format' in the spec"
    )


def read_as_text(path: Path, declared: str = "auto") -> pl.DataFrame:
    """The file as an all-String frame; raises SourceError when it cannot be read or has no data rows."""
    fmt = _format(path, declared)
    try:
        if fmt == "parquet":
            frame = pl.read_parquet(path)
            frame = frame.with_columns(pl.all().cast(pl.String))
        else:
            frame = pl.read_csv(path, infer_schema=False)
    except pl.exceptions.NoDataError:
        raise SourceError(f"file {path} has no rows (it is empty)") from None
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as error:
        raise SourceError(f"file {path} cannot be read as {fmt}: {str(error).splitlines()[0]}") from None
    if frame.height == 0:
        raise SourceError(f"file {path} has no rows (only a header with columns {', '.join(frame.columns)})")
    return frame


def apply_column_map(raw: pl.DataFrame, column_map: dict[str, str], path: Path) -> pl.DataFrame:
    """Canonical-named String frame with `_row` and `_raw`; raises SourceError for unusable maps or columns."""
    unknown = sorted(set(column_map) - set(schema.CLAIM_COLUMNS))
    if unknown:
        raise SourceError(
            f"release spec field 'source.column_map' names {', '.join(unknown)}, which are not canonical columns "
            f"(the keys are canonical names: {', '.join(schema.CLAIM_COLUMNS)})"
        )
    missing_mapped = sorted(f"{k} -> {v}" for k, v in column_map.items() if v not in raw.columns)
    if missing_mapped:
        raise SourceError(
            f"file {path}: 'source.column_map' entries {', '.join(missing_mapped)} name columns the file does not "
            f"have (file columns: {', '.join(raw.columns)})"
        )
    names = {c: c for c in raw.columns if c in schema.CLAIM_COLUMNS and c not in column_map}
    names.update({canonical: column for canonical, column in column_map.items()})
    absent = [c for c in REQUIRED_COLUMNS if c not in names]
    if absent:
        raise SourceError(
            f"file {path} is missing required column(s) {', '.join(absent)} "
            f"(file columns: {', '.join(raw.columns)}); rename them or map them with 'source.column_map'"
        )
    canonical = [c for c in schema.CLAIM_COLUMNS if c != "release_id"]
    return raw.select(
        *[pl.col(names[c]).alias(c) if c in names else pl.lit(None, dtype=pl.String).alias(c) for c in canonical],
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("_row"),
        pl.struct(pl.all()).struct.json_encode().alias("_raw"),
    )


def aggregate_lines(frame: pl.DataFrame) -> pl.DataFrame:
    """Claim lines (canonical String frame, one row per line) -> one row per claim_id, in first-line order.

    Claim-level values come from the first line; diagnoses and procedures are the distinct codes of all lines in
    line order (dx_1 stays the first line's principal); amounts are summed over lines, unless a line's amount
    is not a number, which then stands for the claim so that validation names it. `_row`/`_raw` point at the
    claim's first line. Rows without a claim_id stay as they are (validation rejects them).
    """
    dx, px = schema.DX_COLUMNS, schema.PX_COLUMNS
    coded, money = set(dx + px + list(MONEY_COLUMNS)), list(MONEY_COLUMNS)
    firsts = [c for c in frame.columns if c not in coded and c != "claim_id"]
    stripped = frame.with_columns(pl.col(money).str.strip_chars().replace("", None))
    keyed = stripped.filter(pl.col("claim_id").is_not_null())

    def codes(columns: list[str]) -> pl.Expr:  # dotted and dotless spellings of one code count once
        folded = [pl.col(c).str.strip_chars().str.replace_all(".", "", literal=True).str.to_uppercase() for c in columns]
        return pl.concat_list(folded).flatten().replace("", None).drop_nulls().unique(maintain_order=True)

    def amount(column: str) -> pl.Expr:
        value = _money(column)
        bad = pl.col(column).filter(pl.col(column).is_not_null() & value.is_null()).first()
        whole = pl.when(pl.col(column).is_null().any()).then(None).otherwise(value.sum().cast(pl.String))
        return pl.coalesce(bad, whole).alias(column)

    claims = keyed.group_by("claim_id", maintain_order=True).agg(
        *[pl.col(c).first() for c in firsts], codes(dx).alias("__dx"), codes(px).alias("__px"),
        *[amount(c) for c in money],
    )
    claims = claims.with_columns(
        *[pl.col("__dx").list.get(i, null_on_oob=True).alias(c) for i, c in enumerate(dx)],
        *[pl.col("__px").list.get(i, null_on_oob=True).alias(c) for i, c in enumerate(px)],
    ).drop("__dx", "__px")
    loose = stripped.filter(pl.col("claim_id").is_null())
    return pl.concat([claims.select(frame.columns), loose.select(frame.columns)]).sort("_row")

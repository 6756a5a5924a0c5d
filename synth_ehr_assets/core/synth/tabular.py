"""`synth-ehr synthesize`: fit the synthesizer on any CSV/Parquet table and write N synthetic rows.

Column kinds are inferred (numeric/date dtypes -> numerical; strings that mostly look like ICD-10-CM codes ->
icd10cm; anything else -> categorical) unless a meta JSON `{"columns": {name: {"sdtype": ...}}}` names them.
Accepted sdtypes: numerical, categorical, icd10cm, plus the SDV spellings datetime (-> numerical),
boolean (-> categorical) and id (not modelled: filled with newly minted unique ids). Columns the meta file does
not name are checked for identifier behaviour (`identifiers.py`: unique per row or per patient, phone numbers,
e-mails) and minted anew like `id` columns, with the reason in the report and the log. Tables below
`synthesizer.small_source_rows` must pass the small-source privacy check (`small_source.py`) before anything is
written.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import polars as pl

from synth_ehr_assets.core.synth.autoencoder import Progress
from synth_ehr_assets.core.synth.config import SynthesizerConfig
from synth_ehr_assets.core.synth.identifiers import identifier_reasons
from synth_ehr_assets.core.synth.small_source import check_small_source_privacy
from synth_ehr_assets.core.synth.synthesizer import TableSynthesizer
from synth_ehr_assets.core.synth.transformer import CodeVectors

logger = logging.getLogger(__name__)
ICD10CM_PATTERN = r"^[A-TV-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$"
ICD10CM_SHARE = 0.9  # share of non-null values that must look like codes
SDTYPES = {
    "numerical": "numerical",
    "categorical": "categorical",
    "icd10cm": "icd10cm",
    "datetime": "numerical",
    "boolean": "categorical",
    "id": "id",
}


def read_table(path: str | Path) -> pl.DataFrame:
    """Read a CSV (dates parsed) or Parquet file by extension."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"training table {path} does not exist")
    if path.suffix.lower() == ".parquet":
        return pl.read_parquet(path)
    if path.suffix.lower() in (".csv", ".txt"):
        return pl.read_csv(path, try_parse_dates=True, infer_schema_length=100_000)
    raise ValueError(f"{path}: expected a .csv or .parquet file")


def write_table(df: pl.DataFrame, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".parquet":
        df.write_parquet(path)
    elif path.suffix.lower() in (".csv", ".txt"):
        df.write_csv(path)
    else:
        raise ValueError(f"{path}: output must end in .csv or .parquet")
    return path


def read_meta(path: str | Path) -> dict[str, str]:
    """Column -> sdtype from a meta JSON file; unknown sdtypes and malformed entries fail naming the column."""
    path = Path(path)
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"meta file {path} is not valid JSON: {error}") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("columns"), dict):
        raise ValueError(f'meta file {path} must look like {{"columns": {{name: {{"sdtype": ...}}}}}}')
    sdtypes = {}
    for name, entry in meta["columns"].items():
        sdtype = entry.get("sdtype") if isinstance(entry, dict) else None
        if sdtype not in SDTYPES:
            raise ValueError(
                f"meta file {path}: column {name!r} has sdtype {sdtype!r}; expected one of {sorted(SDTYPES)}"
            )
        sdtypes[name] = sdtype
    return sdtypes


def looks_like_icd10cm(series: pl.Series) -> bool:
    """True when most non-null values of a string column match the ICD-10-CM code pattern and most distinct
    values are billable FY2026 codes."""
    values = series.drop_nulls().cast(pl.String).str.strip_chars().str.to_uppercase()
    if values.len() == 0 or values.str.contains(ICD10CM_PATTERN).mean() < ICD10CM_SHARE:
        return False
    from synth_ehr_assets.core.codes import billable_codes

    # The pattern alone also fits member ids such as M100000: most distinct values must be real billable codes.
    distinct = values.str.replace_all(".", "", literal=True).unique()
    return distinct.is_in(list(billable_codes())).mean() >= 0.5


def infer_column_kinds(df: pl.DataFrame, sdtypes: dict[str, str] | None = None) -> dict[str, str]:
    """Kind per column (numerical | categorical | icd10cm | id), meta sdtypes first, then by dtype and values."""
    sdtypes = sdtypes or {}
    absent = [name for name in sdtypes if name not in df.columns]
    if absent:
        raise ValueError(f"meta names column(s) {absent} that the table does not have (it has {df.columns})")
    kinds = {}
    for name in df.columns:
        dtype = df[name].dtype
        if name in sdtypes:
            kinds[name] = SDTYPES[sdtypes[name]]
        elif dtype.is_numeric() and dtype != pl.Boolean or dtype.is_temporal() and dtype != pl.Duration:
            kinds[name] = "numerical"
        elif dtype == pl.String and looks_like_icd10cm(df[name]):
            kinds[name] = "icd10cm"
        else:
            kinds[name] = "categorical"
    return kinds


def description_code_vectors() -> CodeVectors:
    """Code -> 384-d embedding of its ICD-10-CM description (the code itself when it has none)."""
    try:
        from synth_ehr_assets.core.codes import describe
        from synth_ehr_assets.core.embeddings import embed_texts
    except ImportError as error:
        raise ValueError(f"ICD code columns need the code catalog and embedding model ({error})") from None
    from synth_ehr_assets.core.schema import normalize_code

    def vectors(codes: list[str]) -> np.ndarray:
        return embed_texts([describe(normalize_code(code)) or code for code in codes])

    return vectors


def minted_ids(series: pl.Series, rows: int) -> pl.Series:
    """Fresh unique ids in the column's style (integers 1..N, else `syn-000001`)."""
    if series.dtype.is_integer():
        return pl.Series(series.name, np.arange(1, rows + 1)).cast(series.dtype)
    width = max(6, len(str(rows)))
    return pl.Series(series.name, [f"syn-{i:0{width}d}" for i in range(1, rows + 1)], dtype=pl.String)


def synthesize_table(
    train_path: str | Path,
    out_path: str | Path,
    rows: int,
    meta_path: str | Path | None = None,
    seed: int = 0,
    config: SynthesizerConfig | None = None,
    progress: Progress | None = None,
    code_vectors: CodeVectors | None = None,
) -> dict:
    """Fit on `train_path`, write `rows` synthetic rows (same columns, order and dtypes) to `out_path`; returns a
    JSON-ready report with column kinds, timings and the GAN's stopping reason."""
    if rows < 1:
        raise ValueError(f"--rows must be at least 1, got {rows}")
    table = read_table(train_path)
    if table.height < 2:
        raise ValueError(f"{train_path} has {table.height} row(s); at least 2 are needed")
    sdtypes = read_meta(meta_path) if meta_path else {}
    kinds = infer_column_kinds(table, sdtypes)
    candidates = [
        name for name, kind in kinds.items()
        if name not in sdtypes and (kind == "categorical" or kind == "numerical" and table[name].dtype.is_integer())
    ]
    identifiers = identifier_reasons(table, candidates)
    for name, reason in identifiers.items():
        logger.warning("column %r behaves like an identifier (%s): not modelled, minted anew", name, reason)
        kinds[name] = "id"
    config = config or SynthesizerConfig()
    modelled = {name: kind for name, kind in kinds.items() if kind != "id"}
    if not modelled:
        raise ValueError(f"{train_path}: no column left to model (all are ids)")
    if "icd10cm" in modelled.values() and code_vectors is None:
        code_vectors = description_code_vectors()
    synthesizer = TableSynthesizer(modelled, config, seed, code_vectors)
    started = time.perf_counter()
    fit = synthesizer.fit(table.select(list(modelled)), progress=progress)
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    synthetic = synthesizer.sample(rows, seed=seed)
    sample_seconds = time.perf_counter() - started
    small_source = check_small_source_privacy(table.select(list(modelled)), synthetic, modelled, config, seed)
    ids = {name: minted_ids(table[name], rows) for name, kind in kinds.items() if kind == "id"}
    output = pl.DataFrame([ids[name] if name in ids else synthetic[name] for name in table.columns])
    write_table(output, out_path)
    return {
        "train": str(train_path),
        "out": str(out_path),
        "rows": rows,
        "columns": kinds,
        "identifier_columns": identifiers,
        "small_source_privacy": small_source,
        "train_rows": fit.train_rows,
        "holdout_rows": fit.holdout_rows,
        "fit_seconds": round(fit_seconds, 3),
        "sample_seconds": round(sample_seconds, 3),
        "sample_rows_per_second": round(rows / max(sample_seconds, 1e-9), 1),
        "gan_stopped_reason": fit.gan["stopped_reason"],
        "gan_epochs_run": fit.gan["epochs_run"],
    }

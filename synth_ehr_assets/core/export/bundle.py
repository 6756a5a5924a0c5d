"""Release writer: `<out_root>/<release_id>/` with tables, FHIR bundles, data card and manifest, written atomically.

Everything is written into a staging folder beside the target and renamed into place at the end, so a failed
or killed release never leaves a half-written release folder; an older version is swapped out only once the
new one is complete. The same inputs give byte-identical tables (and so identical table sha256s).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from synth_ehr_assets.core.export.data_card import render_data_card
from synth_ehr_assets.core.export.fhir import write_fhir_ndjson
from synth_ehr_assets.core.export.patients import patients_problems, patients_table
from synth_ehr_assets.core.export.payer_files import write_payer_files
from synth_ehr_assets.core.spec import check_release_id

logger = logging.getLogger(__name__)

REQUIRED_MANIFEST_KEYS = (
    "spec", "seed", "source_fingerprint", "code_set_version", "embedding_model", "models", "metrics", "gates",
)
MANIFEST_NAME = "manifest.json"
DATA_CARD_NAME = "data_card.html"
FHIR_PATH = "fhir/bundles.ndjson"
PARALLEL_EXPORT_CLAIMS = 2000  # below this a second process costs more than it saves
CLAIMS_PARQUET, PATIENTS_FILES = "tables/claims.parquet", ("tables/patients.parquet", "tables/patients.csv")
_NESTED = (pl.List, pl.Array, pl.Struct)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def jsonable(value: Any) -> Any:
    """Plain JSON types for manifest values: NaN/inf become null, numpy scalars Python ones, dates ISO strings."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (str, int, bool)):
        return value
    raise TypeError(f"manifest value of type {type(value).__name__} cannot be written as JSON: {value!r}")


def _csv_ready(frame: pl.DataFrame) -> pl.DataFrame:
    """CSV cannot hold nested columns: write them as JSON text."""
    nested = [name for name, dtype in frame.schema.items() if isinstance(dtype, _NESTED)]
    if not nested:
        return frame
    return frame.with_columns(
        pl.Series(name, [json.dumps(jsonable(v), sort_keys=True) for v in frame[name].to_list()], dtype=pl.String)
        for name in nested
    )


def canonical_order(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows sorted by claim_id first, then every other sortable column: the same rows always give the same bytes,
    whatever order the warehouse returned them in."""
    sortable = [name for name, dtype in frame.schema.items() if not isinstance(dtype, _NESTED)]
    keys = (["claim_id"] if "claim_id" in sortable else []) + [c for c in sortable if c != "claim_id"]
    return frame.sort(keys, nulls_last=True, maintain_order=True) if keys else frame


def _write_tables(folder: Path, tables: dict[str, pl.DataFrame]) -> None:
    (folder / "tables").mkdir()
    for name, frame in tables.items():
        frame.write_parquet(folder / "tables" / f"{name}.parquet", compression="zstd", statistics=False)
        _csv_ready(frame).write_csv(folder / "tables" / f"{name}.csv")


def _file_hashes(folder: Path) -> dict[str, dict]:
    return {
        path.relative_to(folder).as_posix(): {"sha256": sha256_file(path), "bytes": path.stat().st_size}
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@contextlib.contextmanager
def _payer_files_beside(folder: Path, claims: pl.DataFrame, release_id: str):
    """`write_payer_files` in a second Python process while the caller writes the FHIR bundles, when the release
    is large and there is a second core (on the demo's 5,000 claims the X12 and HL7 validation took 28 s and the
    FHIR validation 25 s, one after the other); inline otherwise. Yields a dict that holds the manifest entry under
    "entry" once the block is left (leaving waits for the process; its failure is raised with its error output)."""
    result: dict = {}
    if claims.height < PARALLEL_EXPORT_CLAIMS or (os.cpu_count() or 1) < 2:
        result["entry"] = write_payer_files(folder, claims, release_id)
        yield result
        return
    work = Path(tempfile.mkdtemp(prefix=f"{folder.name}.payer-", dir=folder.parent))  # cleared as a leftover
    try:
        claims.write_parquet(work / "claims.parquet")
        command = [sys.executable, "-m", "synth_ehr_assets.core.export.payer_files", str(folder),
                   str(work / "claims.parquet"), release_id, str(work / "entry.json")]
        process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
        try:
            yield result
        finally:
            _, errors = process.communicate()
        if process.returncode:
            raise RuntimeError(f"payer file export (X12, HL7) failed with exit code {process.returncode}: "
                               f"{errors.strip()[-2000:]}")
        result["entry"] = json.loads((work / "entry.json").read_text())
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _write_contents(
    folder: Path, release_id: str, tables: dict[str, pl.DataFrame], manifest: dict, images: dict
) -> dict:
    _write_tables(folder, tables)
    (folder / "fhir").mkdir()
    with _payer_files_beside(folder, canonical_order(tables["claims"]), release_id) as payer_exports:
        fhir_counts = write_fhir_ndjson(folder / FHIR_PATH, tables["claims"], tables.get("notes"), tables["patients"])
    complete = {
        **manifest,
        "release_id": release_id,
        "row_counts": {name: frame.height for name, frame in tables.items()},
        "columns": {**manifest.get("columns", {}), "patients": tables["patients"].columns},
        "fhir_resources": fhir_counts,
        "payer_exports": payer_exports["entry"],  # x12/, hl7/
    }
    (folder / DATA_CARD_NAME).write_text(render_data_card(jsonable(complete), images), encoding="utf-8")
    complete["files"] = _file_hashes(folder)
    text = json.dumps(jsonable(complete), indent=2, sort_keys=True, allow_nan=False)
    (folder / MANIFEST_NAME).write_text(text + "\n", encoding="utf-8")
    return complete


def _clear_leftovers(out_root: Path, release_id: str) -> None:
    """Remove staging/retired folders a killed earlier run of this release left behind."""
    for pattern in (f".{release_id}.staging-*", f".{release_id}.retired-*"):
        for leftover in out_root.glob(pattern):
            logger.warning("removing leftover %s from an interrupted release write", leftover)
            shutil.rmtree(leftover, ignore_errors=True)


def _swap_into_place(staging: Path, target: Path) -> None:
    if not target.exists():
        staging.rename(target)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.retired-", dir=target.parent))
    retired.rmdir()
    target.rename(retired)
    try:
        staging.rename(target)
    except BaseException:
        retired.rename(target)
        raise
    shutil.rmtree(retired, ignore_errors=True)


def write_release(
    out_root: Path, release_id: str, tables: dict[str, pl.DataFrame], manifest: dict, images: dict[str, bytes]
) -> Path:
    """Write the release folder `<out_root>/<release_id>/` and return its path.

    `tables` needs `claims` (canonical schema); the `patients` table (one row per patient, core/export/patients.py)
    is derived from it here; `notes` (claim_id, note) become FHIR DocumentReferences; every table is written as
    Parquet and CSV under `tables/`. `manifest` must carry REQUIRED_MANIFEST_KEYS;
    row counts, FHIR resource counts and the sha256 of every written file are added. `data_card.html` shows
    the manifest and the `images` (caption -> PNG bytes).
    """
    check_release_id(release_id)
    tables = {name: canonical_order(frame) for name, frame in tables.items()}
    if "claims" not in tables or "patients" in tables:
        raise ValueError(f"release {release_id}: tables must include 'claims' and not 'patients' (derived from the "
                         f"claims); got {sorted(tables)}")
    tables = {"claims": tables["claims"], "patients": patients_table(tables["claims"]),
              **{name: frame for name, frame in tables.items() if name != "claims"}}
    missing = [key for key in REQUIRED_MANIFEST_KEYS if key not in manifest]
    if missing:
        raise ValueError(f"release {release_id}: manifest lacks {missing}; expected {list(REQUIRED_MANIFEST_KEYS)}")
    out_root = Path(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    _clear_leftovers(out_root, release_id)
    started = time.perf_counter()
    staging = Path(tempfile.mkdtemp(prefix=f".{release_id}.staging-", dir=out_root))
    try:
        staging.chmod(0o755)
        complete = _write_contents(staging, release_id, tables, manifest, images)
        target = out_root / release_id
        _swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info(
        "release %s written to %s: %d files, rows %s in %.1fs",
        release_id, target, len(complete["files"]) + 1, complete["row_counts"], time.perf_counter() - started,
    )
    return target


def _patients_problems(folder: Path, listed: dict) -> list[str]:
    """The patients table (Parquet and CSV) against the claims table: the same patients, claim counts summing to the
    claims' rows, every column as the claims imply. Skipped for a release written before the table existed."""
    present = [name for name in (CLAIMS_PARQUET, *PATIENTS_FILES) if name in listed and (folder / name).is_file()]
    if CLAIMS_PARQUET not in present:
        return []
    problems, readable = [], {}
    for name in present:
        path = folder / name
        try:
            parquet = name.endswith(".parquet")
            readable[name] = pl.read_parquet(path) if parquet else pl.read_csv(path, infer_schema=False)
        except (pl.exceptions.PolarsError, OSError) as error:
            problems.append(f"{name}: unreadable ({type(error).__name__}), patients not checked against it")
    if CLAIMS_PARQUET not in readable:
        return problems
    claims = readable.pop(CLAIMS_PARQUET)
    return problems + [problem for name, patients in readable.items()
                       for problem in patients_problems(claims, patients, name)]


def verify_release(folder: Path) -> list[str]:
    """Files whose sha256 or size differs from the manifest, or that are missing or unlisted, and any disagreement
    of the patients table with the claims table (empty = intact)."""
    folder = Path(folder)
    manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    listed = manifest["files"]
    present = _file_hashes(folder)
    present.pop(MANIFEST_NAME, None)
    problems = [f"{name}: missing" for name in sorted(set(listed) - set(present))]
    problems += [f"{name}: not in manifest" for name in sorted(set(present) - set(listed))]
    problems += [
        f"{name}: sha256 {present[name]['sha256']} != manifest {listed[name]['sha256']}"
        for name in sorted(set(listed) & set(present))
        if present[name] != listed[name]
    ]
    return problems + _patients_problems(folder, listed)

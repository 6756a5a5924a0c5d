"""What every source returns, the error for unusable input, and input fingerprints."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from synth_ehr_assets.core.progress import Progress


class SourceError(ValueError):
    """A source that cannot be used at all (missing file, missing column, no rows); the message names the file,
    the column and the spec field where it helps. Bad rows are never raised: they go to quarantine."""


@dataclass
class SourceResult:
    """Validated claims (`schema.CLAIM_SCHEMA`), rejected rows (`schema.QUARANTINE_SCHEMA`) and provenance.

    `stats` holds at least `rows_in` (input rows or admissions), `rows_rejected` (input rows with no claim),
    `quarantine_share` (rows_rejected / rows_in) and `codes_dropped` (quarantine rows whose claim was kept
    without the offending secondary code).
    """

    claims: pl.DataFrame
    quarantine: pl.DataFrame
    fingerprint: str
    procedure_descriptions: dict[str, str] = field(default_factory=dict)
    stats: dict = field(default_factory=dict)


def fingerprint_files(paths: list[Path]) -> str:
    """sha256 over the bytes of the given files (names included, so a renamed table changes it)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def fingerprint_params(params: dict) -> str:
    """sha256 of a parameter mapping (for generated sources, whose output is a function of its parameters)."""
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()


def report(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)

"""The payer-facing exports of a release: X12 837P / 837I and HL7 v2 ADT / DFT files, with their validation.

A release exports its first `EXPORT_MAX_CLAIMS` claims (tables/ holds them all); pyx12 validates both X12 files
and hl7apy validates the first `HL7_VALIDATE_MESSAGES` messages of each HL7 file (hl7apy parses ~50 messages a
second). The manifest records what was exported and each validator's error count.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from synth_ehr_assets.core.export import hl7, x12

EXPORT_MAX_CLAIMS = 500  # hl7apy builds ~40 messages a second: 500 claims add ~15 s to a release
HL7_VALIDATE_MESSAGES = 50


def write_payer_files(folder: Path, claims: pl.DataFrame, release_id: str) -> dict:
    """Write `x12/` and `hl7/` under a release folder; returns the manifest's `payer_exports` entry."""
    sample = claims.head(EXPORT_MAX_CLAIMS)
    counts = x12.write_837(folder / "x12", sample, release_id) | hl7.write_hl7(folder / "hl7", sample)
    x12_errors = {name: x12.validate(folder / "x12" / f"{name}.x12") for name in ("837P", "837I")}
    hl7_errors = {}
    for name in ("adt", "dft"):
        with open(folder / "hl7" / f"{name}.hl7", encoding="utf-8", newline="") as handle:  # keep the CRs
            messages = [m for m in handle.read().split("\r\n") if m][:HL7_VALIDATE_MESSAGES]
        hl7_errors[name] = [e for m in messages for e in hl7.validate(m)]
    return {
        "claims_exported": sample.height, "claims_in_release": claims.height, **counts,
        "x12_validator": "pyx12", "x12_errors": {k: len(v) for k, v in x12_errors.items()},
        "hl7_validator": "hl7apy (strict)", "hl7_messages_validated": HL7_VALIDATE_MESSAGES,
        "hl7_errors": {k: len(v) for k, v in hl7_errors.items()},
        "first_errors": [e for v in (*x12_errors.values(), *hl7_errors.values()) for e in v][:5],
    }

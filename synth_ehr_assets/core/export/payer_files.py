"""The payer-facing exports of a release: X12 837P / 837I and HL7 v2 ADT / DFT files, with their validation.

Every claim of the release is exported (self-pay claims are not billed in X12), streamed slice by slice so memory
stays bounded. pyx12 validates both X12 files whole (~750 claims a second). hl7apy's strict validation takes
~9 ms a message (about 15 minutes for 100,000 claims), so it checks a deterministic sample of each HL7 file:
`HL7_VALIDATE_MESSAGES` messages evenly spaced from the first to the last; the messages come from one writer whose
output a test holds equal to hl7apy's own. The manifest records what was exported and each validator's error count.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl

from synth_ehr_assets.core.export import hl7, x12

HL7_VALIDATE_MESSAGES = 300


def hl7_messages(path: Path) -> Iterator[str]:
    """The ER7 messages of an HL7 file written by `hl7.write_hl7` (CRLF between messages), read in blocks."""
    rest = ""
    with open(path, encoding="utf-8", newline="") as handle:  # keep the CRs inside messages
        while block := handle.read(1 << 20):
            *done, rest = (rest + block).split("\r\n")
            yield from (m for m in done if m)
    if rest:
        yield rest


def sample_positions(total: int, wanted: int) -> list[int]:
    """`wanted` message positions evenly spread over `total`, the first and the last included."""
    if total <= wanted:
        return list(range(total))
    return sorted({round(i * (total - 1) / (wanted - 1)) for i in range(wanted)})


def write_payer_files(folder: Path, claims: pl.DataFrame, release_id: str) -> dict:
    """Write `x12/` and `hl7/` under a release folder; returns the manifest's `payer_exports` entry."""
    counts = x12.write_837(folder / "x12", claims, release_id) | hl7.write_hl7(folder / "hl7", claims)
    x12_errors = {name: x12.validate(folder / "x12" / f"{name}.x12") for name in ("837P", "837I")}
    hl7_errors, validated = {}, {}
    for name in ("adt", "dft"):
        keep = set(sample_positions(counts[f"{name}_messages"], HL7_VALIDATE_MESSAGES))
        picked = [m for i, m in enumerate(hl7_messages(folder / "hl7" / f"{name}.hl7")) if i in keep]
        hl7_errors[name] = [e for m in picked for e in hl7.validate(m)]
        validated[name] = len(picked)
    return {
        "claims_exported": claims.height, "claims_in_release": claims.height, **counts,
        "x12_validator": "pyx12 (every claim)", "x12_errors": {k: len(v) for k, v in x12_errors.items()},
        "hl7_validator": "hl7apy (strict, evenly spaced sample)", "hl7_messages_validated": validated,
        "hl7_errors": {k: len(v) for k, v in hl7_errors.items()},
        "first_errors": [e for v in (*x12_errors.values(), *hl7_errors.values()) for e in v][:5],
    }


def main(argv: list[str]) -> None:
    """`python -m synth_ehr_assets.core.export.payer_files FOLDER CLAIMS.parquet RELEASE_ID ENTRY.json`: the
    release writer runs the export in a second process beside the FHIR bundles (`bundle._payer_files_beside`)."""
    import json
    import sys

    if len(argv) != 4:
        sys.exit("usage: python -m synth_ehr_assets.core.export.payer_files FOLDER CLAIMS.parquet RELEASE_ID ENTRY.json")
    folder, claims, release_id, entry = argv
    Path(entry).write_text(json.dumps(write_payer_files(Path(folder), pl.read_parquet(claims), release_id)))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])

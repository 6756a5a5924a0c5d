"""Canonical claim schema (DESIGN §4): one row per claim, shared by every source and the synthesizer."""

from __future__ import annotations

import re

import polars as pl

DX_SLOTS = 10
PX_SLOTS = 6
DX_COLUMNS = [f"dx_{i}" for i in range(1, DX_SLOTS + 1)]
PX_COLUMNS = [f"px_{i}" for i in range(1, PX_SLOTS + 1)]

CLAIM_TYPES = ("professional", "outpatient", "inpatient")
SEXES = ("F", "M")
PAYERS = ("medicare", "medicaid", "commercial", "self_pay")
REGIONS = (
    "new_england",
    "middle_atlantic",
    "east_north_central",
    "west_north_central",
    "south_atlantic",
    "east_south_central",
    "west_south_central",
    "mountain",
    "pacific",
)

CLAIM_SCHEMA: dict[str, pl.DataType] = {
    "release_id": pl.String(),
    "claim_id": pl.String(),
    "patient_id": pl.String(),
    "claim_type": pl.String(),
    "service_date": pl.Date(),
    "los_days": pl.Int32(),
    "age": pl.Int32(),
    "sex": pl.String(),
    "region": pl.String(),
    "payer": pl.String(),
    **{c: pl.String() for c in DX_COLUMNS},
    **{c: pl.String() for c in PX_COLUMNS},
    "drg": pl.String(),
    "charge_amount": pl.Float64(),
    "allowed_amount": pl.Float64(),
    "paid_amount": pl.Float64(),
    "provider_specialty": pl.String(),
}
CLAIM_COLUMNS = list(CLAIM_SCHEMA)
NUMERIC_COLUMNS = ["los_days", "age", "charge_amount", "allowed_amount", "paid_amount"]
CATEGORICAL_COLUMNS = ["claim_type", "sex", "region", "payer", "provider_specialty"]
QUASI_IDENTIFIERS = ["age", "sex", "region", "service_date"]

QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "release_id": pl.String(),
    "source": pl.String(),
    "source_row": pl.Int64(),
    "claim_id": pl.String(),
    "rule": pl.String(),
    "column": pl.String(),
    "detail": pl.String(),
    "raw": pl.String(),
}

# Codes are stored upper-case without the dot (CMS flat-file style): "E11.9" -> "E119".
_DOT = re.compile(r"\.")


def normalize_code(code: str | None) -> str | None:
    """Return a code upper-cased with dots and whitespace removed, or None for blanks."""
    if code is None:
        return None
    cleaned = _DOT.sub("", str(code)).strip().upper()
    return cleaned or None


def empty_claims() -> pl.DataFrame:
    return pl.DataFrame(schema=CLAIM_SCHEMA)


def empty_quarantine() -> pl.DataFrame:
    return pl.DataFrame(schema=QUARANTINE_SCHEMA)


def conform(df: pl.DataFrame) -> pl.DataFrame:
    """Select the canonical columns in canonical order with canonical dtypes (missing optional slots become null)."""
    exprs = []
    for name, dtype in CLAIM_SCHEMA.items():
        if name in df.columns:
            exprs.append(pl.col(name).cast(dtype))
        else:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
    return df.select(exprs)

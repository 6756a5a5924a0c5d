"""Columns that behave like identifiers: never modelled, never copied into synthetic output.

A column is identifier-like when its values are unique or nearly unique per row (member ids, claim numbers),
when it names one value per patient (1:1 with another high-cardinality column, e.g. a member id next to a
patient id), or when its values look like contact details (phone numbers, e-mail addresses, SSNs). Modelling such
a column as a category copies real values into the output; the synthesizer mints new ones instead.
"""

from __future__ import annotations

import re

import polars as pl

ROW_UNIQUE_SHARE = 0.5  # distinct / non-null values at or above this: an id per row (or per patient of ≤ 2 rows)
PER_PATIENT_MIN_DISTINCT = 20
PER_PATIENT_SHARE = 0.05
PATTERN_SHARE = 0.5
PATTERNS = {
    "email": r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$",
    "phone": r"^\+?1?[\s.-]?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}$",
    "ssn": r"^\d{3}-\d{2}-\d{4}$",
}
ID_NAME = re.compile(r"(^|_)(id|ids|mrn|ssn|member|subscriber|patient|person|account|phone|email|npi)(_|$)", re.I)


def _distinct_share(series: pl.Series) -> tuple[int, float]:
    values = series.drop_nulls()
    distinct = values.n_unique() if values.len() else 0
    return distinct, distinct / max(values.len(), 1)


def identifier_reasons(df: pl.DataFrame, candidates: list[str]) -> dict[str, str]:
    """Column -> why it is identifier-like, for the `candidates` (columns that would otherwise be modelled)."""
    reasons: dict[str, str] = {}
    for name in candidates:
        series = df[name]
        text = series.cast(pl.String, strict=False).drop_nulls().str.strip_chars()
        if series.dtype == pl.String and text.len():
            for kind, pattern in PATTERNS.items():
                share = float(text.str.contains(pattern).mean())
                if share >= PATTERN_SHARE:
                    reasons[name] = f"{share:.0%} of values look like {kind} values"
                    break
        if name in reasons:
            continue
        distinct, share = _distinct_share(series)
        is_text = series.dtype in (pl.String, pl.Categorical)
        if (is_text or ID_NAME.search(name) and series.dtype.is_integer()) and share >= ROW_UNIQUE_SHARE and distinct > 1:
            reasons[name] = f"{distinct:,} distinct values in {series.drop_nulls().len():,} rows (unique per row)"
    wide = [
        name for name in candidates
        if name not in reasons and df[name].dtype in (pl.String, pl.Categorical)
        and _distinct_share(df[name])[0] >= PER_PATIENT_MIN_DISTINCT
        and _distinct_share(df[name])[1] >= PER_PATIENT_SHARE
    ]
    keys = [name for name in df.columns if name in reasons or name in wide]
    for name in wide:
        partner = next((other for other in keys if other != name and _one_to_one(df, name, other)), None)
        if partner is not None:
            reasons[name] = f"one value per {partner!r} ({df[name].n_unique():,} values; an id per patient)"
        elif ID_NAME.search(name):
            reasons[name] = f"named like an identifier, with {df[name].n_unique():,} distinct values"
    return reasons


def _one_to_one(df: pl.DataFrame, a: str, b: str) -> bool:
    pairs = df.select(a, b).drop_nulls()
    return pairs.height > 0 and pairs.n_unique() == pairs[a].n_unique() == pairs[b].n_unique()

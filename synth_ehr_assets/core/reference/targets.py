"""The target prevalence table as a frame, and the prevalence a claims table actually shows, for comparison."""

from __future__ import annotations

import polars as pl

from synth_ehr_assets.core import schema
from synth_ehr_assets.core.reference.conditions import (
    AGE_BAND_LABELS, AGE_BANDS, COMBINATION_CODES, CONDITION_TARGETS, RARE,
)


def condition_codes(key: str) -> list[str]:
    """Every code that marks a patient as having the condition (its variants and combination codes)."""
    cond = next(c for c in CONDITION_TARGETS if c.key == key)
    return [code for code, _ in cond.codes] + [code for _, code in COMBINATION_CODES.get(key, ())]


def condition_targets_table() -> pl.DataFrame:
    """One row per (condition, age band): codes, sex restriction, rare flag, target share of patients, source."""
    rows = [
        {
            "condition": c.key, "name": c.name, "codes": ", ".join(condition_codes(c.key)), "sex": c.sex or "any",
            "rare": rare, "age_band": label, "target": c.prevalence[b], "source": c.source,
        }
        for c, rare in zip(CONDITION_TARGETS, RARE)
        for b, label in enumerate(AGE_BAND_LABELS)
    ]
    return pl.DataFrame(rows)


def patient_bands(claims: pl.DataFrame) -> pl.DataFrame:
    """patient_id, sex and age band (0..3) by the patient's youngest claim age.

    Ages grow during the two-year window, so a patient whose youngest claim age is in the first two years of a
    band may have been drawn in the band below; such patients get no band (they are left out).
    """
    first = claims.group_by("patient_id").agg(pl.col("age").min(), pl.col("sex").first())
    band = pl.lit(None, dtype=pl.Int32)
    for b, (low, high) in enumerate(AGE_BANDS):
        band = pl.when(pl.col("age").is_between(low + (2 if low else 0), high)).then(pl.lit(b)).otherwise(band)
    return first.with_columns(band=band).drop_nulls("band").select("patient_id", "sex", "band")


def measured_prevalence(claims: pl.DataFrame) -> pl.DataFrame:
    """condition, age_band, patients, share (with the code on any claim) and target, for every condition."""
    bands = patient_bands(claims)
    coded = (
        claims.unpivot(index="patient_id", on=schema.DX_COLUMNS, value_name="code")
        .drop_nulls("code").select("patient_id", "code").unique()
    )
    parts = []
    for cond in CONDITION_TARGETS:
        carriers = coded.filter(pl.col("code").is_in(condition_codes(cond.key))).select("patient_id").unique()
        table = bands.join(carriers.with_columns(has=pl.lit(True)), on="patient_id", how="left")
        if cond.sex:
            table = table.filter(pl.col("sex") == cond.sex)
        parts.append(
            table.group_by("band").agg(pl.len().alias("patients"), pl.col("has").is_not_null().mean().alias("share"))
            .with_columns(condition=pl.lit(cond.key))
        )
    targets = pl.DataFrame({
        "condition": [c.key for c in CONDITION_TARGETS for _ in AGE_BANDS],
        "band": [b for _ in CONDITION_TARGETS for b in range(len(AGE_BANDS))],
        "target": [p for c in CONDITION_TARGETS for p in c.prevalence],
    }, schema_overrides={"band": pl.Int32})
    labels = dict(enumerate(AGE_BAND_LABELS))
    return (
        pl.concat(parts).join(targets, on=["condition", "band"])
        .with_columns(age_band=pl.col("band").replace_strict(labels, return_dtype=pl.String))
        .sort("condition", "band")
        .select("condition", "age_band", "band", "patients", "share", "target")
    )

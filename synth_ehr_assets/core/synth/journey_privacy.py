"""Patient-level copy detection for journey releases (issue 15, item 4).

A synthetic patient copies a source patient when `MIN_COPIED_CLAIMS` (3) consecutive claims of the synthetic
patient carry the principal diagnoses (dx_1, the full code) of `MIN_COPIED_CLAIMS` consecutive claims of one
source patient, in the same order, each on a service date within `DATE_TOLERANCE_DAYS` of the source claim's.
A longer copied stretch contains such a run, so runs of three find it. Both sides are compared as the caller
passes them (a release generalised to months is compared with the source generalised the same way).

The comparison joins runs on their three principal codes and a coarse date bucket (a synthetic run is looked up
in the buckets its tolerance reaches), so it stays linear in the two tables rather than quadratic.
"""

from __future__ import annotations

import polars as pl

MIN_COPIED_CLAIMS = 3
DATE_TOLERANCE_DAYS = 3


def _runs(claims: pl.DataFrame, length: int) -> pl.DataFrame:
    """Each run of `length` consecutive claims of a patient: `patient_id`, `dx0..`, `day0..` (days since epoch)."""
    ordered = (claims.select(pl.col("patient_id").cast(pl.String), dx=pl.col("dx_1").cast(pl.String),
                             day=pl.col("service_date").cast(pl.Date).cast(pl.Int32))
               .with_columns(pl.int_range(pl.len()).alias("_tie")).sort("patient_id", "day", "_tie"))
    shifted = ordered.with_columns(
        *[pl.col("dx").shift(-k).over("patient_id").alias(f"dx{k}") for k in range(length)],
        *[pl.col("day").shift(-k).over("patient_id").alias(f"day{k}") for k in range(length)],
    )
    return shifted.drop_nulls(f"day{length - 1}").select(
        "patient_id", *[f"dx{k}" for k in range(length)], *[f"day{k}" for k in range(length)])


def sequence_copies(synthetic: pl.DataFrame, source: pl.DataFrame, min_claims: int = MIN_COPIED_CLAIMS,
                    tolerance_days: int = DATE_TOLERANCE_DAYS) -> pl.DataFrame:
    """(`patient_id`, `source_patient_id`) for each synthetic patient with a run of `min_claims` consecutive claims
    whose principal diagnoses and dates (± `tolerance_days`) copy a run of one source patient's claims."""
    empty = pl.DataFrame(schema={"patient_id": pl.String, "source_patient_id": pl.String})
    if synthetic.height < min_claims or source.height < min_claims:
        return empty
    width = 2 * tolerance_days + 1  # a date bucket: a synthetic run reaches at most two of them
    mine = _runs(synthetic, min_claims)
    theirs = _runs(source, min_claims).with_columns(bucket=pl.col("day0") // width).rename(
        {"patient_id": "source_patient_id", **{f"day{k}": f"source_day{k}" for k in range(min_claims)}})
    reach = mine.with_columns(bucket=pl.int_ranges((pl.col("day0") - tolerance_days) // width,
                                                   (pl.col("day0") + tolerance_days) // width + 1)).explode("bucket")
    keys = [f"dx{k}" for k in range(min_claims)] + ["bucket"]
    joined = reach.join(theirs, on=keys)
    close = pl.all_horizontal([(pl.col(f"day{k}") - pl.col(f"source_day{k}")).abs() <= tolerance_days
                               for k in range(min_claims)])
    found = joined.filter(close).select("patient_id", "source_patient_id").unique().sort("patient_id", "source_patient_id")
    return found if found.height else empty

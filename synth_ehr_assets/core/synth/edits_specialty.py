"""`specialty_unsupported`: a principal diagnosis category or a procedure billed by a specialty that training never
saw billing it, for categories and procedures that training ties to a few specialties.

A key (a dx_1 category, or a procedure code in any slot) is specialty-bound when at least
`MIN_SPECIALTY_EVIDENCE` training claims carry it and at most `MAX_SPECIALTIES` specialties bill them; a claim with
that key must then come from one of those specialties. The bound keeps keys every specialty bills (office E/M
visits, a blood count) out: on the demo's split no real holdout claim is flagged, while the released claims showed
a delivery (O80) billed by oncology, a colonoscopy (45380) by radiology, a preventive visit (99396) by emergency
medicine and an emergency visit (99284) by a hospitalist (3.7% of claims on the principal, 2.0% on a procedure).
Sources without `provider_specialty` get no table and no check.
"""

from __future__ import annotations

import polars as pl

from synth_ehr_assets.core import schema
from synth_ehr_assets.core.synth.edits_base import ROW, empty, violations

MIN_SPECIALTY_EVIDENCE, MAX_SPECIALTIES = 30, 4
SPECIALTY_SCHEMA = {"kind": pl.String, "key": pl.String, "specialty": pl.String}


def _keys(claims: pl.LazyFrame, claim: pl.Expr) -> pl.LazyFrame:
    """(claim, kind, key, specialty): the principal category and every procedure of each claim."""
    specialty = pl.col("provider_specialty").cast(pl.String).alias("specialty")
    principal = claims.select(claim, pl.lit("principal").alias("kind"), pl.col("dx_1").cast(pl.String).str.slice(0, 3)
                              .alias("key"), specialty)
    procedures = [claims.select(claim, pl.lit("procedure").alias("kind"), pl.col(c).cast(pl.String).alias("key"),
                                specialty) for c in schema.PX_COLUMNS]
    return pl.concat([principal, *procedures]).drop_nulls()


def specialty_support(train: pl.DataFrame) -> pl.DataFrame | None:
    """(kind, key, specialty) for the specialty-bound keys of `train`; None without `provider_specialty`."""
    if "provider_specialty" not in train.columns or train["provider_specialty"].null_count() == train.height:
        return None
    billed = _keys(train.lazy(), pl.int_range(pl.len()).alias("claim"))
    bound = billed.group_by("kind", "key").agg(n=pl.col("claim").n_unique(), k=pl.col("specialty").n_unique()).filter(
        (pl.col("n") >= MIN_SPECIALTY_EVIDENCE) & (pl.col("k") <= MAX_SPECIALTIES)).select("kind", "key")
    table = billed.select("kind", "key", "specialty").unique().join(bound, on=["kind", "key"], how="semi")
    return table.collect().sort("kind", "key", "specialty")


def specialty_violations(frame: pl.DataFrame, table: pl.DataFrame | None) -> pl.DataFrame:
    """One violation per principal or procedure whose specialty training never saw billing that bound key."""
    if table is None or "provider_specialty" not in frame.columns:
        return empty()
    billed = _keys(frame.lazy(), pl.col(ROW)).collect()
    unseen = billed.join(table.select("kind", "key").unique(), on=["kind", "key"], how="semi").join(
        table, on=["kind", "key", "specialty"], how="anti")
    allowed = table.group_by("kind", "key").agg(pl.col("specialty").sort().str.join(", ").alias("allowed"))
    unseen = unseen.join(allowed, on=["kind", "key"]).unique([ROW, "kind", "key"], maintain_order=True)
    detail = pl.format("{} {} billed by {}: training bills it only by {}", "kind", "key", "specialty", "allowed")
    return violations(unseen, "specialty_unsupported", detail, pl.lit("provider_specialty"))

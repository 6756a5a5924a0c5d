"""Chronic conditions on claims, for the journey model (`journey_model`): which chronic CMS-HCC conditions each
row carries (`evaluation.journeys`' mapping), how often training patients' later claims carry one coded before, and
how often each diagnosis code of a claim is coded again on the patient's next claim."""

from __future__ import annotations

import polars as pl


def row_conditions(rows: pl.DataFrame) -> tuple[list[frozenset], list[frozenset]]:
    """Per row: its diagnosis codes, and its chronic CMS-HCC conditions (`evaluation.journeys`' mapping)."""
    from synth_ehr_assets.core.evaluation.journeys import chronic_condition_map

    condition = dict(chronic_condition_map().iter_rows())
    columns = [c for c in rows.columns if c.startswith("dx_")]
    codes = [frozenset(c for c in row if c) for row in rows.select(pl.col(columns).cast(pl.String)).iter_rows()]
    return codes, [frozenset(condition[c] for c in row if c in condition) for row in codes]


def carry_share(train: pl.DataFrame) -> float:
    """Of the training claims after a patient's first chronic condition, the share carrying one coded before."""
    from synth_ehr_assets.core.evaluation.journeys import chronic_condition_map

    columns = [c for c in train.columns if c.startswith("dx_")]
    dx = (train.select("patient_id", "service_date", *columns).with_columns(pl.int_range(pl.len()).alias("_tie"))
          .sort("patient_id", "service_date", "_tie").with_columns(visit=pl.int_range(pl.len()).over("patient_id"))
          .unpivot(index=["patient_id", "visit"], on=columns, value_name="code").drop_nulls("code")
          .join(chronic_condition_map(), on="code").select("patient_id", "visit", "condition").unique())
    onset = dx.group_by("patient_id").agg(onset=pl.col("visit").min())
    visits = train.group_by("patient_id").agg(visits=pl.len()).join(onset, on="patient_id")
    later = visits.select("patient_id", visit=pl.int_ranges(pl.col("onset") + 1, pl.col("visits"))).explode("visit") \
        .drop_nulls("visit")
    if not later.height:
        return 0.0
    first = dx.join(dx.rename({"visit": "v2"}), on=["patient_id", "condition"]).filter(pl.col("v2") < pl.col("visit"))
    carried = first.select("patient_id", "visit").unique().with_columns(carried=pl.lit(True))
    share = later.join(carried, on=["patient_id", "visit"], how="left")["carried"].fill_null(False).mean()
    return float(share)



def code_recurrence(train: pl.DataFrame, min_support: int = 5) -> dict[str, float]:
    """Per diagnosis code on at least `min_support` training claims followed by another claim of the patient: the
    share of those on which the next claim codes it again (hypertension or hyperlipidaemia as secondary codes recur
    visit after visit, a sprain seldom)."""
    columns = [c for c in train.columns if c.startswith("dx_")]
    visits = (train.select("patient_id", "service_date", *columns).with_columns(pl.int_range(pl.len()).alias("_tie"))
              .sort("patient_id", "service_date", "_tie")
              .with_columns(visit=pl.int_range(pl.len()).over("patient_id"), visits=pl.len().over("patient_id")))
    dx = (visits.filter(pl.col("visit") < pl.col("visits") - 1)
          .unpivot(index=["patient_id", "visit"], on=columns, value_name="code").drop_nulls("code")
          .select("patient_id", "visit", pl.col("code").cast(pl.String)).unique())
    again = dx.select("patient_id", pl.col("visit") + 1, "code")
    coded = (visits.unpivot(index=["patient_id", "visit"], on=columns, value_name="code").drop_nulls("code")
             .select("patient_id", "visit", pl.col("code").cast(pl.String)).unique().with_columns(again=pl.lit(True)))
    rates = (again.join(coded, on=["patient_id", "visit", "code"], how="left")
             .group_by("code").agg(n=pl.len(), rate=pl.col("again").fill_null(False).mean())
             .filter(pl.col("n") >= min_support))
    return {c: float(r) for c, _, r in rates.iter_rows()}

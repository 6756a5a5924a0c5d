"""Journey violations of a finished claims table (issue 15 item 2), found from the rows alone.

Written apart from the assembly's rules (`synth.journey_edits`) so that a release is graded by code that did not
build it. Each patient's claims are ordered by service date; a violation names the claim (`_row`, its position in
the table) and the rule:

- `sex_changes`: a patient with claims of more than one sex;
- `age_reverses`: a claim whose age is below an earlier claim's, or negative (a claim before birth);
- `newborn_late`: a newborn code (chapter P, Z38) on a claim at age 1 or more, or a Z38 birth code on a claim more
  than 28 days after the patient's first;
- `after_death`: a claim dated after a claim recording the death (R99, or MS-DRG 283–285 "expired");
- `diabetes_types`: type 1 (E10) and type 2 (E11) diabetes both on one patient (every claim of it carrying either);
- `ckd_reverses`: a CKD stage (N18.1–N18.6) more than one below the highest stage on an earlier claim;
- `delivery_spacing`: a delivery (O80, O82, Z37) 8 to 179 days after an earlier delivery;
- `prenatal_after_delivery`: a code whose ICD-10-CM title names a trimester (Z34, O09, chapter 15) under 42 days
  after a delivery (on the delivery claim itself only Z34 or a first trimester);
- `trimester_reverses`: a trimester below that of the patient's previous trimester claim, under 280 days before,
  with no delivery between;
- `delivery_after_trimester`: a delivery more than a trimester's latest end after the patient's last trimester
  claim before it (third: 98 + 31 days, second: 196 + 31, first: 294 + 31; 31 for released dates) and too soon
  for a new pregnancy to reach a delivery (6 weeks to ovulation and 20 weeks of gestation: 182 days more), with no
  delivery between.
"""

from __future__ import annotations

import polars as pl

from synth_ehr_assets.core.schema import DX_COLUMNS

RULES = ("sex_changes", "age_reverses", "newborn_late", "after_death", "diabetes_types", "ckd_reverses",
         "delivery_spacing", "prenatal_after_delivery", "trimester_reverses", "delivery_after_trimester")
TRIMESTER_END_DAYS = {1: 294 + 31, 2: 196 + 31, 3: 98 + 31}


def _trimesters() -> pl.DataFrame:
    """(code, trimester) for every code whose title ends in or names 'first/second/third trimester'."""
    from synth_ehr_assets.core.codes import icd10cm_catalog

    title = pl.col("description").str.to_lowercase()
    term = (pl.when(title.str.contains("third trimester")).then(3).when(title.str.contains("second trimester")).then(2)
            .when(title.str.contains("first trimester")).then(1))
    return icd10cm_catalog().select("code", trimester=term.cast(pl.Int64)).drop_nulls()


def _codes(ordered: pl.DataFrame) -> pl.DataFrame:
    columns = [c for c in DX_COLUMNS if c in ordered.columns]
    return ordered.unpivot(index=["_row", "patient_id", "day"], on=columns, value_name="code").drop_nulls("code")


def _flag(frame: pl.DataFrame, rule: str) -> pl.DataFrame:
    return frame.select("_row", "patient_id").unique().with_columns(rule=pl.lit(rule))


def _pairs(events: pl.DataFrame, condition: pl.Expr, rule: str) -> pl.DataFrame:
    """Rows of `events` (one per claim) paired with the same patient's earlier events where `condition` holds."""
    earlier = events.rename({c: f"{c}_before" for c in events.columns if c != "patient_id"})
    joined = events.join(earlier, on="patient_id").filter(pl.col("day_before") <= pl.col("day"),
                                                           pl.col("_row_before") != pl.col("_row"))
    return _flag(joined.filter(condition), rule)


def journey_violations(claims: pl.DataFrame) -> pl.DataFrame:
    """(`_row`, `patient_id`, `rule`) per violating claim of `claims` (patient_id, service_date, age, sex, dx_*,
    optionally drg); empty when every journey holds."""
    ordered = claims.with_row_index("_row").with_columns(day=pl.col("service_date").cast(pl.Int32))
    codes = _codes(ordered)
    category = pl.col("code").str.slice(0, 3)
    found = [_flag(ordered.filter(pl.col("sex").n_unique().over("patient_id") > 1), "sex_changes")]
    by_date = ordered.sort("patient_id", "day", "_row")
    found.append(_flag(by_date.filter((pl.col("age") < pl.col("age").cum_max().over("patient_id"))
                                      | (pl.col("age") < 0)), "age_reverses"))
    first_day = ordered.group_by("patient_id").agg(first=pl.col("day").min())
    newborn = codes.filter(category.str.starts_with("P") | (category == "Z38")).join(
        ordered.select("_row", "age"), on="_row").join(first_day, on="patient_id")
    found.append(_flag(newborn.filter((pl.col("age") >= 1) | ((category == "Z38")
                                                              & (pl.col("day") - pl.col("first") > 28))), "newborn_late"))
    death = codes.filter(category == "R99").select("patient_id", "day")
    if "drg" in ordered.columns:
        death = pl.concat([death, ordered.filter(pl.col("drg").cast(pl.String).is_in(["283", "284", "285"]))
                           .select("patient_id", "day")])
    died = death.group_by("patient_id").agg(death_day=pl.col("day").min())
    found.append(_flag(ordered.join(died, on="patient_id").filter(pl.col("day") > pl.col("death_day")), "after_death"))
    kinds = codes.filter(category.is_in(["E10", "E11"])).with_columns(kind=category)
    mixed = kinds.filter(pl.col("kind").n_unique().over("patient_id") > 1)
    found.append(_flag(mixed, "diabetes_types"))
    stage = pl.col("code").replace_strict({"N181": 1, "N182": 2, "N183": 3, "N1830": 3, "N1831": 3, "N1832": 3,
                                           "N184": 4, "N185": 5, "N186": 6}, default=0, return_dtype=pl.Int64)
    stages = codes.with_columns(stage=stage).filter(pl.col("stage") > 0).group_by("_row", "patient_id", "day").agg(
        pl.col("stage").max())
    found.append(_pairs(stages, pl.col("stage") < pl.col("stage_before") - 1, "ckd_reverses"))
    delivery = codes.filter(category.is_in(["O80", "O82", "Z37"])).select("_row", "patient_id", "day").unique()
    gap = pl.col("day") - pl.col("day_before")
    found.append(_pairs(delivery, (gap > 7) & (gap < 180), "delivery_spacing"))
    prenatal = (codes.join(_trimesters(), on="code").group_by("_row", "patient_id", "day")
                .agg(pl.col("trimester").max(), supervision=(category == "Z34").any()))
    after = prenatal.join(delivery.rename({"_row": "_row_before", "day": "day_before"}), on="patient_id")
    # on the delivery claim itself a second or third trimester code stands where its category has no "in
    # childbirth" code (guideline I.C.15.a.3, e.g. O36.5930); a first trimester or Z34 (normal pregnancy) never does
    own_claim = (pl.col("_row") == pl.col("_row_before")) & ~pl.col("supervision") & (pl.col("trimester") >= 2)
    found.append(_flag(after.filter((gap >= 0) & (gap < 42) & ~own_claim), "prenatal_after_delivery"))
    previous = prenatal.sort("patient_id", "day", "_row").with_columns(
        trimester_before=pl.col("trimester").shift().over("patient_id"), day_before=pl.col("day").shift().over("patient_id"))
    between = previous.join(delivery.select("patient_id", delivered=pl.col("day")), on="patient_id", how="left").filter(
        pl.col("delivered").is_not_null() & (pl.col("delivered") >= pl.col("day_before")) & (pl.col("delivered") <= pl.col("day")))
    reverses = previous.filter((pl.col("trimester") < pl.col("trimester_before")) & (gap < 280)).join(
        between.select("_row").unique(), on="_row", how="anti")
    found.append(_flag(reverses, "trimester_reverses"))
    found.append(_late_delivery(prenatal, delivery))
    schema = {"_row": pl.UInt32, "patient_id": pl.String, "rule": pl.String}
    return pl.concat([f.select(pl.col(c).cast(t) for c, t in schema.items()) for f in found]).unique().sort("_row", "rule")


def _late_delivery(prenatal: pl.DataFrame, delivery: pl.DataFrame) -> pl.DataFrame:
    """Deliveries whose patient's last trimester claim before them ended too long ago for that pregnancy and too
    recently for another."""
    last = prenatal.sort("day").select("patient_id", trimester_day=pl.col("day"), trimester=pl.col("trimester"))
    ordered = delivery.sort("day")
    paired = ordered.join_asof(last.sort("trimester_day"), left_on="day", right_on="trimester_day", by="patient_id",
                               strategy="backward", check_sortedness=False).drop_nulls("trimester_day")
    before = ordered.select("patient_id", delivered_before=pl.col("day"))
    between = paired.join(before, on="patient_id").filter(
        (pl.col("delivered_before") >= pl.col("trimester_day")) & (pl.col("delivered_before") < pl.col("day") - 7))
    gap, end = pl.col("day") - pl.col("trimester_day"), pl.col("trimester").replace_strict(TRIMESTER_END_DAYS)
    late = paired.filter((gap > end) & (gap < end + 182)).join(between.select("_row").unique(), on="_row", how="anti")
    return _flag(late, "delivery_after_trimester")


def violation_share(claims: pl.DataFrame) -> float:
    """Share of `claims`' patients with at least one journey violation (NaN without patients)."""
    patients = claims["patient_id"].n_unique() if claims.height else 0
    return journey_violations(claims)["patient_id"].n_unique() / patients if patients else float("nan")

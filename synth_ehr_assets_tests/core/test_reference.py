"""The design-driven reference population: schema, determinism, code validity, target prevalence, amounts."""

from __future__ import annotations

import io
import math
from datetime import date

import numpy as np
import polars as pl
import pytest

from synth_ehr_assets.core import codes, schema
from synth_ehr_assets.core.reference import (
    CONDITION_TARGETS, REFERENCE_PROCEDURES, generate_reference_claims, validate_design,
)
from synth_ehr_assets.core.reference.conditions import RARE
from synth_ehr_assets.core.reference.targets import measured_prevalence, patient_bands

N_CLAIMS = 60_000
PREGNANCY_PREFIXES = ("O", "Z3A", "Z33", "Z34", "Z37", "Z39")
NEWBORN_PREFIXES = ("P", "Z38", "Z0011")
# principal diagnosis → the MS-DRGs a stay with it may carry
DRG_BY_PRINCIPAL = {
    "A419": {"871", "872"}, "J441": {"190", "191", "192"}, "I5023": {"291", "292", "293"},
    "I5033": {"291", "292", "293"}, "E1110": {"637", "638", "639"}, "E1010": {"637", "638", "639"},
    "J189": {"193", "194", "195"}, "O80": {"806", "807"}, "Z3800": {"794", "795"}, "Z3801": {"794", "795"},
    "O34211": {"787", "788"}, "S72001A": {"480", "481", "482"}, "I214": {"280", "281", "282"},
}


@pytest.fixture(scope="module")
def claims() -> pl.DataFrame:
    return generate_reference_claims(N_CLAIMS, seed=11, release_id="ref_test")


@pytest.fixture(scope="module")
def diagnoses(claims: pl.DataFrame) -> pl.DataFrame:
    """One row per filled diagnosis slot: claim_id, patient_id, age, sex, slot, code."""
    return claims.unpivot(
        index=["claim_id", "patient_id", "claim_type", "age", "sex"], on=schema.DX_COLUMNS,
        variable_name="slot", value_name="code",
    ).drop_nulls("code")


def test_schema_row_count_and_ids(claims: pl.DataFrame) -> None:
    assert claims.schema == pl.Schema(schema.CLAIM_SCHEMA)
    assert claims.height == N_CLAIMS
    assert claims["claim_id"].n_unique() == N_CLAIMS
    assert (claims["release_id"] == "ref_test").all()
    dates = claims["service_date"]
    assert dates.min() >= date(2024, 1, 1) and dates.max() <= date(2025, 12, 31)
    per_patient = claims.group_by("patient_id").len()["len"]
    assert per_patient.mean() > 3, "patients have several claims each"
    assert set(claims["claim_type"].unique()) == set(schema.CLAIM_TYPES)
    assert set(claims["payer"].unique()) == set(schema.PAYERS)
    assert set(claims["region"].unique()) == set(schema.REGIONS)
    assert claims["age"].min() == 0 and claims["age"].max() >= 85


def _parquet_bytes(df: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    df.write_parquet(buffer)
    return buffer.getvalue()


def test_same_seed_is_byte_identical_and_seeds_differ() -> None:
    first = generate_reference_claims(3_000, seed=5, release_id="r")
    again = generate_reference_claims(3_000, seed=5, release_id="r")
    other = generate_reference_claims(3_000, seed=6, release_id="r")
    assert _parquet_bytes(first) == _parquet_bytes(again)
    assert not first.drop("claim_id", "patient_id").equals(other.drop("claim_id", "patient_id"))
    # a smaller table is a prefix of a larger one with the same seed
    assert generate_reference_claims(1_000, seed=5, release_id="r").equals(first.head(1_000))


def test_bad_arguments_and_empty_table() -> None:
    with pytest.raises(ValueError, match="n_claims"):
        generate_reference_claims(-1, seed=1, release_id="r")
    with pytest.raises(ValueError, match="seed"):
        generate_reference_claims(10, seed=-3, release_id="r")
    assert generate_reference_claims(0, seed=1, release_id="r").schema == pl.Schema(schema.CLAIM_SCHEMA)


def test_progress_is_reported_per_chunk() -> None:
    calls: list[tuple[int, int]] = []
    generate_reference_claims(90_000, seed=2, release_id="r", progress=lambda done, total: calls.append((done, total)))
    assert len(calls) >= 2 and calls[-1] == (90_000, 90_000)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_design_tables_validate() -> None:
    validate_design()  # raises on any non-billable code, undescribed procedure or unknown PCS code
    assert len(CONDITION_TARGETS) >= 25
    assert all(c.source for c in CONDITION_TARGETS)


def test_every_diagnosis_is_billable_and_passes_age_sex_edits(diagnoses: pl.DataFrame) -> None:
    distinct = diagnoses.select("code").unique()["code"].to_list()
    assert [code for code in distinct if not codes.is_billable(code)] == []
    combos = diagnoses.select("code", "age", "sex").unique()
    violations = [(c, a, s, r) for c, a, s in combos.iter_rows() if (r := codes.age_sex_violation(c, a, s))]
    assert violations == []
    assert diagnoses.group_by("claim_id").agg(pl.col("code").is_duplicated().any())["code"].sum() == 0


def test_pregnancy_only_in_plausible_females_and_newborn_codes_only_for_infants(diagnoses: pl.DataFrame) -> None:
    pregnancy = diagnoses.filter(pl.any_horizontal(pl.col("code").str.starts_with(p) for p in PREGNANCY_PREFIXES))
    assert pregnancy.height > 100
    assert (pregnancy["sex"] == "F").all() and pregnancy["age"].is_between(15, 49).all()
    newborn = diagnoses.filter(pl.any_horizontal(pl.col("code").str.starts_with(p) for p in NEWBORN_PREFIXES))
    assert newborn.height > 10 and (newborn["age"] == 0).all()
    pediatric_well = diagnoses.filter(pl.col("code") == "Z00129")
    adult_well = diagnoses.filter(pl.col("code") == "Z0000")
    assert pediatric_well["age"].max() <= 17 and adult_well["age"].min() >= 18


def test_rare_tail_is_present(claims: pl.DataFrame, diagnoses: pl.DataFrame) -> None:
    present = set(diagnoses["code"].unique())
    rare_codes = {c.codes[0][0] for c, rare in zip(CONDITION_TARGETS, RARE) if rare}
    assert {"E840", "G1221", "D66"} <= rare_codes <= present
    assert claims.filter(pl.col("dx_1") == "E840").height >= 1
    patients = claims["patient_id"].n_unique()
    assert diagnoses.filter(pl.col("code") == "E840")["patient_id"].n_unique() / patients < .002


def test_setting_rules_for_stays_drg_and_procedures(claims: pl.DataFrame) -> None:
    inpatient = claims.filter(pl.col("claim_type") == "inpatient")
    ambulatory = claims.filter(pl.col("claim_type") != "inpatient")
    assert (inpatient["los_days"] >= 1).all() and (ambulatory["los_days"] == 0).all()
    assert inpatient["drg"].str.contains(r"^\d{3}$").all() and ambulatory["drg"].is_null().all()
    px = claims.unpivot(index=["claim_type"], on=schema.PX_COLUMNS, value_name="code").drop_nulls("code")
    assert set(px["code"].unique()) <= set(REFERENCE_PROCEDURES)
    inpatient_px = px.filter(pl.col("claim_type") == "inpatient")["code"].unique().to_list()
    assert all(len(code) == 7 and codes.is_icd10pcs(code) for code in inpatient_px)
    # CPT (5 digits), CPT Category II tracking codes (4 digits + F) or HCPCS level II (a letter + 4 digits)
    assert px.filter(pl.col("claim_type") != "inpatient")["code"].str.contains(r"^(\d{5}|\d{4}F|[A-Z]\d{4})$").all()
    office = claims.filter(pl.col("claim_type") == "professional")["px_1"]
    assert office.is_in(["99212", "99213", "99214", "99215"]).mean() > .4
    for principal, drgs in DRG_BY_PRINCIPAL.items():
        found = set(inpatient.filter(pl.col("dx_1") == principal)["drg"].unique())
        assert found <= drgs, (principal, found)
    diabetic_labs = claims.filter(pl.col("dx_1") == "E119")
    assert diabetic_labs.select(pl.any_horizontal(pl.col(c) == "83036" for c in schema.PX_COLUMNS)).to_series().mean() > .5


def test_amounts_are_ordered_and_heavy_tailed(claims: pl.DataFrame) -> None:
    charge, allowed, paid = claims["charge_amount"], claims["allowed_amount"], claims["paid_amount"]
    assert (paid >= 0).all() and (paid <= allowed).all() and (allowed <= charge).all()
    # a normal distribution has (p99 - p50) / IQR = 2.326 / 1.349 = 1.72; charges must be far more skewed
    for kind in schema.CLAIM_TYPES:
        values = claims.filter(pl.col("claim_type") == kind)["charge_amount"]
        spread = (values.quantile(.99) - values.median()) / (values.quantile(.75) - values.quantile(.25))
        assert spread > 2.5, (kind, spread)
    assert charge.quantile(.99) / charge.median() > 20
    by_type = claims.group_by("claim_type").agg(pl.col("charge_amount").median()).sort("charge_amount")
    assert by_type["claim_type"].to_list() == ["professional", "outpatient", "inpatient"]


def test_payer_follows_age_and_claims_grow_with_burden(claims: pl.DataFrame, diagnoses: pl.DataFrame) -> None:
    seniors = claims.filter(pl.col("age") >= 67)
    children = claims.filter(pl.col("age") < 17)
    adults = claims.filter(pl.col("age").is_between(19, 63))
    assert (seniors["payer"] == "medicare").mean() > .85
    assert (children["payer"] == "medicare").sum() == 0
    assert (children["payer"] == "medicaid").mean() > (adults["payer"] == "medicaid").mean()
    chronic = {code for c in CONDITION_TARGETS for code, _ in c.codes}
    burden = diagnoses.filter(pl.col("code").is_in(list(chronic))).group_by("patient_id").agg(
        pl.col("code").n_unique().alias("conditions")
    )
    per_patient = claims.group_by("patient_id").len().join(burden, on="patient_id", how="left").fill_null(0)
    none = per_patient.filter(pl.col("conditions") == 0)["len"].mean()
    many = per_patient.filter(pl.col("conditions") >= 3)["len"].mean()
    assert many > 1.5 * none


def _patients_with(diagnoses: pl.DataFrame, codes_: list[str]) -> pl.DataFrame:
    return diagnoses.filter(pl.col("code").is_in(codes_)).select("patient_id").unique().with_columns(has=pl.lit(True))


def test_prevalence_matches_condition_targets(claims: pl.DataFrame) -> None:
    """Share of patients carrying each common condition, per age band, within 4 binomial standard errors + 0.01
    of its target (the 0.01 absorbs small design effects: a patient's secondary list is capped at nine codes and
    type 1 diabetes excludes type 2). Rare-tail conditions are checked for presence in `test_rare_tail_is_present`."""
    measured = measured_prevalence(claims)
    assert measured["condition"].n_unique() == len(CONDITION_TARGETS)
    rare = {c.key for c, is_rare in zip(CONDITION_TARGETS, RARE) if is_rare}
    common = measured.filter(~pl.col("condition").is_in(list(rare)))
    tolerance = 4 * (pl.max_horizontal(pl.col("target") * (1 - pl.col("target")), pl.lit(1e-4)) / pl.col("patients")).sqrt()
    failures = common.filter((pl.col("share") - pl.col("target")).abs() > tolerance + .01)
    assert failures.is_empty(), failures
    assert common["patients"].min() > 500


def test_hypertension_given_diabetes_in_seniors(claims: pl.DataFrame, diagnoses: pl.DataFrame) -> None:
    patients = patient_bands(claims)
    diabetes = _patients_with(diagnoses, ["E119", "E1165", "E1140", "E1122", "E1151"]).rename({"has": "diabetes"})
    hypertension = _patients_with(diagnoses, ["I10", "I110", "I129", "I130"])
    seniors = patients.filter(pl.col("band") == 3).join(diabetes, on="patient_id").join(
        hypertension, on="patient_id", how="left"
    )
    share = seniors["has"].is_not_null().mean()
    tolerance = 4 * math.sqrt(.83 * .17 / seniors.height) + .02
    assert abs(share - .83) <= tolerance, (share, seniors.height)
    everyone = patients.filter(pl.col("band") == 3).join(hypertension, on="patient_id", how="left")
    assert share > everyone["has"].is_not_null().mean() + .1  # correlated, not independent


def test_principal_diagnosis_follows_the_encounter(claims: pl.DataFrame) -> None:
    preventive = claims.filter(pl.col("px_1").str.starts_with("9938") | pl.col("px_1").str.starts_with("9939"))
    assert (preventive["dx_1"].str.starts_with("Z00") | (preventive["dx_1"] == "Z01419")).all()
    deliveries = claims.filter(pl.col("px_1").is_in(["10E0XZZ", "10D00Z1"]))
    assert deliveries.height > 0 and deliveries["dx_1"].str.starts_with("O").all()
    assert deliveries.select(pl.any_horizontal(pl.col(c) == "Z370" for c in schema.DX_COLUMNS)).to_series().all()
    colonoscopy = claims.filter(pl.col("px_1").is_in(["45378", "45380"]) & (pl.col("dx_1") == "Z1211"))
    assert colonoscopy["age"].is_between(45, 77).all() and (colonoscopy["claim_type"] == "outpatient").all()
    ages = np.asarray(claims.filter(pl.col("dx_1") == "J210")["age"])
    assert ages.size == 0 or ages.max() <= 1

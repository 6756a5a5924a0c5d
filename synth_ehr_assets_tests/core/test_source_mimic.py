"""`mimic_iv` source on a committed tiny hosp folder and, when present, on the real MIMIC-IV demo."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from synth_ehr_assets.core import codes, schema
from synth_ehr_assets.core.sources import SourceError, load_source
from synth_ehr_assets.core.spec import parse_spec

TINY = Path(__file__).resolve().parents[1] / "fixtures" / "mimic_iv_demo_tiny"
DEMO = Path(__file__).resolve().parents[3] / "shared" / "data" / "mimic-iv-demo-2.2"
KNOWN_RULES = {
    "unmappable_icd9", "invalid_icd10cm", "age_sex_edit", "missing_principal_dx", "unknown_admission",
    "missing_value", "unknown_category", "unparseable_date", "los_out_of_range", "invalid_procedure_code",
}  # fmt: skip


def mimic_spec(path: Path, release_id: str = "mimic"):
    return parse_spec({"source": {"kind": "mimic_iv", "path": str(path)}}, release_id)


@pytest.fixture(scope="module")
def tiny():
    return load_source(mimic_spec(TINY))


def test_every_admission_is_a_claim_or_in_quarantine(tiny):
    admissions = pl.read_csv(TINY / "hosp" / "admissions.csv.gz", infer_schema=False)["hadm_id"]
    rejected = tiny.quarantine.filter(pl.col("source") == "admissions.csv.gz")
    rejected_ids = set(rejected["claim_id"]) - set(tiny.claims["claim_id"])
    assert set(tiny.claims["claim_id"]) | rejected_ids == set(admissions)
    assert not set(tiny.claims["claim_id"]) & rejected_ids
    assert tiny.stats["rows_in"] == 5 and tiny.stats["rows_rejected"] == 2 == len(rejected_ids)
    assert tiny.claims.schema == pl.Schema(schema.CLAIM_SCHEMA) and set(tiny.claims["release_id"]) == {"mimic"}


def test_icd9_diagnoses_are_mapped_through_the_gems(tiny):
    claim = tiny.claims.filter(pl.col("claim_id") == "200002").row(0, named=True)
    assert (claim["dx_1"], claim["dx_2"], claim["dx_3"]) == ("I509", "E119", None)  # 4280, 25000; 36570 unmappable
    mixed = tiny.claims.filter(pl.col("claim_id") == "200005").row(0, named=True)
    assert (mixed["dx_1"], mixed["dx_2"]) == ("J441", "I2510")  # N952 (female-only) dropped, 41401 mapped


def test_an_unmappable_principal_rejects_the_admission_and_names_the_code(tiny):
    row = tiny.quarantine.filter(pl.col("claim_id") == "200003").row(0, named=True)
    where = (row["rule"], row["column"], row["source"], row["source_row"])
    assert where == ("unmappable_icd9", "dx_1", "admissions.csv.gz", 3)
    assert "36570" in row["detail"] and "diagnoses_icd.csv.gz row 7" in row["detail"]
    assert json.loads(row["raw"])["hadm_id"] == "200003"


def test_dropped_secondary_codes_are_recorded_not_lost(tiny):
    q = tiny.quarantine
    from_dx_table = (pl.col("source") == "diagnoses_icd.csv.gz") & (pl.col("rule") == "unmappable_icd9")
    dx = q.filter(from_dx_table).row(0, named=True)
    assert (dx["claim_id"], dx["source_row"], dx["column"]) == ("200002", 6, "dx (seq_num 3)")
    assert dx["detail"].endswith("(code dropped, claim kept)")
    px = q.filter(pl.col("source") == "procedures_icd.csv.gz").row(0, named=True)
    assert (px["rule"], px["claim_id"], json.loads(px["raw"])["icd_code"]) == ("unmappable_icd9", "200002", "3615")
    edit = q.filter(pl.col("rule") == "age_sex_edit").row(0, named=True)
    assert (edit["claim_id"], edit["column"]) == ("200005", "dx_2") and "female-only" in edit["detail"]
    assert tiny.stats["codes_dropped"] == 3


def test_other_problems_are_quarantined_with_their_rule(tiny):
    q = tiny.quarantine
    missing = q.filter(pl.col("claim_id") == "200004").row(0, named=True)
    assert (missing["rule"], missing["column"]) == ("missing_principal_dx", "dx_1")
    orphan = q.filter(pl.col("rule") == "unknown_admission").row(0, named=True)
    assert (orphan["source"], orphan["source_row"], orphan["claim_id"]) == ("diagnoses_icd.csv.gz", 12, "299999")


def test_admission_fields_follow_the_documented_choices(tiny):
    claim = tiny.claims.filter(pl.col("claim_id") == "200001").row(0, named=True)
    # anchor_year 2150 stands for 2011-2013: dates move back 138 years; age = anchor_age at anchor_year
    assert str(claim["service_date"]) == "2012-03-01" and claim["age"] == 60 and claim["los_days"] == 4
    categories = (claim["claim_type"], claim["sex"], claim["region"], claim["payer"])
    assert categories == ("inpatient", "F", "new_england", "medicare")
    assert claim["drg"] == "291" and claim["px_1"] == "02703DZ" and claim["provider_specialty"] == "cardiology"
    # (5,000 + 3,500 x 4 days + 7,500 x 1 procedure) x (1 + 0.3 x (APR severity 3 - 1)); Medicare 32% / 90%
    amounts = (claim["charge_amount"], claim["allowed_amount"], claim["paid_amount"])
    assert amounts == (42_400.0, 13_568.0, 12_211.2)
    assert tiny.claims.filter(pl.col("claim_id") == "200005")["payer"].item() == "commercial"
    assert tiny.procedure_descriptions["02703DZ"].startswith("Dilation of Coronary Artery")
    assert tiny.stats["charges"] == "estimated"


def test_a_subjects_admissions_stay_one_patient_with_gaps_and_age_kept(tiny):
    from synth_ehr_assets.core.export.patients import patients_table

    subject = tiny.claims.filter(pl.col("patient_id") == "100001").sort("service_date")
    assert subject["claim_id"].to_list() == ["200001", "200002"]
    assert [str(d) for d in subject["service_date"]] == ["2012-03-01", "2013-07-10"]  # both moved back 138 years
    mimic_gap = (dt.date(2151, 7, 10) - dt.date(2150, 3, 1)).days
    assert (subject["service_date"][1] - subject["service_date"][0]).days == mimic_gap == 496
    assert subject["age"].to_list() == [60, 61] and subject["sex"].to_list() == ["F", "F"]
    patients = patients_table(tiny.claims)
    assert patients["patient_id"].to_list() == ["100001", "100003"]  # 100002's admissions were both rejected
    first = patients.row(0, named=True)
    assert (first["claim_count"], first["inpatient_admissions"], first["birth_year"]) == (2, 2, 1952)


def test_the_hosp_folder_itself_works_and_gives_the_same_result(tiny):
    direct = load_source(mimic_spec(TINY / "hosp"))
    assert direct.claims.equals(tiny.claims) and direct.fingerprint == tiny.fingerprint


def test_uncompressed_tables_are_read_and_change_the_fingerprint(tmp_path, tiny):
    for table in (TINY / "hosp").glob("*.csv.gz"):
        (tmp_path / table.name.removesuffix(".gz")).write_bytes(gzip.decompress(table.read_bytes()))
    plain = load_source(mimic_spec(tmp_path))
    assert plain.claims.equals(tiny.claims) and plain.fingerprint != tiny.fingerprint


def test_unusable_folders_raise_a_source_error(tmp_path):
    with pytest.raises(SourceError, match=r"nowhere does not exist .*'source\.path'"):
        load_source(mimic_spec(tmp_path / "nowhere"))
    with pytest.raises(SourceError, match="no admissions.csv.gz"):
        load_source(mimic_spec(tmp_path))
    shutil.copytree(TINY / "hosp", tmp_path / "hosp")
    (tmp_path / "hosp" / "drgcodes.csv.gz").unlink()
    with pytest.raises(SourceError, match="no drgcodes.csv.gz"):
        load_source(mimic_spec(tmp_path))
    shutil.copy(TINY / "hosp" / "drgcodes.csv.gz", tmp_path / "hosp")
    patients = tmp_path / "hosp" / "patients.csv.gz"
    patients.write_bytes(gzip.compress(b"subject_id,gender,anchor_year\n100001,F,2150\n"))
    with pytest.raises(SourceError, match=r"patients\.csv\.gz is missing required column\(s\) anchor_age"):
        load_source(mimic_spec(tmp_path))


@pytest.fixture(scope="module")
def demo():
    if not (DEMO / "hosp" / "admissions.csv.gz").is_file():
        pytest.skip(f"MIMIC-IV demo not found at {DEMO} (PhysioNet mimic-iv-demo 2.2; shared/data beside the repo)")
    return load_source(mimic_spec(DEMO, "demo"))


def test_real_mimic_demo_gives_plausible_claims(demo):
    admissions = pl.read_csv(DEMO / "hosp" / "admissions.csv.gz", infer_schema=False)
    claims, q = demo.claims, demo.quarantine
    assert admissions.height == demo.stats["rows_in"] == 275
    assert claims.height >= 0.9 * admissions.height
    rejected = set(q.filter(pl.col("source") == "admissions.csv.gz")["claim_id"]) - set(claims["claim_id"])
    assert set(claims["claim_id"]) | rejected == set(admissions["hadm_id"])
    assert demo.stats["rows_rejected"] == len(rejected)
    assert set(q["rule"]) <= KNOWN_RULES and "unmappable_icd9" in set(q["rule"])
    dx = claims.select(pl.concat_list(schema.DX_COLUMNS).explode().drop_nulls()).to_series()
    assert dx.is_in(sorted(codes.billable_codes())).all()
    violations = [
        (code, age, sex)
        for row in claims.iter_rows(named=True)
        for code, age, sex in [(row[c], row["age"], row["sex"]) for c in schema.DX_COLUMNS if row[c]]
        if codes.age_sex_violation(code, age, sex)
    ]
    assert violations == []
    icd9_admissions = pl.read_csv(DEMO / "hosp" / "diagnoses_icd.csv.gz", infer_schema=False).filter(
        (pl.col("icd_version") == "9") & (pl.col("seq_num") == "1")
    )["hadm_id"]
    assert claims["claim_id"].is_in(icd9_admissions.implode()).sum() > 50  # ICD-9 era admissions made it through
    assert claims["service_date"].dt.year().is_between(2007, 2023).all()
    assert claims["age"].is_between(18, 120).all() and claims["los_days"].min() >= 0
    assert (claims["paid_amount"] <= claims["allowed_amount"]).all()
    assert (claims["allowed_amount"] <= claims["charge_amount"]).all()
    assert claims["drg"].null_count() < claims.height
    subjects = pl.read_csv(DEMO / "hosp" / "patients.csv.gz", infer_schema=False)["subject_id"]
    assert set(claims["patient_id"]) <= set(subjects)  # patient_id is the subject, kept across admissions
    assert claims["patient_id"].n_unique() < claims.height  # several admissions per subject

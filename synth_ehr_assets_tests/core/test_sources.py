"""`file` source: good canonical / mapped / Parquet input, and bad input that is quarantined or refused clearly."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

import polars as pl
import pytest

from synth_ehr_assets.core import schema
from synth_ehr_assets.core.sources import SourceError, load_source
from synth_ehr_assets.core.spec import parse_spec

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CANONICAL = FIXTURES / "canonical_claims.csv"
MAPPED = FIXTURES / "mapped_claims.csv"
COLUMN_MAP = {
    "claim_id": "ClaimNumber", "patient_id": "MemberID", "claim_type": "Setting", "service_date": "DateOfService",
    "los_days": "LengthOfStay", "age": "MemberAge", "sex": "Gender", "region": "CensusDivision",
    "payer": "LineOfBusiness", "dx_1": "PrimaryDiagnosis", "dx_2": "Diagnosis2", "dx_3": "Diagnosis3",
    "dx_4": "Diagnosis4", "px_1": "Procedure1", "px_2": "Procedure2", "drg": "MSDRG", "charge_amount": "BilledAmount",
    "allowed_amount": "AllowedAmount", "paid_amount": "PaidAmount", "provider_specialty": "Specialty",
}  # fmt: skip


def file_spec(path: Path, release_id: str = "r1", **source):
    return parse_spec({"source": {"kind": "file", "path": path.name, **source}}, release_id, spec_dir=str(path.parent))


def canonical_rows() -> pl.DataFrame:
    return pl.read_csv(CANONICAL, infer_schema=False)


def write_edited(tmp_path: Path, row: int, column: str, value: str) -> Path:
    """The canonical fixture with one cell changed (row counts data rows from 1)."""
    frame = canonical_rows()
    frame = frame.with_columns(
        pl.when(pl.int_range(1, pl.len() + 1) == row).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
    )
    path = tmp_path / "claims.csv"
    frame.write_csv(path)
    return path


def test_canonical_csv_loads_every_row_in_the_canonical_schema():
    result = load_source(file_spec(CANONICAL))
    claims = result.claims
    assert claims.schema == pl.Schema(schema.CLAIM_SCHEMA)
    assert claims.height == 12 and result.quarantine.height == 0
    assert result.quarantine.schema == pl.Schema(schema.QUARANTINE_SCHEMA)
    assert set(claims["release_id"]) == {"r1"}
    first = claims.row(0, named=True)
    assert (first["dx_1"], first["dx_2"], first["dx_3"]) == ("E119", "I10", "E785")  # dots removed
    assert first["los_days"] is None and first["dx_5"] is None and first["px_3"] is None
    assert claims.filter(pl.col("claim_id") == "C0003")["los_days"].item() == 4
    assert result.fingerprint == hashlib.sha256(b"canonical_claims.csv\0" + CANONICAL.read_bytes()).hexdigest()
    assert result.stats["rows_in"] == 12 and result.stats["quarantine_share"] == 0.0
    assert result.procedure_descriptions["99213"].startswith("Office visit")
    assert result.procedure_descriptions["02703DZ"].startswith("Dilation of Coronary Artery")


def test_mapped_csv_and_parquet_give_the_same_claims_as_the_canonical_csv():
    expected = load_source(file_spec(CANONICAL)).claims
    mapped = load_source(file_spec(MAPPED, column_map=COLUMN_MAP))
    parquet = load_source(file_spec(FIXTURES / "canonical_claims.parquet"))
    assert mapped.claims.equals(expected) and parquet.claims.equals(expected)
    assert mapped.stats["ignored_columns"] == "Warehouse"
    assert parquet.stats["format"] == "parquet" and parquet.quarantine.height == 0


def test_common_spreadsheet_spellings_are_accepted(tmp_path):
    frame = canonical_rows().head(1).with_columns(
        sex=pl.lit("female"), payer=pl.lit("Medicare"), region=pl.lit(" Pacific "), claim_type=pl.lit("Professional"),
        service_date=pl.lit("01/05/2024"), charge_amount=pl.lit("$1,185.00"), dx_1=pl.lit("e11.9"),
    )  # fmt: skip
    frame.vstack(canonical_rows().slice(1, 1).with_columns(service_date=pl.lit("2024-02-11T09:30:00"))).write_csv(
        tmp_path / "claims.csv"
    )
    result = load_source(file_spec(tmp_path / "claims.csv"))
    assert result.quarantine.height == 0
    first = result.claims.row(0, named=True)
    categories = (first["sex"], first["payer"], first["region"], first["claim_type"])
    assert categories == ("F", "medicare", "pacific", "professional")
    assert str(first["service_date"]) == "2024-01-05" and first["charge_amount"] == 1185.0 and first["dx_1"] == "E119"
    assert str(result.claims["service_date"][1]) == "2024-02-11"


BAD_ROWS = [
    # (row, column, value, expected rule, expected quarantine column)
    (2, "service_date", "2024-02-30", "unparseable_date", "service_date"),
    (2, "service_date", "yesterday", "unparseable_date", "service_date"),
    (3, "age", "forty", "not_a_number", "age"),
    (3, "age", "130", "age_out_of_range", "age"),
    (3, "los_days", "2.5", "not_a_number", "los_days"),
    (3, "los_days", "400", "los_out_of_range", "los_days"),
    (3, "los_days", "", "missing_value", "los_days"),  # inpatient claim without a length of stay
    (1, "los_days", "3", "los_on_non_inpatient", "los_days"),
    (4, "charge_amount", "-240", "negative_amount", "charge_amount"),
    (4, "charge_amount", "25000000", "absurd_charge", "charge_amount"),
    (4, "charge_amount", "12abc", "not_a_number", "charge_amount"),
    (4, "allowed_amount", "999", "allowed_exceeds_charge", "allowed_amount"),
    (4, "paid_amount", "146", "paid_exceeds_allowed", "paid_amount"),
    (5, "sex", "X", "unknown_category", "sex"),
    (5, "claim_type", "dental", "unknown_category", "claim_type"),
    (5, "payer", "tricare", "unknown_category", "payer"),
    (5, "region", "atlantis", "unknown_category", "region"),
    (6, "patient_id", "", "missing_value", "patient_id"),
    (6, "dx_1", "", "missing_principal_dx", "dx_1"),
    (6, "dx_1", "E11", "invalid_icd10cm", "dx_1"),  # a category, not a billable code
    (6, "dx_2", "XYZ123", "invalid_icd10cm", "dx_2"),
    (1, "dx_2", "N40.0", "age_sex_edit", "dx_2"),  # male-only code on a female patient
    (7, "px_1", "ABC", "invalid_procedure_code", "px_1"),
    (3, "drg", "12345", "invalid_drg", "drg"),
    (9, "claim_id", "C0001", "duplicate_claim_id", "claim_id"),
]


@pytest.mark.parametrize(
    ("row", "column", "value", "rule", "where"), BAD_ROWS, ids=[f"{c}={v!r}" for _, c, v, *_ in BAD_ROWS]
)
def test_a_bad_value_quarantines_its_row_with_rule_column_and_row(tmp_path, row, column, value, rule, where):
    path = write_edited(tmp_path, row, column, value)
    result = load_source(file_spec(path))
    hits = result.quarantine.filter((pl.col("rule") == rule) & (pl.col("column") == where))
    assert hits.height == 1, result.quarantine.select("source_row", "rule", "column", "detail").to_dicts()
    hit = hits.row(0, named=True)
    assert hit["source_row"] == row and hit["source"] == "claims.csv" and hit["release_id"] == "r1"
    assert (json.loads(hit["raw"])[column] or "") == value
    assert result.claims.height == 11 and result.stats["rows_rejected"] == 1
    assert hit["claim_id"] not in set(result.claims["claim_id"]) or rule == "duplicate_claim_id"


def test_duplicate_claim_ids_keep_the_first_copy_and_name_its_row(tmp_path):
    frame = canonical_rows()
    pl.concat([frame, frame.slice(2, 1), frame.slice(2, 1)]).write_csv(tmp_path / "claims.csv")
    result = load_source(file_spec(tmp_path / "claims.csv"))
    duplicates = result.quarantine.filter(pl.col("rule") == "duplicate_claim_id")
    assert duplicates["source_row"].to_list() == [13, 14]
    assert all("already used on row 3" in d for d in duplicates["detail"])
    assert result.claims.height == 12


def test_every_broken_rule_is_listed_but_the_row_counts_once(tmp_path):
    frame = canonical_rows().with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(pl.lit(v)).otherwise(pl.col(c)).alias(c)
        for c, v in {"age": "-3", "sex": "U", "service_date": "31/31/2024"}.items()
    )
    frame.write_csv(tmp_path / "claims.csv")
    result = load_source(file_spec(tmp_path / "claims.csv"))
    assert set(result.quarantine["rule"]) == {"age_out_of_range", "unknown_category", "unparseable_date"}
    assert set(result.quarantine["source_row"]) == {1}
    assert result.stats["rows_rejected"] == 1 and result.stats["quarantine_share"] == pytest.approx(1 / 12)


def test_mapped_file_quarantine_keeps_the_original_column_names_in_raw(tmp_path):
    frame = pl.read_csv(MAPPED, infer_schema=False).with_columns(
        pl.when(pl.int_range(pl.len()) == 3).then(pl.lit("n/a")).otherwise(pl.col("MemberAge")).alias("MemberAge")
    )
    frame.write_csv(tmp_path / "mapped.csv")
    result = load_source(file_spec(tmp_path / "mapped.csv", column_map=COLUMN_MAP))
    hit = result.quarantine.row(0, named=True)
    assert (hit["rule"], hit["column"], hit["source_row"]) == ("not_a_number", "age", 4)
    assert json.loads(hit["raw"])["MemberAge"] == "n/a"


def unreadable_cases(tmp_path: Path) -> dict[str, tuple[Path, dict, str]]:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    header_only = tmp_path / "header.csv"
    header_only.write_text(",".join(canonical_rows().columns) + "\n")
    no_age = tmp_path / "no_age.csv"
    canonical_rows().drop("age", "sex").write_csv(no_age)
    broken_parquet = tmp_path / "broken.parquet"
    broken_parquet.write_bytes(b"PAR1 this is not parquet")
    odd = tmp_path / "claims.xlsx"
    shutil.copy(CANONICAL, odd)
    return {
        "missing file": (tmp_path / "nowhere.csv", {}, r"nowhere\.csv does not exist .*'source\.path'"),
        "empty file": (empty, {}, r"empty\.csv has no rows"),
        "header only": (header_only, {}, r"header\.csv has no rows"),
        "missing columns": (no_age, {}, r"no_age\.csv is missing required column\(s\) age, sex"),
        "map to absent column": (MAPPED, {"column_map": {**COLUMN_MAP, "age": "AgeYears"}}, r"age -> AgeYears"),
        "map from unknown column": (
            CANONICAL, {"column_map": {"birthday": "age"}}, r"'source\.column_map' names birthday"
        ),
        "unreadable parquet": (broken_parquet, {}, r"broken\.parquet cannot be read as parquet"),
        "unknown format": (odd, {}, r"claims\.xlsx .*'source\.format'"),
    }


@pytest.mark.parametrize(
    "case",
    ["missing file", "empty file", "header only", "missing columns", "map to absent column", "map from unknown column",
     "unreadable parquet", "unknown format"],
)  # fmt: skip
def test_unusable_files_raise_a_source_error_naming_file_and_field(tmp_path, case):
    path, source, message = unreadable_cases(tmp_path)[case]
    with pytest.raises(SourceError, match=message):
        load_source(file_spec(path, **source))


def test_validation_is_vectorised_and_handles_a_large_file_quickly(tmp_path):
    rows = 60_000
    base = canonical_rows()
    frame = pl.concat([base] * (rows // base.height)).with_columns(claim_id=pl.format("C{}", pl.int_range(pl.len())))
    every_thousandth = pl.int_range(pl.len()) % 1000 == 7
    frame = frame.with_columns(pl.when(every_thousandth).then(pl.lit("bad")).otherwise("age").alias("age"))
    frame.write_csv(tmp_path / "big.csv")
    calls = []
    started = time.perf_counter()
    result = load_source(file_spec(tmp_path / "big.csv"), progress=lambda done, total: calls.append((done, total)))
    seconds = time.perf_counter() - started
    assert result.stats["rows_rejected"] == rows // 1000 and result.claims.height == rows - rows // 1000
    assert result.quarantine["source_row"].head(2).to_list() == [8, 1008]
    assert calls[-1] == (rows, rows)
    assert seconds < 20, f"{rows} rows took {seconds:.1f}s"


def test_reference_source_has_no_quarantine_and_a_parameter_fingerprint():
    reference = pytest.importorskip("synth_ehr_assets.core.reference")
    if not hasattr(reference, "generate_reference_claims"):
        pytest.skip("core.reference has no generate_reference_claims yet")
    spec = parse_spec({"seed": 5, "source": {"kind": "reference", "claims": 200}}, "ref")
    first, again = load_source(spec), load_source(spec)
    other = load_source(parse_spec({"seed": 6, "source": {"kind": "reference", "claims": 200}}, "ref"))
    assert first.claims.height == 200 and first.quarantine.height == 0
    assert first.claims.schema == pl.Schema(schema.CLAIM_SCHEMA)
    assert first.fingerprint == again.fingerprint != other.fingerprint
    assert first.procedure_descriptions and first.stats["quarantine_share"] == 0.0

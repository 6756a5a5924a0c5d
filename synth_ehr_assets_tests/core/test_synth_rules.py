"""Clinical edits: each rule flags what it must, valid claims pass, and failing rows are named."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from synth_ehr_assets.core import schema
from synth_ehr_assets.core.synth.rules import check_claims, failing_mask, rule_counts, violations_by_row


def claim(**overrides) -> dict:
    row = {
        "release_id": "r",
        "claim_id": "c0",
        "patient_id": "p0",
        "claim_type": "professional",
        "service_date": dt.date(2024, 3, 5),
        "los_days": 0,
        "age": 67,
        "sex": "F",
        "region": "pacific",
        "payer": "medicare",
        "dx_1": "E119",
        "dx_2": "I10",
        "px_1": "99213",
        "drg": None,
        "charge_amount": 180.0,
        "allowed_amount": 110.0,
        "paid_amount": 88.0,
        "provider_specialty": "internal_medicine",
    }
    row.update(overrides)
    return row


def frame(*rows: dict) -> pl.DataFrame:
    return schema.conform(pl.DataFrame(list(rows), infer_schema_length=None))


VALID = [
    claim(),
    claim(claim_id="c1", claim_type="inpatient", los_days=4, drg="291", dx_1="I5023", dx_2="N1831", px_1="02HV33Z"),
    claim(
        claim_id="c2", claim_type="outpatient", los_days=None, dx_1="O80", dx_2="Z3A39", dx_3="Z370", sex="F", age=29,
        px_1="G0378", px_2="76805",
    ),
    claim(claim_id="c3", dx_1="N401", dx_2=None, sex="M", age=71, px_1="0001F", px_2="84153"),
    claim(claim_id="c4", dx_1="I130", dx_2="I5023", dx_3="N1831", px_1="99397", px_2="77067", charge_amount=180.1),
    claim(
        claim_id="c5", dx_1="E1122", dx_2="N189", dx_3="I129", age=4, sex="M", payer="medicaid", px_1="99382",
        px_2="90700", px_3="90460",
    ),
    claim(claim_id="c6", dx_1="Z00121", dx_2=None, age=0, payer="medicaid", px_1="99391", px_2="90460",
          px_3="90744"),  # an administration comes with the vaccine it gives (addon_without_primary)
    claim(claim_id="c7", dx_1="Z3482", dx_2="Z3A20", age=31, payer="commercial", px_1="0502F"),
    claim(claim_id="c9", dx_1="Z0000", dx_2="I10", age=66, px_1="99397", px_2="99213"),  # preventive + problem
    claim(claim_id="c8", claim_type="inpatient", los_days=2, drg="292", dx_1="I5023", dx_2=None, px_1=None),
]


def test_valid_claims_pass_every_rule():
    claims = frame(*VALID)
    assert check_claims(claims).height == 0
    assert not failing_mask(claims).any()


@pytest.mark.parametrize(
    ("overrides", "rule", "column"),
    [
        ({"dx_1": None, "dx_2": None}, "missing_principal_dx", "dx_1"),
        ({"dx_2": None, "dx_3": "I10"}, "dx_slot_gap", "dx_3"),
        ({"dx_2": "E11"}, "invalid_dx_code", "dx_2"),
        ({"dx_2": "XYZ99"}, "invalid_dx_code", "dx_2"),
        ({"dx_2": "N401", "sex": "F"}, "age_sex_edit", "dx_2"),
        ({"dx_1": "O80", "dx_2": None, "age": 70}, "age_sex_edit", "dx_1"),
        ({"dx_1": "P0714", "dx_2": None, "age": 40}, "age_sex_edit", "dx_1"),
        ({"dx_1": "W010XXA"}, "unacceptable_principal_dx", "dx_1"),
        ({"dx_1": "Z370"}, "unacceptable_principal_dx", "dx_1"),
        ({"dx_1": "Z6841"}, "unacceptable_principal_dx", "dx_1"),
        ({"dx_1": "G3281", "dx_2": None}, "unacceptable_principal_dx", "dx_1"),
        ({"dx_3": "E119"}, "duplicate_dx", "dx_3"),
        ({"px_2": "99213"}, "duplicate_px", "px_2"),
        ({"px_1": "02HV33Z"}, "px_setting_mismatch", "px_1"),
        ({"claim_type": "inpatient", "los_days": 3, "drg": "291", "px_1": "99213"}, "px_setting_mismatch", "px_1"),
        ({"claim_type": "inpatient", "los_days": 3, "px_1": None}, "drg_setting_mismatch", "drg"),
        ({"drg": "291"}, "drg_setting_mismatch", "drg"),
        ({"claim_type": "inpatient", "los_days": 0, "drg": "291", "px_1": None}, "los_setting_mismatch", "los_days"),
        ({"los_days": 2}, "los_setting_mismatch", "los_days"),
        ({"paid_amount": 120.0}, "amount_order", "paid_amount"),
        ({"allowed_amount": 200.0}, "amount_order", "paid_amount"),
        ({"paid_amount": -1.0}, "amount_order", "paid_amount"),
        ({"charge_amount": None}, "amount_order", "paid_amount"),
        ({"charge_amount": 180.123456}, "amount_precision", "charge_amount"),
        ({"paid_amount": 88.005}, "amount_precision", "paid_amount"),
        ({"dx_2": "E109"}, "excludes1_pair", "dx_2"),
        ({"dx_1": "F329", "dx_2": "I10", "dx_3": "F319"}, "excludes1_pair", "dx_3"),
        ({"dx_1": "O1403", "dx_2": "I10", "age": 30}, "excludes1_pair", "dx_2"),
        ({"dx_1": "J449", "dx_2": "E1165", "dx_3": "E119"}, "redundant_unspecified", "dx_3"),
        ({"dx_2": "E1165"}, "redundant_unspecified", "dx_2"),
        ({"dx_1": "N1831", "dx_2": "N189"}, "redundant_unspecified", "dx_2"),
        ({"dx_1": "N1831", "dx_2": "N1830"}, "redundant_unspecified", "dx_2"),
        ({"dx_1": "J441", "dx_2": "J449"}, "redundant_unspecified", "dx_2"),
        ({"dx_1": "Z3481", "dx_2": "Z3A10", "dx_3": "Z3A12", "age": 30}, "gestation_weeks_conflict", "dx_3"),
        ({"dx_1": "Z3481", "dx_2": "Z3A33", "age": 30}, "gestation_weeks_conflict", "dx_2"),
        ({"dx_1": "O99513", "dx_2": "Z3A08", "age": 30}, "gestation_weeks_conflict", "dx_2"),
        ({"px_1": None}, "missing_procedure", "px_1"),
        ({"px_1": "99212", "px_2": "99213"}, "multiple_em_levels", "px_2"),
        ({"claim_type": "outpatient", "los_days": None, "px_1": "99283", "px_2": "12002", "px_3": "99285"},
         "multiple_em_levels", "px_3"),
        ({"claim_type": "outpatient", "los_days": None, "px_1": None}, "missing_procedure", "px_1"),
        ({"dx_1": "E1122"}, "missing_companion_code", "dx_1"),
        ({"dx_2": "I129", "dx_3": "N186"}, "missing_companion_code", "dx_2"),
        ({"dx_2": "I120", "dx_3": "N1831"}, "missing_companion_code", "dx_2"),
        ({"dx_2": "I130", "dx_3": "N1831"}, "missing_companion_code", "dx_2"),
        ({"dx_1": "O80", "dx_2": "Z3A39", "age": 30}, "missing_companion_code", "dx_1"),
        ({"px_1": "99394"}, "px_age_sex_band", "px_1"),
        ({"px_1": "99397", "age": 30}, "px_age_sex_band", "px_1"),
        ({"px_1": "99391", "age": 1}, "px_age_sex_band", "px_1"),
        ({"px_2": "99460", "age": 3}, "px_age_sex_band", "px_2"),
        ({"px_2": "90700", "age": 30}, "px_age_sex_band", "px_2"),
        ({"px_2": "88175", "sex": "M"}, "px_age_sex_band", "px_2"),
        ({"px_2": "G0101", "sex": "M"}, "px_age_sex_band", "px_2"),
        ({"px_2": "84153"}, "px_age_sex_band", "px_2"),
        ({"px_2": "77067", "sex": "M"}, "px_age_sex_band", "px_2"),
        ({"px_2": "76805", "age": 70}, "px_age_sex_band", "px_2"),
        ({"px_2": "59400", "sex": "M", "age": 30}, "px_age_sex_band", "px_2"),
        ({"sex": "U"}, "invalid_value", "sex"),
        ({"age": 140}, "invalid_value", "age"),
        ({"claim_type": "dental"}, "invalid_value", "claim_type"),
    ],
)
def test_each_rule_flags_the_broken_row_and_names_the_column(overrides, rule, column):
    claims = frame(*VALID, claim(claim_id="bad", **overrides))
    found = check_claims(claims)
    assert found.filter(pl.col("rule") == rule).select("claim_id", "column").rows() == [("bad", column)]
    assert set(found["claim_id"]) == {"bad"}, found
    assert failing_mask(claims).to_list() == [False] * len(VALID) + [True]
    assert found["detail"].null_count() == 0


def test_a_row_breaking_several_rules_counts_once_per_rule():
    claims = frame(*VALID, claim(claim_id="bad", dx_2="E11", dx_3="E11", sex="U", paid_amount=500.0))
    counts = rule_counts(violations_by_row(claims))
    assert counts == {"amount_order": 1, "duplicate_dx": 1, "invalid_dx_code": 1, "invalid_value": 1}


def test_edits_scale_to_many_rows_without_losing_any_violation():
    rows = [
        claim(claim_id=f"c{i}", age=i % 100, sex="FM"[i % 2], dx_2="N401" if i % 7 == 0 else "I10")
        for i in range(20_000)
    ]
    claims = frame(*rows)
    expected = sum(1 for i in range(20_000) if i % 7 == 0 and i % 2 == 0)
    assert int(failing_mask(claims).sum()) == expected

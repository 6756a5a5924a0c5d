"""The claim reviewer's two defects as edits: Z34 beside a condition chapter 15 takes in, and a vaccine product
billed without its administration; each fires on the broken claim, not on its corrected version, nor on the
reference population."""

from __future__ import annotations

import re

import polars as pl
import pytest

from synth_ehr_assets.core import codes, schema
from synth_ehr_assets.core.reference.generator import generate_reference_claims
from synth_ehr_assets.core.synth import edits_encounter
from synth_ehr_assets.core.synth.rules import RULES, check_claims, rule_counts, violations_by_row
from synth_ehr_assets_tests.core.test_synth_rules import claim, frame

PREGNANCY = "pregnancy_condition_not_chapter15"
VACCINE = "vaccine_without_administration"
PRENATAL = dict(age=30, sex="F", payer="commercial", px_1="0502F", provider_specialty="obstetrics_gynecology")
WELL_CHILD = dict(age=1, payer="medicaid", dx_1="Z00129", dx_2=None, px_1="99392", provider_specialty="pediatrics")

# (broken claim, rule, flagged column, its corrected version)
CASES = [
    # the reviewer's prenatal claim: essential hypertension is O10.0- in pregnancy (I10 Excludes1 O10-O16)
    (claim(dx_1="Z3481", dx_2="Z3A10", dx_3="I10", **PRENATAL), PREGNANCY, "dx_3",
     claim(dx_1="O10011", dx_2="Z3A10", **PRENATAL)),
    (claim(dx_1="Z3482", dx_2="Z3A20", dx_3="E119", **PRENATAL), PREGNANCY, "dx_3",
     claim(dx_1="O24112", dx_2="Z3A20", dx_3="E119", **PRENATAL)),
    (claim(dx_1="Z3483", dx_2="Z3A30", dx_3="F17210", **PRENATAL), PREGNANCY, "dx_3",
     claim(dx_1="O99333", dx_2="Z3A30", dx_3="F17210", **PRENATAL)),
    (claim(dx_1="Z3481", dx_2="O210", dx_3="Z3A10", **PRENATAL), PREGNANCY, "dx_2",
     claim(dx_1="O210", dx_2="Z3A10", **PRENATAL)),
    # the reviewer's 1-year-old: hepatitis B vaccine with no administration line
    (claim(px_2="90744", **WELL_CHILD), VACCINE, "px_2", claim(px_2="90744", px_3="90460", **WELL_CHILD)),
    (claim(dx_1="Z23", dx_2=None, px_1="90662", age=70), VACCINE, "px_1",
     claim(dx_1="Z23", dx_2=None, px_1="G0008", px_2="90662", age=70)),
    (claim(dx_1="Z23", dx_2=None, px_1="90686", age=40, payer="commercial"), VACCINE, "px_1",
     claim(dx_1="Z23", dx_2=None, px_1="90471", px_2="90686", age=40, payer="commercial")),
]


def test_the_new_rules_are_registered():
    assert {PREGNANCY, VACCINE} <= set(RULES)


@pytest.mark.parametrize(("broken", "rule", "column", "corrected"), CASES)
def test_each_rule_fires_on_the_broken_claim_and_not_on_its_correction(broken, rule, column, corrected):
    found = check_claims(frame(dict(broken, claim_id="bad")))
    hits = found.filter(pl.col("rule") == rule)
    assert hits.select("claim_id", "column").rows() == [("bad", column)], found
    assert hits["detail"][0].startswith(broken[column])
    assert check_claims(frame(dict(corrected, claim_id="fixed"))).height == 0


@pytest.mark.parametrize(
    "overrides",
    [
        dict(dx_1="Z3483", dx_2="Z3A30", dx_3="F17211", **PRENATAL),  # nicotine dependence in remission: no use
        dict(dx_1="Z3481", dx_2="Z3A10", dx_3="Z23", **PRENATAL),  # a flu shot at a routine prenatal visit
        dict(dx_1="I10", dx_2="E119", age=30, sex="F"),  # no pregnancy on the claim
        dict(dx_1="C679", dx_2=None, px_1="51720", px_2="90586", sex="M"),  # BCG instilled for bladder cancer
        dict(dx_1="Z23", dx_2=None, px_1="90480", age=40, payer="commercial"),  # 90480 is an administration code
    ],
)
def test_rules_stay_quiet_where_the_coding_is_right(overrides):
    found = check_claims(frame(claim(claim_id="ok", **overrides)))
    assert not set(found["rule"]) & {PREGNANCY, VACCINE}, found


def test_inpatient_stays_are_not_held_to_the_vaccine_line_rule():
    stay = claim(claim_type="inpatient", los_days=2, drg="795", age=0, dx_1="Z3800", dx_2=None, px_1="90744",
                 payer="medicaid")
    found = check_claims(frame(stay))
    assert VACCINE not in set(found["rule"]) and "px_setting_mismatch" in set(found["rule"])


def _named_ranges(text: str) -> list[tuple[str, str]]:
    """Category ranges a tabular note names: 'I10' → (I10, I10), 'F11-F16' → (F11, F16)."""
    found = re.findall(r"\b([A-Z]\d[0-9A-Z])(?:\.\d+)?(?:-([A-Z]\d[0-9A-Z]))?", text)
    return [(low, high or low) for low, high in found]


@pytest.mark.parametrize(
    ("code", "home"),
    [("I10", "O10.0"), ("I129", "O10.2"), ("I150", "O10.4"), ("E119", "O24.1"), ("E1010", "O24.0"),
     ("E0800", "O24.8"), ("B20", "O98.7"), ("Z21", "O98.7"), ("F1020", "O99.31"), ("F1120", "O99.32"),
     ("F17210", "O99.33"), ("C50911", "O9A.1")],
)
def test_each_family_is_one_its_chapter15_home_takes_in_by_the_tabular_list(code, home):
    import simple_icd_10_cm as icd

    family = edits_encounter.chapter15_family_codes().filter(pl.col("code") == code)
    assert family.height == 1 and family["home"][0].startswith(home[:3])
    notes = " ".join([*icd.get_inclusion_term(home), icd.get_use_additional_code(home)])
    assert any(low <= code[:3] <= high for low, high in _named_ranges(notes)), notes


def test_families_cover_the_hypertension_and_diabetes_blocks_and_skip_remission():
    family = dict(edits_encounter.chapter15_family_codes().select("code", "family").iter_rows())
    catalog = codes.icd10cm_catalog()
    for block, name in (("I10-I1A", "hypertensive disease"), ("E08-E13", "diabetes mellitus")):
        block_codes = catalog.filter(pl.col("block") == block)["code"].to_list()
        assert block_codes and all(family.get(c) == name for c in block_codes)
    assert "F17211" not in family and "F1021" not in family and family["F17210"] == "psychoactive substance use"
    assert family["C9101"] == "malignant neoplasm"  # leukaemia in remission is still a malignancy
    assert "D0510" not in family and "N189" not in family  # in situ neoplasm, CKD: not among the families


def test_reference_claims_carry_none_of_the_new_violations():
    claims = generate_reference_claims(5_000, seed=29, release_id="pregnancy_vaccine")
    dx, px = schema.DX_COLUMNS, schema.PX_COLUMNS
    starts = lambda columns, prefix: pl.any_horizontal(pl.col(c).str.starts_with(prefix).fill_null(False)  # noqa: E731
                                                       for c in columns)
    assert claims.filter(starts(dx, "Z34")).height and claims.filter(starts(px, "907")).height  # rules have work
    counts = rule_counts(violations_by_row(claims))
    assert counts.get(PREGNANCY, 0) == 0 and counts.get(VACCINE, 0) == 0, counts


def test_a_pregnancy_younger_than_15_is_refused_unless_training_has_pregnancies_that_young():
    """The demo released prenatal and delivery claims at 10-14 from a source whose youngest pregnancy was 17: the
    MCE maternity range (9-64) let them through; `pregnancy_age_unsupported` holds them to 15, or to the source's
    own youngest pregnancy when it is younger."""
    from synth_ehr_assets.core.synth.edits_support import TrainingSupport

    train = generate_reference_claims(4000, seed=3, release_id="p")
    support = TrainingSupport.from_claims(train)
    assert support.youngest_pregnancy is not None and support.youngest_pregnancy >= 15
    young, older = (frame(dict(claim(dx_1="Z3481", dx_2="Z3A10", **dict(PRENATAL, age=age)), claim_id=f"c{age}"))
                    for age in (12, 16))
    hits = violations_by_row(young, support).filter(pl.col("rule") == "pregnancy_age_unsupported")
    assert set(hits["column"]) == {"dx_1", "dx_2"} and "below 15" in hits["detail"][0]
    assert violations_by_row(older, support).filter(pl.col("rule") == "pregnancy_age_unsupported").is_empty()
    teen = train.with_columns(age=pl.when(pl.col("dx_1").str.starts_with("Z34")).then(13).otherwise(pl.col("age")))
    assert TrainingSupport.from_claims(teen).youngest_pregnancy == 13
    aged_13 = frame(dict(claim(dx_1="Z3481", dx_2="Z3A10", **dict(PRENATAL, age=13)), claim_id="c13"))
    assert violations_by_row(aged_13, TrainingSupport.from_claims(teen)).filter(
        pl.col("rule") == "pregnancy_age_unsupported").is_empty()
    assert TrainingSupport.from_dict(support.to_dict()).youngest_pregnancy == support.youngest_pregnancy


ADDON = "addon_without_primary"
PSYCH = dict(age=26, sex="F", payer="commercial", dx_1="F331", dx_2=None, provider_specialty="psychiatry")


@pytest.mark.parametrize(("broken", "column", "corrected"), [
    # the demo review's two claims: psychotherapy add-on billed alone, an administration with no vaccine
    (claim(px_1="90833", **PSYCH), "px_1", claim(px_1="99213", px_2="90833", **PSYCH)),
    (claim(**dict(WELL_CHILD, age=0, px_1="99391", px_2="90460")), "px_2",
     claim(**dict(WELL_CHILD, age=0, px_1="99391", px_2="90460", px_3="90744"))),
    (claim(**dict(WELL_CHILD, px_2="90461", px_3="90700")), "px_2",
     claim(**dict(WELL_CHILD, px_2="90460", px_3="90461", px_4="90700"))),
])
def test_an_addon_without_its_primary_is_flagged_and_not_with_it(broken, column, corrected):
    found = check_claims(frame(dict(broken, claim_id="bad")))
    hits = found.filter(pl.col("rule") == ADDON)
    assert hits.select("claim_id", "column").rows() == [("bad", column)], found
    assert check_claims(frame(dict(corrected, claim_id="fixed"))).filter(pl.col("rule") == ADDON).height == 0


def test_no_reference_claim_bills_an_addon_alone():
    claims = generate_reference_claims(20_000, 5, "addon")
    assert ADDON in RULES and check_claims(claims).filter(pl.col("rule") == ADDON).height == 0


def test_a_first_trimester_code_on_a_delivery_claim_conflicts_and_a_third_trimester_one_does_not():
    """The journey demo released O99.341 (mental disorder complicating pregnancy, first trimester) beside Z37.0 on
    one claim; a category without an "in childbirth" code is coded by trimester at the delivery."""
    stay = dict(claim_type="inpatient", los_days=2, drg="807", age=30, sex="F", payer="commercial", px_1="10E0XZZ",
                provider_specialty="obstetrics_gynecology")
    found = check_claims(frame(dict(claim(dx_1="O80", dx_2="O99341", dx_3="Z370", **stay), claim_id="bad"),
                               dict(claim(dx_1="O80", dx_2="O99343", dx_3="Z370", **stay), claim_id="ok")))
    hits = found.filter(pl.col("rule") == "gestation_weeks_conflict")
    assert hits.select("claim_id", "column").rows() == [("bad", "dx_2")], found

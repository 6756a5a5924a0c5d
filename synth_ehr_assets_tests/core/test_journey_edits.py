"""Journey edits (issue 15 item 2): the assembly's rules (`synth.journey_edits`), the independent check of a
finished table (`evaluation.journey_checks`) on real and planted journeys, and the longitudinal TSTR
(`evaluation.journey_tstr`) against its TRTR null and on planted failures."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from synth_ehr_assets.core import schema
from synth_ehr_assets.core.evaluation.journey_checks import journey_violations, violation_share
from synth_ehr_assets.core.evaluation.journey_tstr import admission_tstr
from synth_ehr_assets.core.reference import generate_reference_claims
from synth_ehr_assets.core.synth.journey_edits import PatientState, RowFacts
from synth_ehr_assets.core.synth.journey_model import JourneyModel
from synth_ehr_assets.core.synth.synthesizer import split_rows


@pytest.fixture(scope="module")
def split() -> tuple[pl.DataFrame, pl.DataFrame]:
    claims = generate_reference_claims(12_000, seed=0, release_id="e").sort("claim_id")
    train, holdout = split_rows(claims.height, 0.2, 0, claims["patient_id"])
    return claims[train], claims[holdout]


def _claims(rows: list[tuple[str, int, int, str, list[str]]]) -> pl.DataFrame:
    """(patient, day, age, sex, diagnoses) → canonical claims."""
    start = date(2024, 1, 1)
    return schema.conform(pl.DataFrame([
        {"claim_id": f"C{i}", "patient_id": p, "service_date": start + timedelta(days=d), "age": a, "sex": s,
         "claim_type": "professional", **{f"dx_{k + 1}": code for k, code in enumerate(dx)}}
        for i, (p, d, a, s, dx) in enumerate(rows)]))


def test_patient_state_allows_only_what_the_rules_allow():
    codes = [frozenset(x) for x in (["E119"], ["E1051"], ["N184"], ["N1830"], ["N182"], ["O80", "Z370"],
                                    ["Z3403"], ["Z3401"], ["R99"], ["I10"])]
    facts = RowFacts.of(codes)
    state = PatientState(facts)
    state.add(0, 0)  # type 2 diabetes
    assert not state.allows(1, 30, False) and state.allows(9, 30, False)  # no type 1 afterwards
    state.add(2, 40)  # CKD stage 4
    assert state.allows(3, 60, False) and not state.allows(4, 60, False)  # stage 3 allowed, stage 2 not
    state.add(6, 70)  # third trimester
    assert not state.allows(7, 100, False) and state.allows(7, 400, False)  # trimester goes back only later
    state.add(5, 120)  # delivery
    assert not state.allows(6, 140, False) and not state.allows(5, 200, False) and state.allows(5, 121, False)
    assert not state.allows(8, 300, False) and state.allows(8, 300, True)  # death only as the last claim
    state.add(8, 300)
    assert state.dead and not state.allows(9, 301, True)


def test_preventive_visits_from_age_3_come_no_sooner_than_the_spacing_infants_on_their_schedule():
    codes = [frozenset(x) for x in (["Z0000"], ["Z00129"], ["Z00110"], ["J069"])]
    state = PatientState(RowFacts.of(codes, ages=np.array([40, 8, 0, 40])))
    state.add(0, 0)  # adult general examination
    assert not state.allows(1, 200, False) and state.allows(1, 300, False) and state.allows(3, 10, False)
    assert state.allows(2, 20, False)  # a newborn's check-ups are weeks apart: not spaced
    infant = PatientState(RowFacts.of(codes, ages=np.array([40, 8, 0, 40])))
    infant.add(2, 0)
    assert infant.allows(2, 30, False)


def test_real_reference_patients_break_no_rule_and_shuffled_ones_do(split):
    train, holdout = split
    assert journey_violations(pl.concat([train, holdout])).height == 0
    shuffled = holdout.with_columns(pl.col("patient_id").shuffle(seed=3))
    found = set(journey_violations(shuffled)["rule"].to_list())
    assert {"sex_changes", "age_reverses"} <= found and violation_share(shuffled) > 0.5


def test_each_planted_violation_is_found_on_its_claim_only():
    claims = _claims([
        ("dead", 0, 80, "M", ["I214", "R99"]), ("dead", 5, 80, "M", ["I10"]),
        ("dm", 0, 30, "F", ["E1051"]), ("dm", 50, 30, "F", ["E119"]),
        ("ckd", 0, 70, "M", ["N184"]), ("ckd", 90, 70, "M", ["N1830"]), ("ckd", 200, 71, "M", ["N182"]),
        ("mom", 0, 28, "F", ["Z3403"]), ("mom", 20, 28, "F", ["O80", "Z370"]), ("mom", 40, 28, "F", ["Z3402"]),
        ("mom", 100, 28, "F", ["O80", "Z370"]), ("mom2", 0, 30, "F", ["Z3403"]), ("mom2", 30, 30, "F", ["Z3401"]),
        ("baby", 0, 0, "F", ["Z3800"]), ("baby", 60, 0, "F", ["Z3800"]), ("old", 0, 50, "F", ["I10"]),
        ("old", 30, 49, "F", ["I10"]), ("fine", 0, 60, "M", ["N183"]), ("fine", 30, 60, "M", ["N184"]),
        ("fine", 60, 60, "M", ["N1830"]), ("fine", 90, 60, "M", ["R99"]),
    ])
    found = {(claims["claim_id"][r], rule) for r, _, rule in journey_violations(claims).iter_rows()}
    assert found == {("C1", "after_death"), ("C2", "diabetes_types"), ("C3", "diabetes_types"),
                     ("C6", "ckd_reverses"), ("C9", "prenatal_after_delivery"), ("C10", "delivery_spacing"),
                     ("C12", "trimester_reverses"), ("C14", "newborn_late"), ("C16", "age_reverses")}


def test_the_assembly_keeps_every_rule_on_rows_that_invite_breaking_them(split):
    """Real holdout rows plus planted type-1 / type-2 diabetes, CKD stages and deliveries: the journey model never
    puts both diabetes types, a falling CKD stage, close deliveries or a claim after death on one patient."""
    train, holdout = split
    rows = holdout.drop("patient_id")
    women = rows.filter((pl.col("sex") == "F") & pl.col("age").is_between(25, 35)).head(60)
    planted = [women.with_columns(dx_2=pl.lit(code)) for code in ("E1051", "E119", "N184", "N182", "R99")]
    planted.append(women.with_columns(dx_1=pl.lit("O80"), dx_2=pl.lit("Z370"), claim_type=pl.lit("inpatient")))
    mixed = pl.concat([rows, *planted]).with_columns(claim_id=pl.format("P{}", pl.int_range(pl.len())))
    assembled = JourneyModel.fit(train).assemble(mixed, seed=2)
    assert assembled.height == mixed.height and assembled["patient_id"].n_unique() < 0.5 * assembled.height
    assert journey_violations(assembled).height == 0
    repeats = (assembled.filter(pl.col("dx_1").str.starts_with("Z000") | pl.col("dx_1").str.starts_with("Z001"))
               .sort("patient_id", "service_date").with_columns(gap=pl.col("service_date").diff().over("patient_id"),
                                                                before=pl.col("age").shift().over("patient_id"))
               .drop_nulls("gap").filter(pl.col("before") >= 3))
    assert repeats.height >= 5 and (repeats["gap"].dt.total_days() < 300).mean() < 0.1  # yearly, as in the source


def test_longitudinal_tstr_reaches_trtr_on_real_patients_and_falls_on_planted_failures(split):
    train, holdout = split
    real = admission_tstr(train, holdout, train)
    assert real["tstr"] == pytest.approx(real["trtr"]) and real["trtr"] > 0.65 and 0 < real["holdout_rate"] < 0.5
    scrambled = train.with_columns(pl.col("claim_type").shuffle(seed=4), pl.col("los_days").shuffle(seed=4))
    assert admission_tstr(train, holdout, scrambled)["tstr"] < real["trtr"] - 0.05  # admissions moved at random
    single = admission_tstr(train, holdout, train.with_columns(patient_id=pl.col("claim_id")))
    assert single["tstr"] != single["tstr"]  # one claim per patient: no admission follows, NaN


def test_a_delivery_months_after_a_third_trimester_code_is_refused_and_found():
    """The journey review's patient: O10.013 (hypertension complicating pregnancy, third trimester) nine months
    before a delivery with none between. The O code's title carries the trimester, as Z34's last character does."""
    codes = [frozenset(x) for x in (["O10013"], ["O80", "Z370"], ["O24112"], ["Z3481"])]
    facts = RowFacts.of(codes)
    assert list(facts.trimester) == [3, 0, 2, 1]
    state = PatientState(facts)
    state.add(0, 0)
    assert state.allows(1, 90, False) and not state.allows(1, 270, False)  # within the trimester, not 9 months on
    assert state.allows(1, 400, False)  # another pregnancy could have reached delivery by then
    assert not state.allows(3, 60, False)  # and the trimester does not go back within the pregnancy
    claims = _claims([
        ("late", 0, 30, "F", ["O10013"]), ("late", 270, 30, "F", ["O80", "Z370"]),
        ("term", 0, 31, "F", ["O24112"]), ("term", 150, 31, "F", ["O80", "Z370"]),
        ("next", 0, 27, "F", ["O10013"]), ("next", 80, 27, "F", ["O80", "Z370"]), ("next", 350, 28, "F", ["Z3483"]),
        ("next", 420, 28, "F", ["O80", "Z370"]),
    ])
    found = {(claims["claim_id"][r], rule) for r, _, rule in journey_violations(claims).iter_rows()}
    assert found == {("C1", "delivery_after_trimester")}


def test_on_the_delivery_claim_only_supervision_or_a_first_trimester_reads_as_prenatal_after_delivery():
    """A category without an "in childbirth" code is coded by trimester at the delivery (O36.5930 third
    trimester); Z34 normal-pregnancy supervision or a first trimester on the delivery claim is a contradiction."""
    claims = _claims([("a", 0, 30, "F", ["O99341", "Z370"]), ("b", 0, 30, "F", ["Z3483", "Z370"]),
                      ("c", 0, 30, "F", ["O99343", "Z370"]), ("d", 0, 30, "F", ["O80", "Z370"]),
                      ("d", 20, 30, "F", ["O10013"])])
    found = {(claims["claim_id"][r], rule) for r, _, rule in journey_violations(claims).iter_rows()}
    assert found == {("C0", "prenatal_after_delivery"), ("C1", "prenatal_after_delivery"),
                     ("C4", "prenatal_after_delivery")}

"""Issue 17's upcoding and status-vs-plan misses: a 99215 on a stable problem argued with "severely uncontrolled,
intensive management started, follow up in one week" and then acetaminophen; "stable" with an escalated plan;
"uncontrolled" continued for six months; 39.3 C at 82 called free of red flags with a 9-day recheck. The writer
documents such claims as they are, and the judge flags what the note's own evidence does not carry."""

from __future__ import annotations

import polars as pl
import pytest

from synth_ehr_assets.core.narratives.design import design_note
from synth_ehr_assets.core.narratives.detectors import detect

SEED = 7
BASE = {"claim_type": "professional", "sex": "F", "provider_specialty": "family_medicine", "los_days": None,
        "drg": None}
SIMPLE = {"htn": {"age": 61, "dx_1": "I10", "px_1": "99215"}, "knee": {"age": 67, "dx_1": "M170", "px_1": "99205"}}
FEVER = {"age": 82, "sex": "M", "dx_1": "J111", "px_1": "99213"}


@pytest.fixture(scope="module")
def knowledge(narrative_knowledge):
    return narrative_knowledge(pl.DataFrame([{**BASE, **c} for c in (*SIMPLE.values(), FEVER)],
                                            infer_schema_length=None))


def _kinds(note: str, claim: dict) -> set[str]:
    return {f.kind for f in detect(note, claim)}


@pytest.mark.parametrize("name", list(SIMPLE))
def test_a_high_level_on_one_simple_problem_is_written_as_it_is_and_flagged(name, knowledge):
    for i in range(10):
        claim = {**BASE, "claim_id": f"{name}-{i}", **SIMPLE[name]}
        note = design_note(claim, SEED, knowledge)
        assessment = note.split("Assessment:")[1].split("Plan:")[0]
        assert "severe" not in assessment and "intensive" not in assessment, note
        assert "one week" not in note, note
        found = [f for f in detect(note, claim) if f.kind == "em_level"]
        assert found and "does not show as severe" in found[-1].reason, note
        assert {f.kind for f in detect(note, {**claim, "px_1": "99213"})} == set(), note


FORCED = ("Subjective: A 61-year-old woman returns for follow-up of high blood pressure. No new complaints today."
          "\nObjective: Vitals: BP {bp}, HR 76, RR 14, T 36.8 C, SpO2 98%. Exam: no acute distress; regular rate "
          "and rhythm.\nAssessment: 1. Essential hypertension (I10), severely uncontrolled, intensive management "
          "started.\nPlan: {plan}; follow up in one week.")
CLAIM = {**BASE, "claim_id": "f", "age": 61, "dx_1": "I10", "px_1": "99215"}


def test_forced_severity_is_flagged_and_named_unless_the_vitals_carry_it():
    found = [f for f in detect(FORCED.format(bp="128/78", plan="Acetaminophen as needed"), CLAIM)
             if f.kind == "em_level"]
    assert found and found[0].sentence.startswith("1. Essential hypertension (I10), severely uncontrolled")
    assert "no severe vital" in found[0].reason
    carried = FORCED.format(bp="188/114", plan="Add amlodipine; labs for end-organ damage")
    assert "em_level" not in _kinds(carried, CLAIM)


STATUS = ("Subjective: An 82-year-old man comes in with {what}. He reports fever, cough and body aches for two days."
          "\nObjective: Vitals: BP 128/74, HR {hr}, RR 18, T {t} C, SpO2 96%. Exam: appears unwell; lungs clear."
          "\nAssessment: 1. {label} ({code}), {status}.\nPlan: {plan}.")
FLU = {**BASE, "claim_id": "s", "age": 82, "sex": "M", "dx_1": "J111", "px_1": "99213"}
HTN = {**BASE, "claim_id": "h", "age": 61, "dx_1": "I10", "px_1": "99213"}


def _status(claim, **parts) -> list:
    fields = {"what": "influenza", "hr": 84, "t": "37.0", "label": "Influenza", "code": "J11.1", **parts}
    return [f for f in detect(STATUS.format(**fields), claim) if f.kind == "status_plan"]


def test_a_status_the_plan_or_the_vitals_contradict_is_flagged():
    fever = _status(FLU, t="39.3", status="acute, no red flags", plan="Oseltamivir; recheck in 9 days")
    assert fever and "T 39.3 C at age 82" in fever[0].reason and fever[0].sentence.startswith("1. Influenza")
    stable = _status(HTN, what="high blood pressure", label="Essential hypertension", code="I10",
                     status="stable, well controlled", plan="Increase lisinopril; recheck in 3 months")
    assert stable and "escalates" in stable[0].reason
    uncontrolled = _status(HTN, what="high blood pressure", label="Essential hypertension", code="I10",
                           status="uncontrolled", plan="Continue current therapy; recheck in 6 months")
    assert uncontrolled and "180 days" in uncontrolled[0].reason


def test_a_status_that_fits_its_plan_and_vitals_passes():
    assert not _status(FLU, t="39.3", status="acute, with fever at 82; close follow-up needed",
                       plan="Oseltamivir; recheck tomorrow, sooner if worse")
    assert not _status(FLU, t="37.4", status="acute, no red flags", plan="Oseltamivir; recheck in 9 days")
    assert not _status(HTN, what="high blood pressure", label="Essential hypertension", code="I10",
                       status="uncontrolled", plan="Adjust lisinopril; recheck in 2 weeks")
    assert not _status(HTN, what="high blood pressure", label="Essential hypertension", code="I10",
                       status="stable", plan="Continue lisinopril; recheck in 6 months")


def test_the_writer_does_not_call_a_high_fever_at_82_benign(knowledge):
    febrile = 0
    for i in range(15):
        claim = {**BASE, "claim_id": f"flu-{i}", **FEVER}
        note = design_note(claim, SEED, knowledge)
        assert detect(note, claim) == [], note
        if "T 3" in note and any(f"T 3{d}" in note for d in "89"):
            febrile += 1
            assert "no red flags" not in note and "uncomplicated" not in note, note
    assert febrile


def test_a_lipid_problem_called_at_goal_beside_its_own_high_ldl_is_flagged():
    note = ("Subjective: A 61-year-old woman returns for follow-up of high cholesterol. No new complaints today."
            "\nObjective: Vitals: BP 122/76, HR 70, RR 14, T 36.8 C, SpO2 98%. Exam: no acute distress. Results: "
            "lipid panel with LDL {ldl} mg/dL.\nAssessment: 1. Hyperlipidemia (E78.5), {status}.\nPlan: {plan}; "
            "recheck in 3 months.")
    claim = {**BASE, "claim_id": "l", "age": 61, "dx_1": "E785", "px_1": "99213", "px_2": "80061"}
    flagged = [f for f in detect(note.format(ldl=171, status="chronic, at goal", plan="Continue statin therapy"),
                                 claim) if f.kind == "status_plan"]
    assert flagged and "LDL 171" in flagged[0].reason
    fits = note.format(ldl=171, status="LDL 171 mg/dL, above goal; statin therapy intensified",
                       plan="Adjust statin therapy")
    assert _kinds(fits, claim) == set()
    assert _kinds(note.format(ldl=96, status="chronic, at goal", plan="Continue statin therapy"), claim) == set()

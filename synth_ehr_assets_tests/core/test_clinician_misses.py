"""What a clinician caught in the demo's notes and the judge did not: a conversant infant, MMR in infancy, O24.12
named as gestational diabetes, a stay "complicated by hyperlipidemia", a child's raised BP called controlled, and
a moderate E/M level for one stable problem. The writer no longer writes them; the judge flags each."""

from __future__ import annotations

import polars as pl
import pytest

from synth_ehr_assets.core.narratives.design import design_note
from synth_ehr_assets.core.narratives.detectors import detect
from synth_ehr_assets.core.narratives.vitals import raised_bp

SEED = 7
BASE = {"claim_type": "professional", "sex": "F", "provider_specialty": "family_medicine", "los_days": None,
        "drg": None}
CLAIMS = {  # claims that led to the misses, with what the writer must say instead
    "infant": {"age": 0, "dx_1": "Z00129", "px_1": "99391", "px_2": "90707", "px_3": "90460"},
    "o2412": {"age": 31, "claim_type": "inpatient", "dx_1": "O2412", "dx_2": "Z370", "dx_3": "Z3A39",
              "px_1": "10E0XZZ", "drg": "807", "los_days": 2, "provider_specialty": "obstetrics_gynecology"},
    "course": {"age": 71, "sex": "M", "claim_type": "inpatient", "dx_1": "J189", "dx_2": "E785", "dx_3": "M1711",
               "drg": "193", "los_days": 4, "provider_specialty": "internal_medicine"},
    "teen_htn": {"age": 14, "dx_1": "G43909", "dx_2": "I10", "px_1": "99213", "provider_specialty": "neurology"},
    "upcoded": {"age": 63, "dx_1": "F17210", "px_1": "99214", "px_2": "99406", "payer": "self_pay",
                "provider_specialty": "psychiatry"},
    "cold": {"age": 34, "dx_1": "J069", "px_1": "99213"},  # a low level fits one acute problem
}


@pytest.fixture(scope="module")
def knowledge(narrative_knowledge):
    frame = pl.DataFrame([{**BASE, **c} for c in CLAIMS.values()], infer_schema_length=None)
    return narrative_knowledge(frame)


def _claim(name: str, claim_id: str = "c1") -> dict:
    return {**BASE, "claim_id": f"{name}-{claim_id}", **CLAIMS[name]}


@pytest.mark.parametrize("name", list(CLAIMS))
def test_the_writer_documents_these_claims_without_a_finding(name, knowledge):
    for i in range(12):  # several claim ids: several draws of wording and vitals
        claim = _claim(name, str(i))
        note = design_note(claim, SEED, knowledge)
        assert detect(note, claim) == [], note
        if name == "infant":
            assert "conversant" not in note and "early MMR dose" in note
        if name == "o2412":
            assert "gestational" not in note and "pre-existing type 2 diabetes at delivery" in note
        if name == "course":
            assert "complicated by hyperlipidemia" not in note and "complicated by osteoarthritis" not in note
        if name == "upcoded":
            assert "No new complaints" not in note


def test_a_child_s_blood_pressure_is_judged_by_percentile_for_age():
    assert raised_bp(5) == (108, 67) and raised_bp(14) == (130, 80) and raised_bp(40) == (140, 90)
    assert raised_bp(0) is None
    note = ("Subjective: A {a}-year-old girl returns for follow-up of high blood pressure.\nObjective: Vitals: "
            "BP {bp}, HR 80, RR 16, T 36.8 C, SpO2 98%. Exam: alert, in no distress; regular rate and rhythm."
            "\nAssessment: 1. Essential hypertension (I10), controlled on the current regimen.\nPlan: Home blood "
            "pressure log; follow up in 3 months.")
    claim = {**BASE, "claim_id": "bp", "dx_1": "I10", "px_1": "99213"}

    def kinds(age, bp):
        return {f.kind for f in detect(note.format(a=age, bp=bp), {**claim, "age": age})}

    assert "bp_control" in kinds(14, "138/79")  # the case: stage 1 at 14
    assert "bp_control" not in kinds(40, "138/79")
    assert "bp_control" in kinds(5, "112/60") and "bp_control" not in kinds(5, "100/60")
    assert "bp_control" in kinds(50, "146/84")


URI = {**BASE, "claim_id": "u", "age": 34, "dx_1": "J069", "px_1": "99213"}
NOTE = ("Subjective: A 34-year-old woman comes in with a cold. She reports runny nose and sore throat for two days."
        "\nObjective: Vitals: BP 118/72, HR 78, RR 14, T 37.0 C, SpO2 98%. Exam: no acute distress; nasal mucosa "
        "congested; lungs clear.\nAssessment: 1. Viral upper respiratory infection (J06.9), acute, uncomplicated."
        "\nPlan: Fluids and rest; return in 5 days if not improving.")
CASES = [  # (claim changes, (old, new) note edit, kind)
    ({"age": 1}, ("no acute distress", "comfortable, conversant"), "exam_age"),
    ({"age": 0}, ("Fluids and rest", "Fluids and rest; MMR vaccine given today"), "vaccine_age"),
    ({"age": 12}, ("Fluids and rest", "Fluids and rest; DTaP dose given today"), "vaccine_age"),
    ({"dx_2": "O2412"}, ("lungs clear.", "lungs clear. Known gestational diabetes."), "dx_label"),
    ({"dx_2": "E119"}, ("lungs clear.", "lungs clear. Type 1 diabetes on insulin."), "dx_label"),
    ({"claim_type": "inpatient", "los_days": 2},
     ("Plan: Fluids", "Hospital course: Over a 2-day stay, complicated by hyperlipidemia, she improved.\n"
                      "Discharge: Discharged home on hospital day 2.\nPlan: Fluids"), "course_complication"),
    ({"px_1": "99214"}, ("She reports runny nose and sore throat for two days.", "No new complaints today."),
     "em_level"),
    ({"px_1": "99203"}, ("comes in with a cold", "returns for follow-up of a cold"), "em_level"),  # a new patient
    ({}, ("return in 5 days", "results will be sent by portal; return in 5 days"), "result_without_test"),
]


@pytest.mark.parametrize(("changes", "edit", "kind"), CASES, ids=[c[2] for c in CASES])
def test_each_new_detector_flags_its_miss(changes, edit, kind):
    claim = {**URI, **changes}
    hit = [f for f in detect(NOTE.replace(*edit), claim) if f.kind == kind]
    assert hit
    assert not [f for f in detect(NOTE, {**URI, **{k: v for k, v in changes.items() if k == "claim_type"}})
                if f.kind == kind]


def test_the_new_detectors_accept_what_fits():
    travel = NOTE.replace("Fluids and rest", "Fluids and rest; early MMR dose given before international travel")
    assert not [f for f in detect(travel, {**URI, "age": 0}) if f.kind == "vaccine_age"]
    pre = NOTE.replace("lungs clear.", "lungs clear. Pre-existing type 2 diabetes at delivery.")
    assert not [f for f in detect(pre, {**URI, "dx_2": "O2412"}) if f.kind == "dx_label"]
    history = NOTE.replace("lungs clear.", "lungs clear. Personal history of gestational diabetes.")
    assert not [f for f in detect(history, {**URI, "dx_2": "E119"}) if f.kind == "dx_label"]
    worse = NOTE.replace("acute, uncomplicated", "acute illness with systemic symptoms").replace("T 37.0", "T 38.6")
    assert not [f for f in detect(worse, {**URI, "px_1": "99214"}) if f.kind == "em_level"]
    unsupported = NOTE.replace("acute, uncomplicated", "acute illness with systemic symptoms")  # afebrile
    assert [f for f in detect(unsupported, {**URI, "px_1": "99214"}) if f.kind == "em_level"]
    two = NOTE.replace("uncomplicated.", "uncomplicated. 2. Asthma (J45.909), stable.")
    assert not [f for f in detect(two, {**URI, "px_1": "99214", "dx_2": "J45909"}) if f.kind == "em_level"]
    assert [f for f in detect(two, {**URI, "px_1": "99215", "dx_2": "J45909"}) if f.kind == "em_level"]


def test_calibration_plants_the_new_kinds_and_catches_them(knowledge):
    from synth_ehr_assets.core.narratives.calibration import calibration_report

    rows = [_claim(name, str(i)) for name in CLAIMS for i in range(20)]
    claims = pl.DataFrame(rows, infer_schema_length=None)
    notes = {c["claim_id"]: design_note(c, SEED, knowledge) for c in rows}
    report = calibration_report(claims, notes, "design", per_kind=10, seed=SEED)
    new = ("exam_age", "vaccine_age", "bp_control", "dx_label", "course_complication", "em_level", "em_forced",
           "status_plan")
    assert all(report["recall"].get(kind, 0) >= 0.9 for kind in new), report["recall"]
    assert report["clean_flag_rate"] == 0.0, report


def test_the_llm_weight_reads_the_recorded_auroc_of_the_judge_model(tmp_path, monkeypatch):
    from synth_ehr_assets.core.narratives import llm_calibration as lc
    from synth_ehr_assets.core.narratives.judge import llm_weight

    recorded = lc.recorded_auroc("smollm2-135m-instruct")  # measured by benchmarks/llm_judge_auroc.py
    assert recorded is not None and recorded["cases"] >= 80 and recorded["notes_engine"] == "llm"
    assert llm_weight(lc.effective_auroc("smollm2-135m-instruct", 0.95)) == 0.0  # a lucky release sample
    path = tmp_path / "auroc.json"
    monkeypatch.setattr(lc, "RECORDED", path)
    lc.record("big-judge", {"auroc": 0.88, "cases": 120}, path)
    assert lc.effective_auroc("big-judge", 0.93) == 0.88 and lc.effective_auroc("big-judge", None) == 0.88
    assert lc.effective_auroc("unknown", 0.8) == 0.8 and lc.effective_auroc(None, None) is None
    lc._recorded.cache_clear()

"""Judge: PHI scan, one detector per defect kind on hand-written notes, combined score and LLM weight, gate,
planted-defect calibration."""

from __future__ import annotations

import polars as pl
import pytest

from synth_ehr_assets.core.narratives.calibration import calibration_report
from synth_ehr_assets.core.narratives.config import NarrativeConfig
from synth_ehr_assets.core.narratives.design import design_note
from synth_ehr_assets.core.narratives.detectors import detect
from synth_ehr_assets.core.narratives.judge import (
    combined_score,
    demographic_issues,
    judge_frame,
    judge_gate,
    llm_weight,
    rationale_problem,
)
from synth_ehr_assets.core.narratives.phi import phi_report, scan_phi

SEED = 7


def _journey_notes(frame: pl.DataFrame, knowledge, claims=None) -> list[str]:
    """Design notes of `claims` (default `frame`) with their patients' earlier claims in `frame`, as a release
    writes them (the judge reads each note against that journey)."""
    from synth_ehr_assets.core.narratives.journey_context import journey_contexts

    contexts = journey_contexts(frame)
    return [design_note(c, SEED, knowledge, journey=contexts[c["claim_id"]])
            for c in (claims if claims is not None else frame.iter_rows(named=True))]


@pytest.fixture(scope="module")
def claims() -> pl.DataFrame:
    from synth_ehr_assets.core.reference import generate_reference_claims

    return generate_reference_claims(600, seed=4, release_id="judge")


@pytest.fixture(scope="module")
def knowledge(claims, narrative_knowledge):
    return narrative_knowledge(claims)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("SSN 123-45-6789 on file", "ssn"),
        ("call back at (555) 867-5309", "phone"),
        ("reach her at jo.doe@example.org", "email"),
        ("MRN: A12345678", "mrn"),
        ("record # 4455667", "mrn"),
        ("DOB: 03/14/1952", "dob"),
        ("date of birth March 14, 1952", "dob"),
        ("seen on 2024-03-01", "date"),
        ("Patient John Smith reports chest pain", "name"),
        ("seen today by Dr. Wilson", "name"),
        ("Mrs. Gonzalez is here", "name"),
    ],
)
def test_phi_scan_finds_identifiers(text, kind):
    hits = scan_phi(text)
    assert [h.kind for h in hits] == [kind]
    assert text[hits[0].start:hits[0].end] == hits[0].text


def test_phi_scan_leaves_clinical_text_and_eponyms_alone():
    clinical = (
        "Crohn disease of small intestine; Parkinson's disease; Alzheimer's disease; Hodgkin lymphoma; Graves "
        "disease; Wilson disease; Down syndrome; Bell's palsy; Baker cyst; Murphy sign negative. BP 132/84 mmHg, "
        "HR 88, SpO2 97%, A1c 7.2%, glucose 182 mg/dL, E11.9, I50.9, weight 82.5 kg, follow up in 2 weeks."
    )
    assert scan_phi(clinical) == []
    report = phi_report(["a", "b", "c"], ["no identifiers here", "call 555-867-5309", None])
    assert report == {"phi_hits": 1, "offending_claim_ids": ["b"], "kinds": ["phone"]}


def test_demographic_wording():
    assert demographic_issues("A 70-year-old woman; she reports cough.", 70, "F") == []
    assert "female wording for a male patient" in demographic_issues("She reports cough. Her chest hurts.", 60, "M")
    assert "pregnancy or female anatomy for a male patient" in demographic_issues("He is pregnant.", 30, "M")
    assert "pediatric wording for an adult" in demographic_issues("A 9-year-old boy with asthma.", 45, "M")
    assert any("another age group" in i for i in demographic_issues("An 80-year-old man.", 8, "M"))
    assert demographic_issues("Obstructive sleep apnea (adult) (pediatric).", 50, "M") == []


URI = {"claim_id": "u", "claim_type": "professional", "age": 34, "sex": "F", "dx_1": "J069", "px_1": "99213",
       "provider_specialty": "family_medicine"}
GOOD_URI = ("Subjective: A 34-year-old woman comes in with a cold. She reports runny nose and sore throat for two "
            "days.\nObjective: Vitals: BP 118/72, HR 78, RR 14, T 37.0 C, SpO2 98%. Exam: no acute distress; "
            "nasal mucosa congested; lungs clear.\nAssessment: 1. Viral upper respiratory infection (J06.9), acute."
            "\nPlan: Fluids and rest; return in 5 days if not improving.")
CASES = [  # (claim changes, note edit: (old, new) or text appended to a section, expected kind)
    ({}, ("She reports runny nose", "She reports hemorrhage from respiratory passages and runny nose"), "code_title"),
    ({}, ("Fluids and rest", "Fluids and rest; developmental monitoring"), "plan_age"),
    ({"age": 7}, ("Fluids and rest", "Fluids and rest; smoking cessation counseling"), "plan_age"),
    ({"dx_1": "I214", "claim_type": "professional"}, ("Viral upper respiratory infection (J06.9)",
                                                      "NSTEMI (I21.4)"), "plan_acuity"),
    ({}, ("Fluids and rest", "Amoxicillin course"), "plan_diagnosis"),
    ({"provider_specialty": "cardiology"}, ("Fluids and rest", "Fluids and rest; referral to cardiology"),
     "plan_specialty"),
    ({}, ("runny nose and", "jaw pain and"), "symptom_diagnosis"),
    ({}, ("runny nose and", "fever and"), "symptom_vitals"),
    ({}, ("SpO2 98%", "SpO2 88%"), "distress_vitals"),
    ({}, ("in 5 days", "in 11 weeks"), "followup_acuity"),
    ({"dx_2": "E119"}, None, "dx_missing"),
    ({}, ("lungs clear.", "lungs clear. Chest X-ray shows no infiltrate."), "result_without_test"),
    ({"px_2": "87880"}, None, "px_missing"),
    ({"claim_type": "outpatient", "px_1": "99284"}, None, "ed_mdm"),
    ({"claim_type": "inpatient", "los_days": 3}, None, "inpatient_course"),
    ({"sex": "M"}, None, "demographics"),
    ({}, ("for two days.", "for two days. Call 555-867-5309."), "phi"),
]


def test_clean_hand_written_note_passes_every_detector():
    assert detect(GOOD_URI, URI) == []


@pytest.mark.parametrize(("changes", "edit", "kind"), CASES, ids=[c[2] for c in CASES])
def test_each_detector_names_the_sentence_it_objects_to(changes, edit, kind):
    note = GOOD_URI.replace(*edit) if edit else GOOD_URI
    findings = detect(note, {**URI, **changes})
    hit = [f for f in findings if f.kind == kind]
    assert hit, findings
    if edit:  # the named sentence is the edited one (the vitals for distress: the exam sentence)
        added = set(edit[1].split()) - set(edit[0].split())
        assert any(added & set(f.sentence.split()) or kind in ("plan_acuity", "distress_vitals") for f in hit), hit


def test_symptom_vitals_detector_reads_the_vitals_in_the_text():
    febrile = GOOD_URI.replace("runny nose and", "fever and").replace("T 37.0 C", "T 38.6 C")
    assert not [f for f in detect(febrile, URI) if f.kind == "symptom_vitals"]
    murmur = GOOD_URI.replace("runny nose and", "a heart murmur and").replace("lungs clear.", "lungs clear; no murmurs.")
    assert any("murmur" in f.reason for f in detect(murmur, URI))
    child = {**URI, "age": 1, "sex": "F"}
    fast = GOOD_URI.replace("34-year-old woman", "1-year-old girl").replace("HR 78", "HR 135")
    fast = fast.replace("She reports", "The parent reports tachycardia,")
    assert any(f.kind == "symptom_vitals" for f in detect(fast, child))  # 135 is normal at one year


def test_combined_score_and_the_llm_weight_earned_by_calibration():
    assert combined_score([]) == 1.0 and combined_score(["phi", "code_title"]) == 0.5
    poor = {"plausibility": 1, "relevance": 1, "coherence": 1, "rationale": "The plan ignores the fever."}
    assert combined_score([], poor, llm_weight=0.0) == 1.0  # an uncalibrated LLM judge carries no weight
    assert 0.6 < combined_score([], poor, llm_weight=0.4) < 1.0
    assert llm_weight(0.65) == 0.0 and llm_weight(None) == 0.0 and llm_weight(1.0) == 0.4
    assert 0 < llm_weight(0.85) < 0.4


def test_a_rationale_that_is_not_prose_about_the_note_is_a_failure():
    assert rationale_problem("Cecco di cibo di cibo di cibo di cibo.", GOOD_URI) == "rationale repeats itself"
    assert rationale_problem("Good.", GOOD_URI) == "rationale too short"
    assert rationale_problem("Weather forecasts predict heavy snowfall tomorrow morning.", GOOD_URI) is not None
    assert rationale_problem("The plan fits a viral upper respiratory infection with sore throat.", GOOD_URI) is None


def test_judge_frame_and_gate(claims, knowledge):
    sample = claims.head(30)
    notes = pl.DataFrame({
        "release_id": "judge", "claim_id": sample["claim_id"],
        "note": _journey_notes(sample, knowledge),
    }).with_columns(pl.when(pl.int_range(pl.len()) == 0).then(None).otherwise(pl.col("note")).alias("note"),
                    failure_reason=pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("timeout")))
    ids = sample["claim_id"].to_list()
    llm = {ids[1]: {"plausibility": 4, "relevance": 5, "coherence": 4,
                    "rationale": "The assessment and plan match the diagnoses and the findings."},
           ids[2]: {"plausibility": 5, "relevance": 5, "coherence": 5, "rationale": "Cecco di cibo di cibo di cibo."}}
    judged = judge_frame(notes, sample, knowledge, NarrativeConfig(), llm, llm_auroc=0.5)
    assert judged.height == 30 and judged["passed"][1:].mean() >= 0.9
    assert not judged["passed"][0] and judged["rationale"][0] == "no note: timeout"
    assert judged["relevance"][1] == 5 and judged["llm_status"][1] == "ok"
    assert judged["llm_status"][2].startswith("failed") and judged["relevance"][2] is None
    assert judged["combined_score"][1] == judged["detector_score"][1]  # AUROC 0.5: no LLM weight
    assert judge_gate(judged[1:], None, None)["passed"] and judge_gate(judged[1:], 4.0, 0.1)["passed"]

    wrong_sex = notes.with_columns(note=pl.Series(_journey_notes(
        sample, knowledge, [{**c, "sex": "F" if c["sex"] == "M" else "M"} for c in sample.iter_rows(named=True)])))
    mismatched = judge_frame(wrong_sex, sample, knowledge)
    assert mismatched["flagged_sentences"].drop_nulls().str.contains("demographics").all()
    gate = judge_gate(mismatched, None, None)
    assert not gate["passed"] and "pass share" in gate["failures"][0]
    strict = judge_gate(mismatched.with_columns(combined_score=pl.lit(0.25)), 4.5, 0.0)
    assert any("mean relevance" in f for f in strict["failures"]) and any("below 3" in f for f in strict["failures"])
    weak = judge_gate(judged[1:], None, None, calibration={"recall": {"phi": 0.5}, "min_recall": 0.5,
                                                           "clean_flag_rate": 0.2})
    assert any("recall" in f for f in weak["failures"]) and any("clean notes" in f for f in weak["failures"])
    few = {"recall": {"phi": 1.0}, "min_recall": 1.0, "clean_flag_rate": 0.1, "clean_notes": 10}  # 1 of 10
    assert judge_gate(judged[1:], None, None, calibration=few)["passed"]
    many = {**few, "clean_flag_rate": 0.1, "clean_notes": 1000}  # 100 of 1,000: lower limit 0.083
    assert not judge_gate(judged[1:], None, None, calibration=many)["passed"]


def test_calibration_catches_every_planted_kind_at_a_low_false_flag_rate(claims, knowledge):
    notes = dict(zip(claims["claim_id"], _journey_notes(claims, knowledge)))
    report = calibration_report(claims, notes, "design", per_kind=12, seed=SEED)
    # a sample without infants cannot take an infant's exam defect (planted in test_clinician_misses)
    assert report["kinds_planted"] >= 10 and set(report["kinds_missing"]) <= {"exam_age"}, report
    assert report["min_recall"] >= 0.9, report["recall"]
    assert report["clean_flag_rate"] <= 0.05 and report["auroc"] >= 0.95, report

    def coin(pairs):  # an LLM judge whose scores ignore the note: its AUROC stays near 0.5, so it earns no weight
        import random

        rng = random.Random(1)
        return [{"plausibility": s, "relevance": s, "coherence": s,
                 "rationale": "The note describes the visit and the plan for this patient."}
                for s in (rng.choice((1, 5)) for _ in pairs)]

    with_llm = calibration_report(claims, notes, "design", per_kind=6, seed=SEED, llm_judge=coin, llm_cases=80)
    assert with_llm["llm_cases"] == 80 and llm_weight(with_llm["llm_auroc"]) == 0.0, with_llm["llm_auroc"]


def test_findings_read_once_give_the_same_verdicts_and_calibration(claims, knowledge):
    from synth_ehr_assets.core.narratives.design import design_notes
    from synth_ehr_assets.core.narratives.judge import note_findings

    sample = claims.head(150)
    notes = design_notes(sample, knowledge, SEED)
    findings = note_findings(notes, sample, knowledge)
    assert len(findings) == notes.height
    assert judge_frame(notes, sample, knowledge, findings=findings).equals(judge_frame(notes, sample, knowledge))
    texts = dict(zip(notes["claim_id"], notes["note"]))
    assert calibration_report(sample, texts, "design", 4, SEED, findings=findings) == \
        calibration_report(sample, texts, "design", 4, SEED)

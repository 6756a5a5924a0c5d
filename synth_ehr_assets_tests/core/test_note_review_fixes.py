"""What a claims reviewer read in generated notes: a 2-year-old reporting "pleuritic chest pain", an exam with
"trace ankle edema; trace bilateral ankle edema" (heart failure and CKD), and "type 2 diabetes" listed beside
"type 2 diabetes with hyperglycemia" as two chronic problems, in the note and in its History line."""

from __future__ import annotations

import datetime as dt
import random
import re

import polars as pl

from synth_ehr_assets.core.narratives import phrasing as ph
from synth_ehr_assets.core.narratives.design import design_note
from synth_ehr_assets.core.narratives.detectors import detect
from synth_ehr_assets.core.narratives.journey_context import journey_contexts
from synth_ehr_assets.core.narratives.symptoms import candidate_symptoms
from synth_ehr_assets.core.narratives.vitals import Vitals

SEED = 7
BASE = {"claim_type": "professional", "sex": "M", "provider_specialty": "family_medicine", "los_days": None,
        "drg": None, "px_1": "99214"}
SELF_REPORTED = re.compile(r"pleuritic|pressure-like|radiat|tingling|numbness|lightheaded|gritty|productive", re.I)


def _claim(claim_id: str, age: int, *dx: str, **more) -> dict:
    return {**BASE, "claim_id": claim_id, "age": age, **{f"dx_{i}": c for i, c in enumerate(dx, 1)}, **more}


def _section(note: str, name: str) -> str:
    return next(line for line in note.splitlines() if line.startswith(name))


def test_a_young_child_reports_no_sensation_only_an_older_patient_can_describe():
    toddler = [design_note(_claim(f"p{i}", 2, "J189"), SEED) for i in range(30)]
    assert not any(SELF_REPORTED.search(_section(n, "Subjective")) for n in toddler), toddler
    found = {f.kind for i, n in enumerate(toddler) for f in detect(n, _claim(f"p{i}", 2, "J189"))}
    assert not found & {"symptom_diagnosis", "symptom_vitals", "exam_age"}, found
    assert any("fussiness" in n for n in toddler) and any("wet cough" in n for n in toddler)
    assert "pleuritic chest pain" in [t for _, t in candidate_symptoms(_claim("a", 40, "J189"))]
    young = [t for _, t in candidate_symptoms(_claim("y", 3, "J189"))]
    assert "pleuritic chest pain" not in young and "fussiness" in young
    exams = [_section(design_note(_claim(f"d{i}", 4, "E1065"), SEED), "Objective") for i in range(30)]
    assert not any("monofilament" in e for e in exams), exams  # a 4-year-old cannot report sensation
    assert any("monofilament" in _section(design_note(_claim(f"d{i}", 40, "E1065"), SEED), "Objective")
               for i in range(30))


def test_an_exam_names_a_finding_once_in_its_most_specific_words():
    assert ph.specific_findings(["trace ankle edema", "no asterixis", "trace bilateral ankle edema", "pale",
                                 "pale conjunctivae", "no asterixis"]) == [
        "no asterixis", "trace bilateral ankle edema", "pale conjunctivae"]
    exams = [_section(design_note(_claim(f"h{i}", 70, "I5022", "N1830"), SEED), "Objective") for i in range(20)]
    assert any("trace bilateral ankle edema" in e for e in exams)
    assert not any(re.search(r"trace ankle edema", e) for e in exams), exams


def test_one_chronic_condition_coded_twice_is_listed_once_as_its_most_specific_code():
    titles = {"E119": "type 2 diabetes", "E1165": "type 2 diabetes with hyperglycemia",
              "E1122": "type 2 diabetes with diabetic kidney disease", "I10": "hypertension", "I509": "heart failure",
              "I5022": "chronic systolic heart failure"}
    assert ph.specific_problems(list(titles), titles.get) == ["E1165", "E1122", "I10", "I5022"]
    for i in range(12):
        note = design_note(_claim(f"t{i}", 70, "I5022", "N1830", "E119", "E1165"), SEED)
        subjective, plan = _section(note, "Subjective"), _section(note, "Plan")
        assert "type 2 diabetes with hyperglycemia" in subjective, note
        assert not re.search(r"type 2 diabetes(?! with)", subjective + plan), note
        assert "(E11.9)" in note  # the assessment still accounts for every billed code


def test_the_history_line_cites_one_chronic_condition_coded_twice_once_since_its_first_coding():
    rows = [_claim("j1", 66, "I10", "E119", patient_id="A", service_date=dt.date(2024, 2, 1)),
            _claim("j2", 66, "I10", "E1165", patient_id="A", service_date=dt.date(2025, 1, 10)),
            _claim("j3", 67, "I10", patient_id="A", service_date=dt.date(2025, 6, 1))]
    frame = pl.DataFrame([{**r, **{f"dx_{i}": r.get(f"dx_{i}") for i in range(1, 11)},
                           **{f"px_{i}": r.get(f"px_{i}") for i in range(1, 7)}} for r in rows])
    context = journey_contexts(frame)["j3"]
    assert {c for c, _ in context.chronic} >= {"E119", "E1165"}
    history = _section(design_note(rows[2], SEED, journey=context), "History")
    assert "type 2 diabetes with hyperglycemia (since 2024)" in history, history
    assert not re.search(r"type 2 diabetes(?! with)", history), history


RHYTHM_CLAIMED_REGULAR = re.compile(r"(?<!ir)regular rate|heart regular|(?<!ir)regular rhythm|sinus rhythm", re.I)


def test_an_irregular_rhythm_finding_is_not_contradicted_by_a_regular_rhythm_statement():
    """Atrial fibrillation beside hypertension: "irregularly irregular rhythm; ...; regular rate and rhythm"."""
    exams = [_section(design_note(_claim(f"af{i}", 70, "I4891", "I10", "E119", provider_specialty="cardiology"),
                                  SEED), "Objective") for i in range(60)]
    assert any("irregularly irregular rhythm" in e for e in exams), exams
    clashing = [e for e in exams if "irregular" in e and RHYTHM_CLAIMED_REGULAR.search(e)]
    assert not clashing, clashing
    assert any(RHYTHM_CLAIMED_REGULAR.search(_section(design_note(_claim(f"h{i}", 70, "I10"), SEED), "Objective"))
               for i in range(20))  # without the arrhythmia the normal statement stays


def test_the_general_rule_drops_a_normal_statement_an_abnormal_finding_of_its_system_contradicts():
    vitals = Vitals(130, 80, 72, 16, 36.8, 97)
    for seed in range(30):
        exam = ph.exam(vitals, 70, set(), ["irregularly irregular rhythm", "regular rate and rhythm"], [],
                       random.Random(seed))
        assert not RHYTHM_CLAIMED_REGULAR.search(exam), exam
        kept = ph.exam(vitals, 70, set(), ["no peripheral edema", "regular rate and rhythm"], [], random.Random(seed))
        assert "regular rate and rhythm" in kept, kept


LUTS = re.compile(r"urine stream|at night to urinate|urinary frequency|urgency|dribbl|hesitan|nocturia", re.I)


def test_bph_without_lower_urinary_tract_symptoms_reports_none_while_bph_with_them_does():
    without = [design_note(_claim(f"b{i}", 68, "N400", provider_specialty="urology"), SEED) for i in range(30)]
    assert not any(LUTS.search(_section(n, "Subjective")) for n in without), without
    assert any("enlarged prostate" in _section(n, "Objective") for n in without), without
    with_luts = [design_note(_claim(f"l{i}", 68, "N401", provider_specialty="urology"), SEED) for i in range(30)]
    assert all(LUTS.search(_section(n, "Subjective")) for n in with_luts), with_luts

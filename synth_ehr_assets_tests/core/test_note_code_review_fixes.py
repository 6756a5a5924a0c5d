"""What a claims reviewer read in generated notes, second round: "regular rate and rhythm" on a claim that bills
atrial fibrillation as a secondary diagnosis, "recheck in two weeks" after a statin change, "age-appropriate
screening reviewed" on a flu-shot visit, and "chronic kidney disease" listed beside "hypertensive chronic kidney
disease" as a second problem."""

from __future__ import annotations

import random
import re

from synth_ehr_assets.core.narratives import phrasing as ph
from synth_ehr_assets.core.narratives.clinical import label
from synth_ehr_assets.core.codes import describe
from synth_ehr_assets.core.narratives.design import design_note
from synth_ehr_assets.core.narratives.detectors import detect
from synth_ehr_assets.core.narratives.detectors.followup import INTERVAL, _days
from synth_ehr_assets.core.narratives.vitals import Vitals

SEED = 7
BASE = {"claim_type": "professional", "sex": "M", "provider_specialty": "family_medicine", "los_days": None,
        "drg": None, "px_1": "99214"}
RHYTHM_CLAIMED_REGULAR = re.compile(r"(?<!ir)regular rate|heart regular|(?<!ir)regular rhythm|sinus rhythm", re.I)


def _claim(claim_id: str, age: int, *dx: str, **more) -> dict:
    return {**BASE, "claim_id": claim_id, "age": age, **{f"dx_{i}": c for i, c in enumerate(dx, 1)}, **more}


def _section(note: str, name: str) -> str:
    return next(line for line in note.splitlines() if line.startswith(name))


def _exams(*dx: str, n: int = 40) -> list[str]:
    return [_section(design_note(_claim(f"{dx[-1]}-{i}", 70, *dx), SEED), "Objective") for i in range(n)]


def test_a_billed_arrhythmia_murmur_or_edema_code_is_never_contradicted_by_a_normal_exam_statement():
    for dx in (("I10", "I4891"), ("I10", "E785", "E119", "I4891"), ("I2510", "E785", "I10", "I480")):
        clashing = [e for e in _exams(*dx) if RHYTHM_CLAIMED_REGULAR.search(e)]
        assert not clashing, (dx, clashing)
    assert not [e for e in _exams("I2510", "E785", "R011") if re.search(r"no murmurs?", e)]
    assert not [e for e in _exams("I10", "E785", "R609") if re.search(r"no (?:peripheral )?edema", e)]
    # without the code the normal statements stay
    assert any(RHYTHM_CLAIMED_REGULAR.search(e) for e in _exams("I10", "E785", "E119"))
    assert any("no murmurs" in e for e in _exams("I2510", "E785"))
    assert any("no peripheral edema" in e for e in _exams("I10", "E785"))
    vitals = Vitals(130, 80, 72, 16, 36.8, 97)
    for seed in range(20):
        exam = ph.exam(vitals, 70, set(), ["regular rate and rhythm", "no peripheral edema"], [],
                       random.Random(seed), codes=["I10", "I4891"])
        assert not RHYTHM_CLAIMED_REGULAR.search(exam) and "no peripheral edema" in exam, exam


def _intervals(plan: str) -> list[tuple[str, float]]:
    return [(clause, _days(m.group(1), m.group(2))) for clause in plan.split("; ")
            for m in INTERVAL.finditer(clause)]


def test_the_follow_up_after_a_medication_change_fits_the_change():
    statin = [(c, design_note(c, SEED)) for c in (_claim(f"s{i}", 60, "E785", "I10", px_2="80061")
                                                  for i in range(40))]
    changed = [(c, n) for c, n in statin if "statin therapy intensified" in n]
    assert len(changed) >= 10
    for claim, note in changed:
        plan = _section(note, "Plan")
        lipid = [days for clause, days in _intervals(plan) if "lipid" in clause]
        assert lipid and all(42 <= d <= 84 for d in lipid), plan  # 6-12 weeks
        assert not [c for c, d in _intervals(plan) if d < 42 and not c.startswith("blood pressure recheck")], plan
        assert not [f for f in detect(note, claim) if f.kind == "followup_acuity"], note
    both = [design_note(_claim(f"b{i}", 60, "I10", "E785", px_2="80061"), SEED) for i in range(40)]
    assert any(re.search(r"blood pressure recheck in (?:two|three|four) weeks; .*lipid", _section(n, "Plan"))
               for n in both), both
    diabetes = [design_note(_claim(f"d{i}", 60, "E119", px_2="83036"), SEED) for i in range(30)]
    adjusted = [n for n in diabetes if "regimen adjusted" in n]
    assert adjusted and all(re.search(r"A1c in three months", _section(n, "Plan")) for n in adjusted), adjusted
    pressure = [_section(design_note(_claim(f"h{i}", 60, "I10"), SEED), "Plan") for i in range(30)]
    assert any(re.search(r"(?:recheck|follow up) in (?:two|three|four) weeks\.$", p) for p in pressure), pressure


def test_an_immunization_visit_documents_the_vaccine_and_no_screening_review():
    claims = [_claim(f"v{i}", 45, "Z23", px_1="90471", px_2="90686", payer="commercial") for i in range(10)]
    claims += [_claim(f"m{i}", 72, "Z23", px_1="G0008", px_2="90662", payer="medicare") for i in range(10)]
    claims += [_claim(f"k{i}", 8, "Z23", px_1="90471", px_2="90686", sex="F") for i in range(10)]
    for claim in claims:
        note = design_note(claim, SEED)
        plan = _section(note, "Plan")
        assert "screening" not in note.lower(), note
        assert re.search(r"consent|contraindication|observed after the injection", plan), plan
        assert re.search(r"influenza vaccine given", plan), plan
        assert not [f for f in detect(note, claim) if f.kind == "px_missing"], note
        if claim["age"] < 18:
            assert "statement reviewed and consent" not in plan, plan  # a child's consent is the parent's
    assert any("high-dose influenza vaccine given" in design_note(c, SEED) for c in claims[10:20])


def test_a_combination_code_that_names_ckd_absorbs_the_unspecified_ckd_problem():
    def title(code: str) -> str:
        return label(code, describe(code))

    assert ph.specific_problems(["I129", "N189", "E119"], title) == ["I129", "E119"]
    assert ph.specific_problems(["E1122", "N189", "I10"], title) == ["E1122", "I10"]
    assert ph.specific_problems(["N189", "E119"], title) == ["N189", "E119"]  # nothing names its CKD
    unnamed = [c for c in ("I129", "E1122", "E1022") if "kidney disease" not in title(c)]
    assert ph.specific_problems([*unnamed, "N189"], title) == [*unnamed, "N189"]  # a title that does not say it
    for dx in (("I129", "N189", "E119"), ("E1122", "N189", "I10")):
        for i in range(15):
            note = design_note(_claim(f"k{i}", 72, *dx), SEED)
            told = _section(note, "Subjective") + " " + _section(note, "Plan")
            assert not re.search(r"(?<!hypertensive )chronic kidney disease", told), note
            assert "(N18.9)" in _section(note, "Assessment")  # every billed code is still assessed

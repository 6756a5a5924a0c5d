"""Lists of condition labels in a note name each label once: two codes a note calls alike ("chronic kidney
disease" for N18.30 and N18.9) are said once, wherever labels are listed."""

from __future__ import annotations

import datetime as dt

import polars as pl

from synth_ehr_assets.core import codes
from synth_ehr_assets.core.narratives import phrasing as ph
from synth_ehr_assets.core.narratives.design import design_note
from synth_ehr_assets.core.narratives.journey_context import journey_contexts
from synth_ehr_assets.core.narratives.prompts import exemplar_from_design

SEED = 5
CKD = "chronic kidney disease"


def _claim(claim_id: str, dx: tuple[str, ...], day: dt.date = dt.date(2025, 6, 3), patient: str = "P1") -> dict:
    row = {"claim_id": claim_id, "patient_id": patient, "service_date": day, "claim_type": "professional",
           "los_days": 0, "age": 73, "sex": "F", "provider_specialty": "internal_medicine", "release_id": "t",
           "payer": "medicare", "region": "pacific"}
    row.update({f"dx_{i}": (dx[i - 1] if i <= len(dx) else None) for i in range(1, 11)})
    row.update({f"px_{i}": ("99214" if i == 1 else None) for i in range(1, 7)})
    return row


def _subjective(note: str) -> str:
    return next(line for line in note.splitlines() if line.startswith("Subjective: "))


def test_distinct_keeps_first_seen_order_case_insensitively_and_join_uses_it():
    assert ph.distinct(["Chronic kidney disease", "asthma", "chronic KIDNEY disease", "gout"]) == [
        "Chronic kidney disease", "asthma", "gout"]
    assert ph.distinct(["asthma", "gout"], said=["Asthma"]) == ["gout"]
    assert ph.distinct([("N1830", 1), ("N189", 2)], key=lambda item: CKD) == [("N1830", 1)]
    assert ph.join([CKD, "essential hypertension", CKD]) == f"{CKD} and essential hypertension"


def test_two_codes_with_one_label_are_listed_once_in_the_notes_history():
    note = design_note(_claim("c1", ("J069", "N1830", "I10", "N189")), SEED)
    subjective = _subjective(note)
    assert subjective.lower().count(CKD) == 1 and "essential hypertension" in subjective, subjective
    assert f"{CKD} and {CKD}" not in note.lower()
    assessment = next(line for line in note.splitlines() if line.startswith("Assessment: "))
    assert "(N18.30)" in assessment and "(N18.9)" in assessment  # each code keeps its own assessment line


def test_a_secondary_named_like_the_principal_is_not_listed_again():
    subjective = _subjective(design_note(_claim("c2", ("N184", "N189", "I10")), SEED))
    assert subjective.lower().count(CKD) == 1 and "essential hypertension" in subjective, subjective


def test_known_chronic_problems_name_a_label_once_from_its_first_coding():
    claims = pl.DataFrame([
        _claim("e1", ("N1830", "I10"), dt.date(2024, 2, 1)),
        _claim("e2", ("N184", "I10"), dt.date(2025, 1, 15)),
        _claim("now", ("J069",), dt.date(2025, 6, 3)),
    ])
    context = journey_contexts(claims)["now"]
    assert {c for c, _ in context.chronic} >= {"N1830", "N184"}  # both stages are coded earlier
    note = design_note(claims.row(2, named=True), SEED, journey=context)
    history = next(line for line in note.splitlines() if line.startswith("History: "))
    problems = history.split("Known chronic problems: ")[1].split(".")[0]
    assert problems.lower().count(CKD) == 1 and f"{CKD} (since 2024)" in problems, history


def test_llm_exemplar_lists_the_comorbidities_once():
    claim = _claim("x1", ("J069", "N1830", "N189"))
    example = {"claim": claim, "note": design_note(claim, SEED), "symptoms": []}
    exemplar = exemplar_from_design(example, codes.describe)
    assert exemplar.assessment.lower().count(CKD) == 1, exemplar.assessment

"""Plan wording against the patient's age (`plan_age`), the problem's acuity (`plan_acuity`), the diagnosis
(`plan_diagnosis`) and the billing specialty (`plan_specialty`)."""

from __future__ import annotations

import re

from synth_ehr_assets.core.narratives import lexicon as lx
from synth_ehr_assets.core.narratives.detectors.reading import Case, Finding, asserted

PLAN_SECTIONS = ("plan", "hospital course", "discharge", "medical decision making")


def plan_age(case: Case) -> list[Finding]:
    found, age = [], case.age
    if age is None:
        return found
    for sentence in case.note.of(*PLAN_SECTIONS):
        if age >= 18 and lx.PEDIATRIC_PLAN.search(sentence):
            found.append(Finding("plan_age", sentence, f"pediatric plan for a {age}-year-old"))
        if age < 12 and asserted(lx.ADULT_PLAN, sentence):
            found.append(Finding("plan_age", sentence, f"adult plan for a {age}-year-old"))
        if age < 40 and lx.OLDER_PLAN.search(sentence):
            found.append(Finding("plan_age", sentence, f"geriatric plan for a {age}-year-old"))
    return found


def plan_acuity(case: Case) -> list[Finding]:
    note, dx, found = case.note, case.dx, []
    emergency = dx[0].startswith(lx.EMERGENCY)
    if emergency or case.ed or case.claim.get("claim_type") == "inpatient":
        for sentence in note.of():
            if lx.OFFICE_MANAGEMENT.search(sentence):
                found.append(Finding("plan_acuity", sentence,
                                     "office management for an acute hospital-level problem"))
    if emergency and not lx.HOSPITAL_WORDS.search(note.text):
        found.append(Finding("plan_acuity", note.of("plan")[0] if note.of("plan") else note.text[:80],
                             f"{dx[0]} needs hospital care; the note never admits, transfers or refers to the ED"))
    return found


def plan_diagnosis(case: Case) -> list[Finding]:
    note, dx, found = case.note, case.dx, []
    viral = any(c.startswith(lx.VIRAL) for c in dx) and not any(c.startswith(lx.BACTERIAL) for c in dx)
    if viral:
        for sentence in note.of(*PLAN_SECTIONS):
            if asserted(lx.ANTIBIOTIC, sentence):
                found.append(Finding("plan_diagnosis", sentence, "antibiotics for a viral illness"))
    if any(asserted(lx.SUICIDAL, s) for s in note.of("subjective", "assessment", "")):
        for sentence in note.of():
            if lx.NO_RISK.search(sentence):
                found.append(Finding("plan_diagnosis", sentence, "suicidal thoughts reported, yet no risk recorded"))
    return found


def plan_specialty(case: Case) -> list[Finding]:
    own = lx.SPECIALTIES.get(case.claim.get("provider_specialty") or "")
    if not own:
        return []
    refer = re.compile(rf"(?:refer\w*|consult\w*)\s+(?:to\s+)?(?:the\s+)?(?:{own})|(?:{own})\w*\s+(?:referral|"
                       rf"consult)", re.I)
    return [Finding("plan_specialty", s, "the billing specialty refers to itself")
            for s in case.note.of(*PLAN_SECTIONS) if refer.search(s)]

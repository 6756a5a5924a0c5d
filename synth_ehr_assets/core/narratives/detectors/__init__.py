"""Deterministic detectors a clinical documentation reviewer would run: each reads the note TEXT against the
CLAIM (codes, procedures, age, sex, setting, specialty, stay) and names the sentence it objects to.

One module per family of checks; `REGISTRY` lists every detector with the defect kinds it reports, in the
order findings are listed. A new detector is a function `(Case) -> list[Finding]` in its own module plus one
`REGISTRY` entry. Word lists are the judge's own (`lexicon`), so a detector does not know how the note was
written; vitals are parsed from the text (`vitals.parse_vitals`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from synth_ehr_assets.core.narratives.detectors import (
    bp,
    coverage,
    encounter,
    followup,
    identity,
    journey_coherence,
    labels,
    pediatrics,
    plans,
    signs,
    status,
    symptoms,
    titles,
)
from synth_ehr_assets.core.narratives.detectors.reading import Case, Finding, Note, asserted, read
from synth_ehr_assets.core.narratives.vitals import parse_vitals

Detector = Callable[[Case], list[Finding]]
REGISTRY: tuple[tuple[tuple[str, ...], Detector], ...] = (
    (("code_title",), titles.code_title),
    (("plan_age",), plans.plan_age),
    (("plan_acuity",), plans.plan_acuity),
    (("plan_diagnosis",), plans.plan_diagnosis),
    (("plan_specialty",), plans.plan_specialty),
    (("symptom_diagnosis",), symptoms.symptom_diagnosis),
    (("symptom_vitals",), signs.symptom_vitals),
    (("distress_vitals",), signs.distress_vitals),
    (("bp_control",), bp.bp_control),
    (("exam_age",), pediatrics.exam_age),
    (("vaccine_age",), pediatrics.vaccine_age),
    (("dx_label",), labels.dx_label),
    (("followup_acuity",), followup.followup_acuity),
    (("dx_missing",), coverage.dx_missing),
    (("result_without_test", "px_missing"), coverage.results_and_procedures),
    (("ed_mdm",), encounter.ed_mdm),
    (("em_level",), encounter.em_level),
    (("status_plan",), status.status_plan),
    (("inpatient_course",), encounter.inpatient_course),
    (("course_complication",), encounter.course_complication),
    (("journey_coherence",), journey_coherence.journey_coherence),
    (("demographics",), identity.demographics),
    (("phi",), identity.phi),
)
KINDS = tuple(kind for kinds, _ in REGISTRY for kind in kinds)
__all__ = ["KINDS", "REGISTRY", "Case", "Finding", "Note", "asserted", "detect", "read", "review"]


def detect(text: str, claim: Mapping, describe=None, history=None) -> list[Finding]:
    """Every finding of every registered detector for one note against its claim row; `history` (the claim's
    `JourneyContext`) for the journey check. The History line, which cites other claims' codes, is read only by
    `journey_coherence`; the other detectors read the note of this claim."""
    if describe is None:
        from synth_ehr_assets.core.codes import describe
    full = read(text)
    own = "\n".join(line for line in text.splitlines() if not line.startswith("History: "))
    note = read(own) if own != text else full
    case = Case(note, claim, [claim[f"dx_{i}"] for i in range(1, 11) if claim.get(f"dx_{i}")], describe,
                parse_vitals(note.joined("objective") or own), history, full)
    return [finding for _, detector in REGISTRY for finding in detector(case)]


def review(note: str, claim: Mapping, model_text: str) -> list[str]:
    """Defect kinds the detectors find in a model's own sentences of a note (PHI anywhere): the LLM engine's
    review of what it wrote."""
    return sorted({f.kind for f in detect(note, claim) if f.sentence[:60] in model_text or f.kind == "phi"})

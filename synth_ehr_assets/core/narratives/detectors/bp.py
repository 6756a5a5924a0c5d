"""`bp_control`: blood pressure called controlled, at goal or normal at a reading that is raised for the
patient's age (a child's 95th percentile, 130/80 from 13, 140/90 in adults; `vitals.raised_bp`)."""

from __future__ import annotations

import re

from synth_ehr_assets.core.narratives.detectors.reading import Case, Finding, asserted
from synth_ehr_assets.core.narratives.vitals import raised_bp

BP_WORDS = re.compile(r"(?<!pulmonary )(?<!portal )(?<!intracranial )(?<!ocular )hypertensi|blood pressure|\bBP\b",
                      re.I)  # pulmonary, portal, intracranial and ocular hypertension are not the cuff's pressure
CONTROLLED = re.compile(r"at goal|\bcontrolled|\bstable\b|\bnormal\b|at target", re.I)


def bp_control(case: Case) -> list[Finding]:
    raised, vitals = raised_bp(case.age), case.vitals
    if raised is None or "sbp" not in vitals:
        return []
    sbp, dbp = vitals["sbp"], vitals.get("dbp", 0)
    if sbp < raised[0] and dbp < raised[1]:
        return []
    for sentence in case.note.of("assessment"):
        if BP_WORDS.search(sentence) and asserted(CONTROLLED, sentence):
            return [Finding("bp_control", sentence, f"blood pressure called controlled at {sbp:.0f}/{dbp:.0f}, "
                                                    f"raised at age {case.age} (from {raised[0]}/{raised[1]})")]
    return []

"""The encounter's documentation against its billing: `ed_mdm` (an ED visit's decision making matches the E/M
level) and `inpatient_course` (hospital course and discharge match the stay and the DRG's severity)."""

from __future__ import annotations

import re

from synth_ehr_assets.core.narratives.detectors.reading import Case, Finding

STAY = re.compile(r"(\d+)-day stay|hospital day (\d+)|stay of (\d+) days?|on day (\d+)|length of stay (?:of )?(\d+)",
                  re.I)


def ed_mdm(case: Case) -> list[Finding]:
    from synth_ehr_assets.core.narratives.orders import ED_LEVELS

    note = case.note
    levels = [ED_LEVELS[p] for p in case.px if p in ED_LEVELS]
    if not levels or case.claim.get("claim_type") != "outpatient":
        return []
    mdm = note.of("medical decision making", "mdm") + [s for s in note.of() if re.search(
        r"decision making|\bMDM\b|complexity", s, re.I)]
    if not mdm:
        return [Finding("ed_mdm", note.text[:80], f"ED visit billed at {levels[0]} MDM without decision making")]
    stated = re.search(r"\b(straightforward|minimal|low|moderate|high)\b", " ".join(mdm), re.I)
    said = {"minimal": "straightforward"}.get(stated.group(1).lower(), stated.group(1).lower()) if stated else None
    if said != levels[0]:
        return [Finding("ed_mdm", mdm[0], f"MDM written as {said}, billed as {levels[0]}")]
    return []


def inpatient_course(case: Case) -> list[Finding]:
    claim = case.claim
    if claim.get("claim_type") != "inpatient":
        return []
    course = case.note.of("hospital course", "discharge")
    if not course:
        return [Finding("inpatient_course", case.note.text[:80],
                        "inpatient claim without hospital course or discharge")]
    days = max(int(claim.get("los_days") or 1), 1)
    found = []
    for sentence in course:
        for match in STAY.finditer(sentence):
            stated = int(next(g for g in match.groups() if g))
            if stated != days:
                found.append(Finding("inpatient_course", sentence, f"stay of {stated} days, claim says {days}"))
    from synth_ehr_assets.core.narratives.hospital import drg_severity

    if drg_severity().get(str(claim.get("drg") or "")) == "mcc" and re.search(
            r"uncomplicated|no complications", " ".join(course), re.I):
        found.append(Finding("inpatient_course", course[-1], f"DRG {claim.get('drg')} is billed with an MCC"))
    return found[:2]

"""The encounter's documentation against its billing: `ed_mdm` (an ED visit's decision making matches the E/M
level), `em_level` (an office visit's documented problems support its E/M level), `inpatient_course` (hospital
course and discharge match the stay and the DRG's severity) and `course_complication` (a stable chronic
condition called a complication of the stay)."""

from __future__ import annotations

import re

from synth_ehr_assets.core.narratives import lexicon as lx
from synth_ehr_assets.core.narratives.detectors.reading import Case, Finding

ITEM = re.compile(r"^\d+\.\s")
ITEM_CODE = re.compile(r"\(\s*([A-Z])\d")
COMPLICATED_BY = re.compile(r"complicated by ([^,.;]+)", re.I)
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


def em_level(case: Case) -> list[Finding]:
    """Office E/M levels follow medical decision making: a moderate level (99204/99214) needs two or more
    problems or one that is worse or severe; a high level (99205/99215) a severe problem, or several with one
    worse. A single stable problem documented at a moderate or high level is flagged."""
    levels = [lx.OFFICE_LEVELS[p] for p in case.px if p in lx.OFFICE_LEVELS]
    if not levels or case.claim.get("claim_type") != "professional" or levels[0] not in ("moderate", "high"):
        return []
    assessment = case.note.of("assessment")
    problems = [s for s in assessment if ITEM.match(s) and not (ITEM_CODE.search(s) and ITEM_CODE.search(s).group(1)
                                                                 in "VWXYZ")]
    told = " ".join(case.note.of("subjective") + assessment)
    worse, severe = lx.PROGRESSION.search(told) is not None, lx.SEVERE.search(told) is not None
    level, code = levels[0], next(p for p in case.px if p in lx.OFFICE_LEVELS)
    supported = severe or (worse and len(problems) >= 2) if level == "high" else \
        severe or worse or len(problems) >= 2
    if supported:
        return []
    stable = next((s for s in case.note.of("subjective") if lx.STABLE_VISIT.search(s)), None)
    where = stable or (problems[0] if problems else case.note.text[:80])
    return [Finding("em_level", where, f"{code} ({level} MDM) billed for {len(problems)} problem(s), none worse "
                                       f"or severe")]


def course_complication(case: Case) -> list[Finding]:
    if case.claim.get("claim_type") != "inpatient":
        return []
    for sentence in case.note.of("hospital course", "discharge"):
        for match in COMPLICATED_BY.finditer(sentence):
            if lx.STABLE_CHRONIC.search(match.group(1)):
                return [Finding("course_complication", sentence, f"'{match.group(1).strip()}' is a stable chronic "
                                                                 f"condition, not a complication of the stay")]
    return []

"""The encounter's documentation against its billing: `ed_mdm` (an ED visit's decision making matches the E/M
level), `em_level` (an office visit's documented problems support its E/M level), `inpatient_course` (hospital
course and discharge match the stay and the DRG's severity) and `course_complication` (a stable chronic
condition called a complication of the stay)."""

from __future__ import annotations

import re

from synth_ehr_assets.core.narratives import lexicon as lx
from synth_ehr_assets.core.narratives.detectors.reading import Case, Finding

ITEM = re.compile(r"^\d+\.\s")
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


ESTABLISHED = re.compile(r"returns for|follow(?:s|ing)? up on|follow-up of|ongoing care|scheduled \w+ visit", re.I)
OFFICE_MINUTES = {"99204": 45, "99205": 60, "99214": 30, "99215": 40}  # 2021 office E/M time thresholds
SEVERE_STATUS = re.compile(r"\bsevere|intensive|close monitoring|admission|hospital|emergency|threat|"
                           r"potentially serious", re.I)


def em_level(case: Case) -> list[Finding]:
    """Office E/M levels follow medical decision making (2021 AMA office guidelines), read from the note's own
    evidence: a problem called worse needs an abnormal vital or result or worsening in the history, one called
    severe a severe vital or result or a decision to send the patient to hospital. A moderate level (99204/99214)
    needs two problems or one supported as worse; a high level (99205/99215) one supported as severe, or the
    qualifying total time on three or more problems. Wording the evidence does not carry is flagged, and so is
    the level it was meant to justify."""
    from synth_ehr_assets.core.narratives.detectors.support import statuses, support

    levels = [lx.OFFICE_LEVELS[p] for p in case.px if p in lx.OFFICE_LEVELS]
    if not levels or case.claim.get("claim_type") != "professional":
        return []
    level, code, found = levels[0], next(p for p in case.px if p in lx.OFFICE_LEVELS), []
    opening = next(iter(case.note.of("subjective")), "")
    if code.startswith("9920") and ESTABLISHED.search(opening):
        found.append(Finding("em_level", opening, f"{code} is a new-patient visit; the note describes an "
                                                  f"established patient"))
    if level not in ("moderate", "high"):
        return found
    items = [(s, c, status) for s, c, status in statuses(case) if c[0] not in "VWXYZ"]
    if not items:  # an unnumbered assessment: count its problem sentences
        items = [(s, "", s) for s in case.note.of("assessment") if ITEM.match(s)]
    evidence = support(case)
    for sentence, _, status in items:
        if SEVERE_STATUS.search(status) and not evidence.severe:
            found.append(Finding("em_level", sentence, "called severe with no severe vital, result or hospital "
                                                       "decision in the note"))
        elif lx.PROGRESSION.search(status) and not evidence.worse:
            found.append(Finding("em_level", sentence, "called worse with no abnormal vital or result and no "
                                                       "worsening in the history"))
    said_worse = any(lx.PROGRESSION.search(s) or SEVERE_STATUS.search(s) for _, _, s in items) and evidence.worse
    said_severe = any(SEVERE_STATUS.search(s) for _, _, s in items) and evidence.severe
    timed = evidence.minutes is not None and evidence.minutes >= OFFICE_MINUTES[code]
    supported = (said_severe or evidence.hospital_action or (timed and len(items) >= 3)) if level == "high" else \
        (said_worse or said_severe or evidence.hospital_action or len(items) >= 2)
    if not supported:
        stable = next((s for s in case.note.of("subjective") if lx.STABLE_VISIT.search(s)), None)
        where = stable or (items[0][0] if items else case.note.text[:80])
        found.append(Finding("em_level", where, f"{code} ({level} MDM) billed for {len(items)} problem(s) the note "
                                                f"does not show as {'severe' if level == 'high' else 'worse'}"))
    return found[:2]


def course_complication(case: Case) -> list[Finding]:
    if case.claim.get("claim_type") != "inpatient":
        return []
    for sentence in case.note.of("hospital course", "discharge"):
        for match in COMPLICATED_BY.finditer(sentence):
            if lx.STABLE_CHRONIC.search(match.group(1)):
                return [Finding("course_complication", sentence, f"'{match.group(1).strip()}' is a stable chronic "
                                                                 f"condition, not a complication of the stay")]
    return []

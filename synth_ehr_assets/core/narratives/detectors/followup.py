"""`followup_acuity`: return intervals against the principal problem's acuity and setting, and intervals that
contradict each other."""

from __future__ import annotations

import re

from synth_ehr_assets.core.narratives import lexicon as lx
from synth_ehr_assets.core.narratives.detectors.reading import Case, Finding

WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
         "ten": 10, "eleven": 11, "twelve": 12, "a": 1}
UNIT_DAYS = {"h": 1 / 24, "hour": 1 / 24, "day": 1, "week": 7, "month": 30, "year": 365}
INTERVAL = re.compile(r"\b(?:return|follow(?:[- ]up)?|recheck|see|visit|back|review)\b[^.;]*?\b(?:in|within)\s+"
                      r"(\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a)\s*"
                      r"(h|hours?|days?|weeks?|months?|years?)\b", re.I)


def _days(number: str, unit: str) -> float:
    value = float(WORDS.get(number.lower(), number)) if not number.isdigit() else float(number)
    unit = unit.lower().rstrip("s")
    return value * UNIT_DAYS["h" if unit in ("h", "hour") else unit]


# A recheck of one measurement (a nurse blood pressure check, an INR) follows that problem, not the visit's.
PROBLEM_RECHECK = re.compile(r"^(?:blood pressure|BP|INR|wound|glucose) (?:re)?check\b", re.I)


def followup_acuity(case: Case) -> list[Finding]:
    intervals = [(s, _days(m.group(1), m.group(2))) for s in case.note.of("plan", "discharge",
                                                                           "medical decision making")
                 for m in INTERVAL.finditer(s) if not PROBLEM_RECHECK.match(s)]
    if not intervals:
        return []
    principal, kind, found = case.dx[0], case.claim.get("claim_type"), []
    if kind == "inpatient" or case.ed or principal.startswith(lx.EMERGENCY):
        low, high, why = 0, 30 if kind == "inpatient" else 14, "after an acute hospital or ED visit"
    elif principal.startswith(("Z0000", "Z0001")):
        low, high, why = 90, 730, "for an annual examination"
    elif principal.startswith(("Z34", "O")):
        low, high, why = 3, 42, "for prenatal care"
    elif principal.startswith(lx.SELF_LIMITED):
        low, high, why = 0, 28, "for a self-limited acute problem"
    elif principal.startswith("Z"):
        low, high, why = 0, 730, "for a preventive visit"
    else:
        low, high, why = 7, 366, "for a stable chronic problem"
    for sentence, days in intervals:
        if not low <= days <= high:
            found.append(Finding("followup_acuity", sentence, f"{days:.0f} days {why}"))
    spans = [d for _, d in intervals]
    if len(spans) > 1 and max(spans) > 4 * max(min(spans), 0.5) and max(spans) > 14:
        found.append(Finding("followup_acuity", intervals[-1][0], "follow-up intervals contradict each other"))
    return found[:2]

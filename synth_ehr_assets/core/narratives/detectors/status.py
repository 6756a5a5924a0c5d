"""`status_plan`: a problem's stated status against what the plan does about it and what the vitals show.

A reviewer rejects a problem called stable or controlled whose plan escalates treatment or sends the patient
to hospital, a problem called uncontrolled or worse that is only continued and seen again months later, and
an acute problem written up as mild or free of red flags while the vitals show high fever (or fever at the
extremes of age), hypoxemia or hypotension and the recheck is days away.
"""

from __future__ import annotations

import re

from synth_ehr_assets.core.narratives.detectors.followup import INTERVAL, _days
from synth_ehr_assets.core.narratives.detectors.reading import Case, Finding, asserted
from synth_ehr_assets.core.narratives.detectors.support import HOSPITAL_ACTION, statuses
from synth_ehr_assets.core.narratives.vitals import FEVER_C, HYPOXEMIA_SPO2, hypotension_sbp

STABLE = re.compile(r"\b(?:stable|well[- ]controlled|controlled on|at goal|at baseline|no change|unchanged)\b", re.I)
UNCONTROLLED = re.compile(r"uncontrolled|poorly controlled|not (?:at goal|controlled)|above (?:goal|target)|"
                          r"\bworse\b|worsening|progressing|exacerbat", re.I)
ESCALATE = re.compile(r"^(?:adjust|increase|add|intensify|escalate|switch|uptitrate)\b(?! fluid)|"
                      r"\b(?:intensified|escalated|increased|uptitrated)\b", re.I)
BENIGN = re.compile(r"no red flags|uncomplicated|self-limited|clinically mild|\bmild\b|benign|reassuring", re.I)
FOR_PROBLEM = re.compile(r"^for ([^,]+),\s*(.*)$", re.I)


def _plan_by_problem(case: Case, items) -> dict[int, list[str]]:
    """Plan items per assessment item (index): 'for <label>, ...' goes to the item it names, the rest to the
    principal problem."""
    labels = [re.sub(r"^\d+\.\s*|\s*\(.*$", "", s).lower() for s, _, _ in items]
    out: dict[int, list[str]] = {i: [] for i in range(len(items))}
    for sentence in case.note.of("plan"):
        for part in re.split(r";\s*", sentence.rstrip(".")):
            match = FOR_PROBLEM.match(part.strip())
            which = next((i for i, label in enumerate(labels) if match and label and
                          match.group(1).strip().lower() == label), 0) if match else 0
            out.setdefault(which, []).append(match.group(2) if match else part.strip())
    return out


# A problem's own result that a reviewer reads against "at goal" (prefix, value regex, off target from).
OWN_RESULTS = (("E78", re.compile(r"\bLDL\D{0,8}(\d{2,3})", re.I), 130.0),
               ("E10", re.compile(r"\bA1c\D{0,12}(\d{1,2}(?:\.\d)?)\s*%", re.I), 8.0),
               ("E11", re.compile(r"\bA1c\D{0,12}(\d{1,2}(?:\.\d)?)\s*%", re.I), 8.0))


def _off_target(case: Case, code: str) -> str | None:
    text = case.note.joined("objective")
    for prefix, pattern, limit in OWN_RESULTS:
        match = pattern.search(text) if code.startswith(prefix) else None
        if match and float(match.group(1)) >= limit:
            return match.group(0)
    return None


def _red_flag(case: Case) -> str | None:
    v, age = case.vitals, case.age
    temp, spo2, sbp = v.get("temp"), v.get("spo2"), v.get("sbp")
    extremes = age is not None and (age >= 65 or age < 1)
    if temp is not None and (temp >= 39.0 or (temp >= FEVER_C and extremes)):
        return f"T {temp} C" + (f" at age {age}" if extremes else "")
    if spo2 is not None and spo2 < HYPOXEMIA_SPO2:
        return f"SpO2 {spo2:.0f}%"
    if sbp is not None and sbp < hypotension_sbp(age):
        return f"SBP {sbp:.0f}"
    return None


def status_plan(case: Case) -> list[Finding]:
    if case.claim.get("claim_type") == "inpatient":
        return []  # a hospital course changes treatment by design; its statuses read as of admission
    items = statuses(case)
    if not items:
        return []
    plans = _plan_by_problem(case, items)
    days = [_days(m.group(1), m.group(2)) for s in case.note.of("plan", "discharge")
            for m in INTERVAL.finditer(s)]
    if re.search(r"\b(?:tomorrow|tonight)\b", case.note.joined("plan"), re.I):
        days.append(1.0)
    soonest = min(days) if days else None
    sent = HOSPITAL_ACTION.search(case.note.joined("plan")) is not None
    found = []
    for i, (sentence, code, status) in enumerate(items):
        stable = asserted(STABLE, status) and not UNCONTROLLED.search(status)
        if stable and any(ESCALATE.search(p) for p in plans.get(i, [])):
            found.append(Finding("status_plan", sentence, "called stable while its plan escalates treatment"))
        elif stable and _off_target(case, code):
            found.append(Finding("status_plan", sentence, f"called stable or at goal with {_off_target(case, code)}"))
        elif stable and i == 0 and sent:
            found.append(Finding("status_plan", sentence, "called stable while the plan sends the patient to "
                                                          "hospital"))
        elif UNCONTROLLED.search(status) and soonest is not None and soonest >= 60 and \
                not any(ESCALATE.search(p) for p in plans.get(i, [])):
            found.append(Finding("status_plan", sentence, f"called uncontrolled, yet only continued and seen in "
                                                          f"{soonest:.0f} days"))
    if all(asserted(STABLE, s) and not UNCONTROLLED.search(s) for _, _, s in items) and soonest is not None and \
            soonest <= 7 and not case.ed:
        found.append(Finding("status_plan", items[0][0], f"every problem stable, yet seen again in {soonest:.0f} "
                                                         f"days"))
    flag = _red_flag(case) if not case.ed else None
    principal = items[0][2]
    if flag and asserted(BENIGN, principal) and (soonest is None or soonest > 2):
        when = "not set" if soonest is None else f"in {soonest:.0f} days"
        found.append(Finding("status_plan", items[0][0], f"called benign with {flag} and a recheck {when}"))
    return found[:2]

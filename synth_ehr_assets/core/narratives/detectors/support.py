"""What a note offers as evidence for the severity it claims: abnormal and severe vital signs, abnormal and
severe results, worsening the history reports, a decision to send the patient to hospital, and the visit time.
`em_level` and `status_plan` weigh a problem's stated status against these, never against how the note was
written."""

from __future__ import annotations

import re
from dataclasses import dataclass

from synth_ehr_assets.core.narratives.detectors.reading import Case, asserted
from synth_ehr_assets.core.narratives.vitals import FEVER_C, HYPOXEMIA_SPO2, hypotension_sbp, norms, raised_bp

# Assessment item "N. Label (CODE), status." -> the status clause, which is what a reviewer weighs.
ITEM_STATUS = re.compile(r"^\d+\.\s.*?\(([A-Z]\d[0-9A-Z.]*)\),?\s*(.*?)\.?$")
WORSENING = re.compile(r"\bworse\b|worsening|harder to control|no longer (?:keeping|controlled|working)|"
                       r"more (?:often|frequent)|increasing|progress|flare|getting worse", re.I)
HOSPITAL_ACTION = re.compile(r"sent to the emergency|transfer(?:red)? to the emergency|emergency department "
                             r"(?:for|arranged)|direct admission|admitted|admit to|call 911", re.I)
TOTAL_TIME = re.compile(r"total time[^.]*?(\d{2,3}) minutes", re.I)
# (result regex with its value, abnormal when the predicate holds, severe when the second holds)
RESULTS = (
    (re.compile(r"\bA1c\D{0,12}(\d{1,2}(?:\.\d)?)\s*%", re.I), lambda v: v >= 7.0, lambda v: v >= 10.0),
    (re.compile(r"\bLDL\D{0,8}(\d{2,3})", re.I), lambda v: v >= 130, lambda v: v >= 250),
    (re.compile(r"\bTSH\D{0,8}(\d{1,3}(?:\.\d+)?)", re.I), lambda v: v > 4.5 or v < 0.4, lambda v: v >= 20),
    (re.compile(r"\bhemoglobin\D{0,8}(\d{1,2}(?:\.\d)?)\s*g", re.I), lambda v: v < 11.0, lambda v: v < 8.0),
    (re.compile(r"\bglucose\D{0,8}(\d{2,3})\b", re.I), lambda v: v > 180, lambda v: v >= 300),
    (re.compile(r"\bcreatinine\D{0,8}(\d(?:\.\d+)?)\b", re.I), lambda v: v > 1.3, lambda v: v >= 3.0),
    (re.compile(r"\bpotassium\D{0,8}(\d(?:\.\d)?)\b", re.I), lambda v: v > 5.2 or v < 3.4, lambda v: v >= 6.0),
    (re.compile(r"\bBNP\D{0,8}(\d{2,5})", re.I), lambda v: v > 100, lambda v: v >= 1000),
)
ABNORMAL_WORDS = re.compile(r"\b(?:elevated|abnormal|positive|rising|above goal|low MCV|infiltrate|consolidation)\b",
                            re.I)


@dataclass(frozen=True)
class Support:
    abnormal_vital: str | None  # the first abnormal vital sign, as "SpO2 89%", or None
    severe_vital: str | None
    abnormal_result: bool
    severe_result: bool
    worse_history: bool
    hospital_action: bool
    minutes: int | None

    @property
    def worse(self) -> bool:
        return bool(self.abnormal_vital or self.abnormal_result or self.worse_history or self.severe)

    @property
    def severe(self) -> bool:
        return bool(self.severe_vital or self.severe_result or self.hospital_action)


def _vital_flags(case: Case) -> tuple[str | None, str | None]:
    v, age = case.vitals, case.age
    _, hr_high, _, rr_high, _, _ = norms(age)
    raised = raised_bp(age)
    sbp, dbp, hr, temp, spo2, rr = (v.get(k) for k in ("sbp", "dbp", "hr", "temp", "spo2", "rr"))
    severe = next((text for bad, text in (
        (spo2 is not None and spo2 < HYPOXEMIA_SPO2, f"SpO2 {spo2:.0f}%" if spo2 else ""),
        (sbp is not None and sbp < hypotension_sbp(age), f"BP {sbp:.0f}/{dbp:.0f}" if sbp else ""),
        (sbp is not None and (sbp >= 180 or (dbp or 0) >= 120), f"BP {sbp:.0f}/{dbp:.0f}" if sbp else ""),
        (temp is not None and temp >= FEVER_C and hr is not None and hr > hr_high, f"T {temp} C with HR {hr:.0f}"
         if temp else ""),
    ) if bad), None)
    abnormal = severe or next((text for bad, text in (
        (temp is not None and temp >= FEVER_C, f"T {temp} C"),
        (hr is not None and hr > hr_high, f"HR {hr:.0f}"),
        (rr is not None and rr > rr_high, f"RR {rr:.0f}"),
        (sbp is not None and raised is not None and (sbp >= raised[0] or (dbp or 0) >= raised[1]),
         f"BP {sbp:.0f}/{dbp:.0f}" if sbp else ""),
    ) if bad), None)
    return abnormal, severe


def _result_flags(case: Case) -> tuple[bool, bool]:
    text = case.note.joined("objective", "results", "data")
    abnormal = severe = False
    for pattern, is_abnormal, is_severe in RESULTS:
        for match in pattern.finditer(text):
            value = float(match.group(1))
            abnormal, severe = abnormal or is_abnormal(value), severe or is_severe(value)
    return abnormal or ABNORMAL_WORDS.search(text) is not None, severe


def support(case: Case) -> Support:
    abnormal_vital, severe_vital = _vital_flags(case)
    abnormal_result, severe_result = _result_flags(case)
    history = any(asserted(WORSENING, s) for s in case.note.of("subjective", "history", ""))
    plan = case.note.joined("plan", "disposition")
    minutes = TOTAL_TIME.search(case.note.text)
    return Support(abnormal_vital, severe_vital, abnormal_result, severe_result, history,
                   HOSPITAL_ACTION.search(plan) is not None, int(minutes.group(1)) if minutes else None)


def statuses(case: Case) -> list[tuple[str, str, str]]:
    """(sentence, code, status clause) of every numbered assessment item."""
    out = []
    for sentence in case.note.of("assessment"):
        match = ITEM_STATUS.match(sentence)
        if match:
            out.append((sentence, match.group(1).replace(".", ""), match.group(2)))
    return out

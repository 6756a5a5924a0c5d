"""Vital signs: age-specific normal ranges, the draws the design engine makes from a note's implied signs, and
the parser the judge uses to read them back from any note's text."""

from __future__ import annotations

import re
from dataclasses import dataclass

# (max age, HR low, HR high, RR low, RR high, SBP low, SBP high): upper limits of normal by age (PALS-style bands).
AGE_NORMS = ((0, 100, 160, 30, 60, 65, 90), (2, 90, 150, 24, 40, 80, 105), (5, 80, 140, 22, 34, 85, 110),
             (11, 70, 120, 18, 30, 90, 115), (17, 60, 100, 12, 24, 100, 125), (200, 60, 100, 12, 20, 100, 130))
FEVER_C, HYPOXEMIA_SPO2, HYPOTENSION_SBP = 38.0, 92, 90
# 95th-percentile BP (systolic, diastolic) by age 1-12 at the 50th height percentile, after the AAP 2017 clinical
# practice guideline tables (the lower of the two sexes, rounded; within about 2 mmHg of either): at or above it a
# child's reading is stage-1 hypertensive. From 13 the AAP uses 130/80; adults here 140/90 (the usual goal).
CHILD_BP95 = {1: (102, 55), 2: (105, 58), 3: (106, 61), 4: (107, 64), 5: (108, 67), 6: (110, 70), 7: (111, 72),
              8: (112, 73), 9: (113, 74), 10: (115, 75), 11: (117, 76), 12: (119, 77)}


def raised_bp(age: int | None) -> tuple[int, int] | None:
    """(systolic, diastolic) at or above which a reading is raised for the age (None under 1 year: no table)."""
    if age is None or age >= 18:
        return 140, 90
    if age >= 13:
        return 130, 80
    return CHILD_BP95.get(age)


def hypotension_sbp(age: int | None) -> int:
    """Systolic pressure below which the age counts as hypotensive (90 from age 12, lower in children)."""
    return HYPOTENSION_SBP if age is None or age >= 12 else norms(age)[4] - 5


def norms(age: int | None) -> tuple[int, int, int, int, int, int]:
    """(HR low, HR high, RR low, RR high, SBP low, SBP high) for the age (adult when unknown)."""
    age = 40 if age is None else age
    return next(row[1:] for row in AGE_NORMS if age <= row[0])


@dataclass(frozen=True)
class Vitals:
    sbp: int
    dbp: int
    hr: int
    rr: int
    temp: float
    spo2: int

    def text(self, rng) -> str:
        forms = (f"BP {self.sbp}/{self.dbp}, HR {self.hr}, RR {self.rr}, T {self.temp:.1f} C, SpO2 {self.spo2}%",
                 f"Temp {self.temp:.1f} C, HR {self.hr}, BP {self.sbp}/{self.dbp}, RR {self.rr}, "
                 f"SpO2 {self.spo2}% on room air",
                 f"T {self.temp:.1f} C, BP {self.sbp}/{self.dbp} mmHg, HR {self.hr}, RR {self.rr}, "
                 f"SpO2 {self.spo2}% RA")
        return rng.choice(forms)


def draw_vitals(age: int | None, signs: set[str], bp: tuple[int, int] | None, rng) -> Vitals:
    """Vitals inside the age's normal ranges except where an implied sign moves them past its threshold."""
    hr_low, hr_high, rr_low, rr_high, sbp_low, sbp_high = norms(age)
    hr = rng.randint(hr_low + 4, hr_high - 12)
    rr = rng.randint(rr_low + 1, rr_high - 3)
    raised = raised_bp(age)
    if bp is not None and age is not None and age < 18 and raised:
        bp = (raised[0] - 8, raised[0] + 10)  # hypertensive children: around their own stage-1 threshold
    sbp = rng.randint(sbp_low + 6, sbp_high - 2) if bp is None else rng.randint(*bp)
    temp = round(rng.uniform(36.4, 37.3), 1)
    spo2 = rng.randint(96, 99)
    if "F" in signs:
        temp, hr = round(rng.uniform(38.2, 39.5), 1), min(hr + rng.randint(8, 18), hr_high + 20)
    if "T" in signs:
        hr = hr_high + rng.randint(6, 28)
    if "R" in signs:
        rr = rr_high + rng.randint(3, 9)
    if "H" in signs:
        spo2, rr = rng.randint(86, 91), max(rr, rr_high + rng.randint(2, 7))
    if "B" in signs:
        sbp, hr = rng.randint(76, 88), max(hr, hr_high + rng.randint(4, 20))
    dbp = max(35, int(sbp * rng.uniform(0.56, 0.66)))
    return Vitals(sbp, dbp, hr, rr, temp, spo2)


_NUMBER = r"(\d{2,3}(?:\.\d)?)"
PATTERNS = {
    "bp": re.compile(r"\b(?:BP|blood pressure)\s*(?:of\s*)?(\d{2,3})\s*/\s*(\d{2,3})", re.I),
    "hr": re.compile(r"\b(?:HR|heart rate|pulse)\s*(?:of\s*)?" + _NUMBER, re.I),
    "rr": re.compile(r"\b(?:RR|respiratory rate|respirations)\s*(?:of\s*)?" + _NUMBER, re.I),
    "temp": re.compile(r"\b(?:T|Temp|temperature)\s*(?:of\s*)?(\d{2}(?:\.\d)?)\s*(?:°\s*)?C\b", re.I),
    "spo2": re.compile(r"\b(?:SpO2|O2 sat(?:uration)?|oxygen saturation|saturation)\s*(?:of\s*)?(\d{2,3})\s*%", re.I),
}


def parse_vitals(text: str) -> dict[str, float]:
    """The first value of each vital sign written in the text: sbp, dbp, hr, rr, temp, spo2 (missing ones absent)."""
    found: dict[str, float] = {}
    for name, pattern in PATTERNS.items():
        match = pattern.search(text)
        if match:
            if name == "bp":
                found["sbp"], found["dbp"] = float(match.group(1)), float(match.group(2))
            else:
                found[name] = float(match.group(1))
    return found

"""Journey edits (issue 15 item 2): what a patient's next claim may not do, given the claims before it.

The journey assembly (`journey_model.JourneyModel.assemble`) asks `PatientState.allows` before it gives a patient a
row, and draws another category when no row of the drawn one is allowed. Sex, birth and newborn rules are the
assembly's own (same sex, birth before the first claim, newborn codes in the first 28 days); these are the rules
that depend on the patient's earlier codes:

- death: a claim recording the death (`DEATH_CODES`, or an "expired" MS-DRG) is the patient's last; the assembly
  takes one only as the journey's planned last claim, and ends the journey after it;
- diabetes type: type 1 (E10) and type 2 (E11) never on one patient (lifelong, mutually exclusive);
- chronic kidney disease: the stage (N18.1 … N18.6) never falls more than one stage below the highest so far;
- maternity: two deliveries (O80, O82, Z37) at least `DELIVERY_SPACING_DAYS` apart unless they are the same
  episode (within `EPISODE_DAYS`); no trimester code (Z34 supervision, O09, any O code "…, first/second/third
  trimester") in the `POSTPARTUM_DAYS` after a delivery; within one pregnancy (no delivery between, under
  `PREGNANCY_DAYS` apart) the trimester never goes back; and a delivery comes no later than the latest end of the
  trimester last coded (`LATEST_DELIVERY_DAYS` + `DATE_SLACK_DAYS`) unless a new pregnancy could have reached
  delivery since (`NEXT_DELIVERY_DAYS` more): the journey review found O10.013 "third trimester" nine months before
  a delivery with no delivery between;
- preventive visits: from age 3, a general examination (Z00.0x adult, Z00.1x child) no sooner than
  `PREVENTIVE_SPACING_DAYS` after the patient's previous one (a claims review found a 10-year-old with six
  well-child visits in two years; in 50,000 reference claims 3% of repeat visits from age 3 come sooner, median
  431 days, so this is the assembly's schedule, not an edit `journey_checks` enforces on a finished table).

`evaluation.journey_checks` checks the other rules on a finished table, without this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import polars as pl

DEATH_CODES = ("R99",)  # ill-defined and unknown cause of mortality: coded on the claim of a death
EXPIRED_DRGS = ("283", "284", "285")  # acute myocardial infarction, expired
TYPE_1_DIABETES, TYPE_2_DIABETES = "E10", "E11"
CKD_STAGES = {"N181": 1, "N182": 2, "N183": 3, "N1830": 3, "N1831": 3, "N1832": 3, "N184": 4, "N185": 5, "N186": 6}
DELIVERY = ("O80", "O82", "Z37")
# days from the start of trimester 1 / 2 / 3 (weeks 0, 14, 28) to a delivery at 42 weeks; dates move by up to a
# month when released; a delivery in a new pregnancy needs ovulation back (6 weeks after a birth at the earliest)
# and 20 weeks of gestation
LATEST_DELIVERY_DAYS = {1: 294, 2: 196, 3: 98}
DATE_SLACK_DAYS, NEXT_DELIVERY_DAYS = 31, 42 + 140
EPISODE_DAYS = 7
DELIVERY_SPACING_DAYS = 180
POSTPARTUM_DAYS = 42
PREVENTIVE = ("Z000", "Z001")  # encounter for general adult / child examination
PREVENTIVE_SPACING_DAYS = 300
PREVENTIVE_FROM_AGE = 3  # infants follow a schedule of visits weeks apart
# codes whose plausibility turns on a few years of age (pregnancy, cystic fibrosis, general examinations billed
# with age-banded preventive visits; substance use below `YOUNG_AGE`): the assembly moves their rows at most
# `TIGHT_AGE_SLACK` years (a claims review found a prenatal visit at 11 and nicotine dependence at 10 when every row
# could move `journey_model.AGE_SLACK`)
AGE_TIGHT_CODES = ("O", "Z32", "Z33", "Z34", "Z35", "Z36", "Z3A", "Z37", "Z39", "E84", "Z000", "Z001")
YOUNG_TIGHT_CODES, YOUNG_AGE = ("F1",), 25
TIGHT_AGE_SLACK = 2
PREGNANCY_DAYS = 280


@lru_cache(maxsize=1)
def trimester_codes() -> dict[str, int]:
    """Code → trimester (1-3) for every ICD-10-CM code whose title names one (Z34, O09 and chapter 15 codes)."""
    from synth_ehr_assets.core.synth.edits_encounter import trimester_codes as titled

    return dict(titled().iter_rows())


def code_facts(code: str) -> tuple[bool, int, int, bool, int]:
    """(records a death, diabetes bit 1 = type 1 / 2 = type 2, CKD stage, delivery, pregnancy trimester) of a code."""
    trimester = trimester_codes().get(code, 0)
    diabetes = 1 if code.startswith(TYPE_1_DIABETES) else 2 if code.startswith(TYPE_2_DIABETES) else 0
    return (code.startswith(DEATH_CODES), diabetes, CKD_STAGES.get(code, 0), code.startswith(DELIVERY), trimester)


@dataclass
class RowFacts:
    """Per row of the frame being assembled: what the journey edits look at."""

    death: np.ndarray
    diabetes: np.ndarray
    ckd: np.ndarray
    delivery: np.ndarray
    trimester: np.ndarray
    preventive: np.ndarray  # a general examination at an age where they come yearly

    @classmethod
    def of(cls, codes: list[frozenset], drg: pl.Series | None = None, ages: np.ndarray | None = None) -> RowFacts:
        """From each row's diagnosis codes (`journey_chronic.row_conditions`), its DRG and its age."""
        n = len(codes)
        grown = np.ones(n, dtype=bool) if ages is None else np.asarray(ages) >= PREVENTIVE_FROM_AGE
        preventive = np.array([any(c.startswith(PREVENTIVE) for c in row) for row in codes], dtype=bool) & grown
        death, delivery = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        diabetes, ckd, trimester = (np.zeros(n, dtype=np.int64) for _ in range(3))
        for r, row in enumerate(codes):
            for code in row:
                dead, kind, stage, birth, term = code_facts(code)
                death[r] |= dead
                delivery[r] |= birth
                diabetes[r] |= kind
                ckd[r] = max(ckd[r], stage)
                trimester[r] = max(trimester[r], term)
        if drg is not None:
            death |= drg.cast(pl.String).is_in(EXPIRED_DRGS).fill_null(False).to_numpy()
        return cls(death, diabetes, ckd, delivery, trimester, preventive)


class PatientState:
    """One patient's journey so far, as the edits above see it (days counted from the first claim)."""

    def __init__(self, facts: RowFacts):
        self.facts = facts
        self.dead = False
        self.diabetes = 0
        self.ckd = 0
        self.delivery_day: int | None = None
        self.trimester, self.trimester_day = 0, 0
        self.preventive_day: int | None = None

    def allows(self, r: int, day: int, final: bool) -> bool:
        """Whether row `r` may be this patient's claim on `day` (`final`: the journey's planned last claim)."""
        f = self.facts
        if self.dead or (f.death[r] and not final) or (self.diabetes | f.diabetes[r]) == 3:
            return False
        if f.ckd[r] and f.ckd[r] < self.ckd - 1:
            return False
        if f.preventive[r] and self.preventive_day is not None and day - self.preventive_day < PREVENTIVE_SPACING_DAYS:
            return False
        since = None if self.delivery_day is None else day - self.delivery_day
        if f.delivery[r] and since is not None and EPISODE_DAYS < since < DELIVERY_SPACING_DAYS:
            return False
        if f.delivery[r] and self.trimester and (since is None or self.delivery_day < self.trimester_day):
            late = LATEST_DELIVERY_DAYS[self.trimester] + DATE_SLACK_DAYS
            if late < day - self.trimester_day < late + NEXT_DELIVERY_DAYS:
                return False
        if f.trimester[r]:
            if since is not None and since < POSTPARTUM_DAYS:
                return False
            same_pregnancy = self.trimester and day - self.trimester_day < PREGNANCY_DAYS and (
                since is None or self.delivery_day < self.trimester_day)
            if same_pregnancy and f.trimester[r] < self.trimester:
                return False
        return True

    def add(self, r: int, day: int) -> None:
        f = self.facts
        self.dead |= bool(f.death[r])
        self.diabetes |= int(f.diabetes[r])
        self.ckd = max(self.ckd, int(f.ckd[r]))
        if f.delivery[r] and (self.delivery_day is None or day - self.delivery_day > EPISODE_DAYS):
            self.delivery_day = day  # a new delivery episode starts (the episode's window counts from its first)
        if f.trimester[r]:
            self.trimester, self.trimester_day = int(f.trimester[r]), day
        if f.preventive[r]:
            self.preventive_day = day


def codes_with(rows: pl.DataFrame, prefixes: tuple[str, ...]) -> np.ndarray:
    """Per row: whether a diagnosis starts with one of `prefixes`."""
    columns = [c for c in rows.columns if c.startswith("dx_")]
    return rows.select(pl.any_horizontal([pl.col(c).cast(pl.String).str.starts_with(p).fill_null(False)
                                          for c in columns for p in prefixes]))[:, 0].to_numpy()


def age_slack(tight: np.ndarray, slack: int) -> np.ndarray:
    """Years a row may move in age: `TIGHT_AGE_SLACK` where `tight`, `slack` elsewhere."""
    return np.where(tight, TIGHT_AGE_SLACK, slack)

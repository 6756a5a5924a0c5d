"""Benefit design: what the patient owes on each claim (deductible, copay, coinsurance) and what the payer pays.

Claims arrive sorted by patient and service date, so deductibles and out-of-pocket maximums are consumed in
date order over each patient's benefit year (the calendar year). Figures and their sources:

- Medicare Part B (professional and outpatient claims): annual deductible $240 (2024) and $257 (2025), then 20%
  coinsurance (CMS Medicare Parts A & B premiums and deductibles fact sheets). No deductible or coinsurance on
  clinical laboratory tests (42 CFR 410.152(e)) or on covered preventive services: the annual wellness visit
  G0438/G0439, screening mammography, screening colonoscopy, flu vaccine and its G0008 administration; a
  screening colonoscopy that becomes a biopsy (45380 with Z12.11) carries 15% coinsurance in 2023-2026 and no
  deductible (Consolidated Appropriations Act 2021, section 122).
- Medicare Part A (inpatient stays): deductible $1,632 (2024) and $1,676 (2025) per benefit period, i.e. once
  unless more than 60 days passed since the last discharge; no coinsurance for stays under 61 days.
- Commercial plans (KFF Employer Health Benefits Survey 2024: average single deductible ~$1,800, PCP copay ~$26,
  specialist copay ~$44, coinsurance ~20%, 30% of workers in high-deductible plans): a PPO, an HMO and an HDHP
  below; copays apply to the office or emergency visit line and skip the deductible, other lines pay the
  deductible then coinsurance, and everything stops at the plan's out-of-pocket maximum.
- ACA section 2713 / 45 CFR 147.130: $0 cost sharing for USPSTF A/B services, ACIP vaccines, Bright Futures
  and women's preventive visits, in every commercial plan and in Medicaid.
- Medicaid (42 CFR 447.52-.54): nominal $4 copay on adult office visits; children, pregnant women, emergency and
  preventive services exempt; hospital stays $0 for the groups the reference population enrols.
- Self-pay: the patient owes the whole (discounted) allowed amount; no payer pays anything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PART_B_DEDUCTIBLE = np.array([240.0, 257.0])  # 2024, 2025
PART_A_DEDUCTIBLE = np.array([1632.0, 1676.0])
PART_B_COINSURANCE = .20
SCREENING_BIOPSY_COINSURANCE = .15
BENEFIT_PERIOD_DAYS = 60
MEDICAID_ADULT_COPAY = 4.0
# name, share of commercial enrollees, deductible, coinsurance, PCP copay, specialist copay, ED copay, OOP maximum
PLANS = (
    ("ppo", .55, 1200.0, .20, 25.0, 45.0, 250.0, 4500.0),
    ("hmo", .15, 500.0, .15, 20.0, 40.0, 200.0, 4000.0),
    ("hdhp", .30, 3000.0, .20, 0.0, 0.0, 0.0, 6500.0),
)
PLAN_NAMES = tuple(p[0] for p in PLANS)
_PLAN = np.array([p[1:] for p in PLANS])  # share, deductible, coinsurance, pcp, specialist, ed, oop


def draw_plans(rng: np.random.Generator, payer: np.ndarray) -> np.ndarray:
    """Commercial plan index per patient (schema.PAYERS commercial = 2); -1 for other payers."""
    plan = np.searchsorted(np.cumsum(_PLAN[:, 0]), rng.random(len(payer)) * _PLAN[:, 0].sum(), side="right")
    return np.where(payer == 2, np.minimum(plan, len(PLANS) - 1), -1)


@dataclass
class Lines:
    """Line-level facts of one chunk of claims (n, slots)."""

    allowed: np.ndarray
    preventive: np.ndarray  # $0 cost sharing
    lab: np.ndarray  # clinical laboratory test
    visit: np.ndarray  # the office or emergency E/M line (copay line)
    screening_biopsy: np.ndarray  # 45380 on a screening colonoscopy


@dataclass
class Sharing:
    deductible: np.ndarray
    copay: np.ndarray
    coinsurance: np.ndarray
    uninsured: np.ndarray  # self-pay: everything

    @property
    def patient(self) -> np.ndarray:
        return self.deductible + self.copay + self.coinsurance + self.uninsured


def _consume(group: np.ndarray, values: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Part of each value that falls under its group's running cap (rows of a group are contiguous, in order)."""
    cum = np.cumsum(values)
    start = np.r_[True, group[1:] != group[:-1]]
    before = (cum - values)[np.flatnonzero(start)][np.cumsum(start) - 1]
    running = cum - before
    return np.minimum(running, cap) - np.minimum(running - values, cap)


def cost_sharing(
    pid: np.ndarray, day: np.ndarray, year: np.ndarray, los: np.ndarray, payer: np.ndarray, plan: np.ndarray,
    claim_type: np.ndarray, specialist: np.ndarray, exempt: np.ndarray, lines: Lines, inpatient_allowed: np.ndarray,
) -> Sharing:
    """Patient cost sharing per claim; `exempt` marks Medicaid copay exemptions (children, pregnancy)."""
    n = len(pid)
    medicare, medicaid, commercial, self_pay = (payer == k for k in range(4))
    inpatient = claim_type == 2
    a = lines.allowed
    p = np.where(commercial, plan, 0)
    deductible_cap = np.select([medicare, commercial], [PART_B_DEDUCTIBLE[year], _PLAN[p, 1]], 0.0)
    coinsurance_rate = np.select([medicare, commercial], [PART_B_COINSURANCE, _PLAN[p, 2]], 0.0)
    visit_copay = np.select(
        [commercial & (claim_type == 1), commercial & specialist, commercial, medicaid & ~exempt & (claim_type == 0)],
        [_PLAN[p, 5], _PLAN[p, 4], _PLAN[p, 3], MEDICAID_ADULT_COPAY], 0.0,
    )
    copay_lines = lines.visit & ~lines.preventive & (visit_copay[:, None] > 0)
    copay = np.minimum(visit_copay[:, None], a * copay_lines).sum(axis=1)
    free = lines.preventive | (lines.lab & medicare[:, None]) | copay_lines
    biopsy = (lines.screening_biopsy & medicare[:, None]).any(axis=1)
    subject = np.where(lines.screening_biopsy & medicare[:, None], 0.0, a * ~free).sum(axis=1)
    subject = np.where(medicare | commercial, subject, 0.0) * ~inpatient
    # commercial stays share the plan's deductible with the ambulatory claims of the year
    stay = np.where(inpatient, inpatient_allowed, 0.0)
    subject = subject + np.where(commercial, stay, 0.0)
    group = pid * 2 + year
    deductible = _consume(group, subject, deductible_cap)
    coinsurance = coinsurance_rate * (subject - deductible)
    coinsurance += biopsy * SCREENING_BIOPSY_COINSURANCE * (a * lines.screening_biopsy).sum(axis=1)
    # Medicare stays: the Part A deductible once per benefit period
    rows = np.flatnonzero(inpatient & medicare)
    same = np.r_[False, pid[rows][1:] == pid[rows][:-1]]
    gap = np.r_[np.inf, day[rows][1:] - (day[rows][:-1] + los[rows][:-1])]
    part_a = np.zeros(n)
    part_a[rows] = np.where(~same | (gap > BENEFIT_PERIOD_DAYS), PART_A_DEDUCTIBLE[year[rows]], 0.0)
    deductible += np.minimum(part_a, stay)
    # commercial out-of-pocket maximum over the year, applied in date order
    raw = deductible + copay + coinsurance
    capped = np.where(commercial, _consume(group, np.where(commercial, raw, 0.0), _PLAN[p, 6]), raw)
    scale = np.divide(capped, raw, out=np.ones(n), where=raw > 0)
    return Sharing(deductible * scale, copay * scale, coinsurance * scale, np.where(self_pay, a.sum(axis=1) + stay, 0.0))

"""Patients of the reference population: demographics, payer, correlated conditions, pregnancies, births.

Age/sex pyramid: US Census Bureau 2020 population by five-year age group and sex (rounded). Region shares:
2020 census population by census division. Payer mix by age: CDC NHIS health-insurance estimates 2022 (children:
~41% public, ~54% private; 19-64: ~68% private, ~16% Medicaid, ~12% uninsured; 65+: Medicare). Births: CDC
NVSS 2022 birth rates per 1,000 women by age; ~41% of births are Medicaid-paid, ~32% are by cesarean.
Conditions: `conditions.CONDITION_TARGETS` through a Gaussian copula: each patient has three standard-normal
latent factors; condition k is present when loadings·factors + sqrt(1-|loadings|²)·noise exceeds the normal
quantile of its age-, sex- and band-specific prevalence, so every marginal prevalence holds exactly in
expectation while conditions loading on the same factor co-occur.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist

import numpy as np

from synth_ehr_assets.core import schema
from synth_ehr_assets.core.reference.benefits import draw_plans
from synth_ehr_assets.core.reference.conditions import (
    AGE_BANDS, COMBINATION_CODES, COMBINATION_KEEPS, CONDITION_TARGETS, RARE,
)

WINDOW_DAYS = 731  # 2024-01-01 .. 2025-12-31
MAX_AGE = 95
# (first age, last age, share of population in %, female share)
PYRAMID = (
    (0, 4, 5.7, .488), (5, 9, 6.0, .488), (10, 14, 6.4, .489), (15, 19, 6.5, .488), (20, 24, 6.4, .489),
    (25, 29, 6.8, .492), (30, 34, 6.9, .497), (35, 39, 6.6, .502), (40, 44, 6.3, .504), (45, 49, 5.9, .505),
    (50, 54, 6.2, .507), (55, 59, 6.4, .512), (60, 64, 6.3, .521), (65, 69, 5.4, .530), (70, 74, 4.4, .543),
    (75, 79, 3.0, .560), (80, 84, 1.9, .585), (85, 95, 1.9, .640),
)
REGION_SHARES = (4.6, 12.6, 14.3, 6.5, 20.6, 5.8, 12.4, 7.5, 16.0)  # schema.REGIONS order
# payer shares (medicare, medicaid, commercial, self_pay) for ages 0-17, 18-64, 65+ and for pregnant patients
PAYER_MIX = ((0, .41, .54, .05), (.04, .16, .68, .12), (.92, .03, .04, .01))
PREGNANCY_PAYER_MIX = (0, .41, .51, .08)
BIRTHS_PER_1000 = {15: 13.6, 20: 56.7, 25: 91.0, 30: 95.8, 35: 54.3, 40: 12.5, 45: 1.1}
CESAREAN_SHARE = .32
PREGNANCY_COMPLICATIONS = (.07, .04, .02)  # gestational diabetes, pre-eclampsia, hyperemesis
GESTATION_DAYS = 273  # last menstrual period to delivery at 39 weeks
# expected claims in two years for a patient with no chronic condition, by age (newborns: besides the birth stay)
BASE_CLAIMS = ((0, 6.0), (1, 4.0), (5, 2.4), (18, 2.3), (45, 3.5), (65, 5.0))
BURDEN_CLAIMS = .45  # each chronic condition adds 45% to the expected claim count
RARE_BURDEN = 3.0  # a rare condition counts as three common ones
# Coverage by design: in the first chunk, one of the first RARE_FLOOR_PATIENTS eligible patients carries each rare
# condition, so every table of more than ~15,000 claims holds every rare-tail code (E840, G1221, D66, ...).
RARE_FLOOR_PATIENTS = 2000


@lru_cache(maxsize=1)
def single_year_pyramid() -> tuple[np.ndarray, np.ndarray]:
    """Population weight by single year of age 0..MAX_AGE for (female, male); rows sum to 1 overall."""
    weights = np.zeros((MAX_AGE + 1, 2))
    for low, high, share, female in PYRAMID:
        ages = np.arange(low, high + 1)
        weights[ages, 0] = share * female / len(ages)
        weights[ages, 1] = share * (1 - female) / len(ages)
    return weights / weights.sum(), weights.sum(axis=1) / weights.sum()


@lru_cache(maxsize=1)
def condition_thresholds() -> np.ndarray:
    """Latent liability threshold per (age 0..MAX_AGE, sex F/M, condition); +inf where never drawn."""
    weights, _ = single_year_pyramid()
    ages = np.arange(MAX_AGE + 1)
    thresholds = np.full((MAX_AGE + 1, 2, len(CONDITION_TARGETS)), np.inf)
    inverse = NormalDist().inv_cdf
    for k, cond in enumerate(CONDITION_TARGETS):
        for (low, high), prevalence in zip(AGE_BANDS, cond.prevalence):
            if prevalence <= 0:
                continue
            band = (ages >= low) & (ages <= high)
            eligible = band & (ages >= cond.min_age)
            pop = weights[band].sum(axis=0)
            elig = weights[eligible].sum(axis=0) / pop  # eligible share of the band per sex
            if cond.sex is not None:
                s = 0 if cond.sex == "F" else 1
                per_sex = np.zeros(2)
                per_sex[s] = prevalence / elig[s]
            else:
                male = prevalence * pop.sum() / (pop[0] * elig[0] * cond.female_rr + pop[1] * elig[1])
                per_sex = np.array([male * cond.female_rr, male])
            if per_sex.max() >= 1:
                raise ValueError(f"condition {cond.key}: prevalence {prevalence} in band {low}-{high} is not reachable")
            for s in (0, 1):
                if per_sex[s] > 0:
                    thresholds[eligible, s, k] = inverse(1 - per_sex[s])
    return thresholds


@dataclass
class Patients:
    """One chunk of patients; arrays are indexed by patient."""

    age0: np.ndarray  # age at the window start (newborns: 0, born during the window)
    female: np.ndarray
    region: np.ndarray
    payer: np.ndarray
    conditions: np.ndarray  # (n, K) bool
    condition_codes: np.ndarray  # (n, K) int32 vocabulary index, -1 where absent
    burden: np.ndarray
    phase: np.ndarray  # fraction of a year to the next birthday at the window start
    newborn: np.ndarray
    birth_day: np.ndarray  # newborns: day of birth in the window
    pregnant: np.ndarray
    delivery_day: np.ndarray  # day of delivery relative to the window start (may fall after it)
    first_pregnancy: np.ndarray
    complication: np.ndarray  # 0 none, 1 gestational diabetes, 2 pre-eclampsia, 3 hyperemesis
    cesarean: np.ndarray
    general_claims: np.ndarray
    plan: np.ndarray  # commercial plan (benefits.PLANS index), -1 for other payers

    @property
    def n(self) -> int:
        return len(self.age0)


def draw_patients(rng: np.random.Generator, n: int, code_index: dict[str, int], rare_floor: bool = False) -> Patients:
    weights, _ = single_year_pyramid()
    flat = rng.choice(weights.size, size=n, p=weights.ravel())
    age0, sex_col = np.divmod(flat, 2)
    female = sex_col == 0
    region = rng.choice(len(schema.REGIONS), size=n, p=np.array(REGION_SHARES) / sum(REGION_SHARES))
    conditions = _draw_conditions(rng, age0, female)
    rare = np.array(RARE)
    keys = [c.key for c in CONDITION_TARGETS]
    if rare_floor:
        _ensure_rare(rng, conditions, age0, female, np.flatnonzero(rare))
    codes = _condition_codes(rng, conditions, code_index)
    burden = conditions[:, ~rare].sum(axis=1) + RARE_BURDEN * conditions[:, rare].sum(axis=1)
    newborn = age0 == 0
    birth_day = np.where(newborn, rng.integers(0, WINDOW_DAYS, size=n), 0)
    pregnant, delivery_day, first, complication, cesarean = _draw_pregnancies(rng, age0, female)
    band = np.searchsorted([a for a, _ in BASE_CLAIMS], age0, side="right") - 1
    base = np.array([b for _, b in BASE_CLAIMS])[band] * np.where(~female & (age0 >= 18) & (age0 < 45), .75, 1.0)
    frailty = rng.gamma(2.0, .5, size=n)
    expected = base * (1 + BURDEN_CLAIMS * burden) * frailty
    general = rng.poisson(expected) + np.where(newborn, 0, 1)
    payer = _draw_payer(rng, age0, pregnant)
    phase = rng.random(n)
    diabetic = conditions[:, [keys.index("diabetes_t1"), keys.index("diabetes_t2")]].any(axis=1)
    complication = np.where((complication == 1) & diabetic, 0, complication)  # pre-existing diabetes is not GDM
    return Patients(age0, female, region, payer, conditions, codes, burden, phase, newborn, birth_day,
                    pregnant, delivery_day, first, complication, cesarean, general, draw_plans(rng, payer))


def _draw_conditions(rng: np.random.Generator, age0: np.ndarray, female: np.ndarray) -> np.ndarray:
    loadings = np.array([c.loadings for c in CONDITION_TARGETS])
    factors = rng.standard_normal((len(age0), loadings.shape[1]))
    noise = rng.standard_normal((len(age0), len(CONDITION_TARGETS)))
    liability = factors @ loadings.T + noise * np.sqrt(1 - (loadings**2).sum(axis=1))
    has = liability > condition_thresholds()[age0, np.where(female, 0, 1)]
    keys = [c.key for c in CONDITION_TARGETS]
    has[:, keys.index("diabetes_t2")] &= ~has[:, keys.index("diabetes_t1")]
    return has


def _ensure_rare(rng, has: np.ndarray, age0: np.ndarray, female: np.ndarray, rare: np.ndarray) -> None:
    thresholds = condition_thresholds()[age0, np.where(female, 0, 1)]
    first = np.arange(len(age0)) < RARE_FLOOR_PATIENTS
    for k in rare:
        eligible = np.flatnonzero(first & np.isfinite(thresholds[:, k]))
        if len(eligible) and not has[first, k].any():
            has[rng.choice(eligible), k] = True


def _condition_codes(rng: np.random.Generator, has: np.ndarray, code_index: dict[str, int]) -> np.ndarray:
    n, k_total = has.shape
    out = np.full((n, k_total), -1, dtype=np.int32)
    keys = [c.key for c in CONDITION_TARGETS]
    for k, cond in enumerate(CONDITION_TARGETS):
        variants = np.array([code_index[code] for code, _ in cond.codes], dtype=np.int32)
        probs = np.array([w for _, w in cond.codes], dtype=float)
        pick = np.searchsorted(np.cumsum(probs / probs.sum()), rng.random(n), side="right").clip(0, len(variants) - 1)
        chosen = variants[pick]
        kept = chosen == code_index.get(COMBINATION_KEEPS.get(cond.key, ""), -1)
        for needs, code in reversed(COMBINATION_CODES.get(cond.key, ())):
            together = np.logical_and.reduce([has[:, keys.index(other)] for other in needs])
            chosen = np.where(together & ~kept, code_index[code], chosen)
        out[:, k] = np.where(has[:, k], chosen, -1)
    return out


def _draw_pregnancies(rng: np.random.Generator, age0: np.ndarray, female: np.ndarray):
    n = len(age0)
    rate = np.zeros(n)
    for start, births in BIRTHS_PER_1000.items():
        rate = np.where((age0 >= start) & (age0 < start + 5), births / 1000, rate)
    span = WINDOW_DAYS + GESTATION_DAYS - 60  # deliveries from day 60 to 213 days after the window
    eligible = female & (age0 >= 15) & (age0 <= 47)
    pregnant = eligible & (rng.random(n) < rate * span / 365.25)
    delivery_day = np.where(pregnant, rng.integers(60, 60 + span, size=n), 0)
    first = rng.random(n) < .4
    complication = np.searchsorted(np.cumsum(PREGNANCY_COMPLICATIONS), rng.random(n), side="right") + 1
    complication = np.where(complication > len(PREGNANCY_COMPLICATIONS), 0, complication) * pregnant
    cesarean = pregnant & (rng.random(n) < CESAREAN_SHARE)
    return pregnant, delivery_day, first & pregnant, complication, cesarean


def _draw_payer(rng: np.random.Generator, age0: np.ndarray, pregnant: np.ndarray) -> np.ndarray:
    group = np.where(age0 < 18, 0, np.where(age0 < 65, 1, 2))
    table = np.cumsum(np.array(PAYER_MIX + (PREGNANCY_PAYER_MIX,)), axis=1)
    table /= table[:, -1:]
    group = np.where(pregnant, 3, group)
    return (rng.random(len(age0))[:, None] > table[group]).sum(axis=1)

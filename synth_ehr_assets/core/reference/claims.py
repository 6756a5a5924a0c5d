"""Claims of the reference population (DESIGN §5), generated in vectorised chunks of patients.

Each patient gets general claims (count grows with chronic burden) plus, where it applies, prenatal visits,
a delivery stay and a postpartum visit (pregnant women 15-49), or a birth stay (infants born in the window).
A general claim is preventive, a chronic follow-up, an acute visit or a hospital admission; its principal
diagnosis follows the reason, its secondary diagnoses are the patient's chronic conditions (by priority), its
procedures follow the reason and setting (E/M level by complexity, labs, imaging; ICD-10-PCS on stays).
Chunk c draws from `numpy.random.default_rng([seed, c])`, so a table is a prefix of any larger one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synth_ehr_assets.core.reference import encounters as enc
from synth_ehr_assets.core.reference.calendar import window_calendar
from synth_ehr_assets.core.reference.conditions import CONDITION_KEYS, RARE
from synth_ehr_assets.core.reference.population import GESTATION_DAYS, WINDOW_DAYS, Patients
from synth_ehr_assets.core.reference.tables import Tables, VisitTable

PROFESSIONAL, OUTPATIENT, INPATIENT = 0, 1, 2
GENERAL, PRENATAL, DELIVERY, POSTPARTUM, BIRTH, GLOBAL_OB = range(6)  # GLOBAL_OB: the obstetrician's global claim
# relative weight of preventive, chronic follow-up, acute and admission reasons for a general claim
PREVENTIVE_WEIGHT, CHRONIC_WEIGHT, ACUTE_WEIGHT, ADMISSION_WEIGHT = .18, .30, .45, .012
NEW_PATIENT_SHARE = .07
RARE_VISIT_WEIGHT = 3.0


@dataclass
class Schedule:
    pid: np.ndarray
    kind: np.ndarray
    day: np.ndarray
    age: np.ndarray
    age_days: np.ndarray  # newborns: days since birth; others: large


class Claims:
    """Column arrays of one chunk of claims, filled reason by reason."""

    def __init__(self, n: int):
        self.claim_type = np.zeros(n, np.int8)
        self.principal = np.full(n, -1, np.int32)
        self.extra_dx = np.full((n, 2), -1, np.int32)
        self.replaced = np.full(n, -1, np.int32)  # condition whose own code the principal replaces
        self.px = np.full((n, 5), -1, np.int32)
        self.evaluation = np.full(n, enc.EVALUATIONS.index("none"), np.int8)
        self.acuity = np.zeros(n)
        self.specialty = np.full(n, -1, np.int16)
        self.drg = np.full(n, "", dtype="<U3")
        self.severity = np.full(n, -1, np.int8)  # stays: the burden's MS-DRG tier (0 MCC, 1 CC, 2 none) before coding
        self.los = np.zeros(n, np.int32)
        self.base_charge = np.zeros(n)
        self.stage = np.full(n, -1, np.int8)  # pregnancy stage (coding.PREGNANCY_STAGES index), -1 none


def reorder(columns, order: np.ndarray) -> None:
    """Apply a row permutation to every array attribute of a `Claims` or `Schedule`."""
    for name, value in vars(columns).items():
        if isinstance(value, np.ndarray):
            setattr(columns, name, value[order])


def schedule(rng: np.random.Generator, P: Patients) -> Schedule:
    """Every claim's patient, kind and day (0 = 2024-01-01), sorted by patient then day (births first)."""
    lmp = P.delivery_day - GESTATION_DAYS
    low = np.maximum(lmp + 42, 0)
    span = np.where(P.pregnant, np.maximum(np.minimum(P.delivery_day - 1, WINDOW_DAYS - 1) - low, 0), 0)
    prenatal = rng.poisson(10 * span / (GESTATION_DAYS - 42))
    delivered = P.pregnant & (P.delivery_day < WINDOW_DAYS)
    postpartum = delivered & (P.delivery_day + 14 < WINDOW_DAYS) & (rng.random(P.n) < .85)
    counts = (P.general_claims, prenatal, delivered.astype(int), postpartum.astype(int), P.newborn.astype(int),
              delivered.astype(int))
    pid = np.concatenate([np.repeat(np.arange(P.n), c) for c in counts])
    kind = np.concatenate([np.full(int(c.sum()), k, np.int8) for k, c in enumerate(counts)])
    u = rng.random(len(pid))
    first = np.where(P.newborn, np.minimum(P.birth_day + 1, WINDOW_DAYS - 1), 0)[pid]
    day = np.select(
        [kind == GENERAL, kind == PRENATAL, (kind == DELIVERY) | (kind == GLOBAL_OB), kind == POSTPARTUM],
        [first + (u * (WINDOW_DAYS - first)).astype(int), low[pid] + (u * (span[pid] + 1)).astype(int),
         P.delivery_day[pid], np.minimum(P.delivery_day[pid] + 14 + (u * 42).astype(int), WINDOW_DAYS - 1)],
        P.birth_day[pid],
    )
    order = np.lexsort((kind != BIRTH, day, pid))
    pid, kind, day = pid[order], kind[order], day[order]
    newborn = P.newborn[pid]
    age_days = np.where(newborn, day - P.birth_day[pid], 10**6)
    age = np.where(newborn, age_days // 365.25, P.age0[pid] + np.floor(P.phase[pid] + day / 365.25)).astype(np.int32)
    return Schedule(pid, kind, day, age, age_days)


def pick(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """Row-wise categorical draw from non-negative weights (every row needs a positive weight)."""
    cumulative = np.cumsum(weights, axis=1)
    if (cumulative[:, -1] <= 0).any():
        raise ValueError("reference design: a claim has no eligible encounter reason")
    u = rng.random(len(weights)) * cumulative[:, -1]
    return np.minimum((cumulative <= u[:, None]).sum(axis=1), weights.shape[1] - 1)


def visit_weights(table: VisitTable, age: np.ndarray, female: np.ndarray, day: np.ndarray) -> np.ndarray:
    group = np.where(age < 18, 0, np.where(age < 65, 1, 2))
    sex_ok = (table.sex == 0) | ((table.sex == 1) & female[:, None]) | ((table.sex == 2) & ~female[:, None])
    eligible = (age[:, None] >= table.min_age) & (age[:, None] <= table.max_age) & sex_ok
    season = table.season[:, window_calendar()["month"][day]].T
    return table.weights.T[group] * eligible * np.where(female[:, None], table.female_mult, 1.0) * season


def apply_visit(rng: np.random.Generator, table: VisitTable, rows: np.ndarray, choice: np.ndarray, C: Claims) -> None:
    C.principal[rows] = table.code[choice]
    C.claim_type[rows] = table.claim_type[choice]
    C.evaluation[rows] = table.evaluation[choice]
    C.acuity[rows] = table.acuity[choice]
    C.specialty[rows] = table.specialty[choice]
    width = table.px.shape[1]
    C.px[rows, :width] = np.where(rng.random((len(rows), width)) < table.px_prob[choice], table.px[choice], -1)
    extra = np.where(rng.random((len(rows), table.extra_dx.shape[1])) < table.extra_prob[choice], table.extra_dx[choice], -1)
    C.extra_dx[rows, : extra.shape[1]] = extra


def general_claims(rng: np.random.Generator, T: Tables, P: Patients, S: Schedule, C: Claims) -> None:
    rows = np.flatnonzero(S.kind == GENERAL)
    pid, age, day = S.pid[rows], S.age[rows], S.day[rows]
    female, burden = P.female[pid], P.burden[pid]
    weights = np.stack([
        PREVENTIVE_WEIGHT * np.where(age < 2, 3.0, np.where(age < 18, 1.5, 1.0)),
        CHRONIC_WEIGHT * np.minimum(burden, 4),
        np.full(len(rows), ACUTE_WEIGHT),
        ADMISSION_WEIGHT * (1 + .5 * burden) * np.where(age >= 65, 2.5, np.where(age < 18, .5, 1.0)),
    ], axis=1)
    category = pick(rng, weights)
    for table, cat in ((T.preventive, 0), (T.acute, 2)):
        sel = category == cat
        apply_visit(rng, table, rows[sel], pick(rng, visit_weights(table, age[sel], female[sel], day[sel])), C)
    _newborn_checks(T, S, rows[category == 0], C)
    _follow_ups(rng, T, P, pid[category == 1], rows[category == 1], C)
    _admissions(rng, T, P, pid[category == 3], age[category == 3], day[category == 3], rows[category == 3], C)


def _newborn_checks(T: Tables, S: Schedule, rows: np.ndarray, C: Claims) -> None:
    for max_days, code in reversed(enc.NEWBORN_WELL):
        C.principal[rows[S.age_days[rows] <= max_days]] = T.index[code]


def _follow_ups(rng, T: Tables, P: Patients, pid: np.ndarray, rows: np.ndarray, C: Claims) -> None:
    """A visit for one of the patient's conditions (rare ones weigh more): office, or its outpatient procedure."""
    k = pick(rng, P.conditions[pid] * np.where(np.array(RARE), RARE_VISIT_WEIGHT, 1.0))
    apply_visit(rng, T.conditions, rows, k, C)
    C.principal[rows] = P.condition_codes[pid, k]
    C.replaced[rows] = k
    # "code first": heart failure / CKD with hypertension is coded I11.0 / I12.9 / I13.0 first, diabetic CKD E11.22
    keys = CONDITION_KEYS
    hf, ckd, htn, dm2 = (keys.index(key) for key in ("heart_failure", "ckd", "hypertension", "diabetes_t2"))
    htn_code, dm2_code = P.condition_codes[pid, htn], P.condition_codes[pid, dm2]
    with_hf, with_ckd = np.isin(htn_code, [T.index["I110"], T.index["I130"]]), np.isin(htn_code, [T.index["I129"], T.index["I130"]])
    hypertensive = ((k == hf) & with_hf) | ((k == ckd) & with_ckd)
    diabetic = (k == ckd) & ~hypertensive & (dm2_code == T.index["E1122"])
    for first, condition, code in ((hypertensive, htn, htn_code), (diabetic, dm2, dm2_code)):
        C.principal[rows[first]] = code[first]
        C.replaced[rows[first]] = condition
    outpatient_px, probability = T.condition_outpatient[k, 0], T.condition_outpatient[k, 1]
    outpatient = (outpatient_px >= 0) & (rng.random(len(rows)) < probability)
    out = rows[outpatient]
    C.claim_type[out] = OUTPATIENT
    C.evaluation[out] = enc.EVALUATIONS.index("none")
    C.px[out] = -1
    C.px[out, 0] = outpatient_px[outpatient]


LOS_FACTOR = (1.5, 1.15, .9)  # stay length with MCC / with CC / without, relative to the DRG family's mean


def severity(burden: np.ndarray) -> np.ndarray:
    """MS-DRG severity column: 0 with MCC (burden >= 4), 1 with CC (2-3), 2 without CC/MCC."""
    return np.where(burden >= 4, 0, np.where(burden >= 2, 1, 2))


def _admissions(rng, T: Tables, P: Patients, pid, age, day, rows: np.ndarray, C: Claims) -> None:
    has = P.conditions[pid]
    weights = visit_weights(T.admissions, age, P.female[pid], day)
    weights *= np.exp(has @ np.log(T.admission_multiplier).T)
    needs = T.admission_requires.any(axis=1)
    weights *= ~needs | ((has.astype(np.int32) @ T.admission_requires.T.astype(np.int32)) > 0)
    a = pick(rng, weights)
    apply_visit(rng, T.admissions, rows, a, C)
    # the first required condition present gives the principal through the admission's code map
    k = np.argmax(has & T.admission_requires[a], axis=1)
    own = P.condition_codes[pid, k]
    mapped = T.admission_map[a, np.maximum(own, 0)]
    fixed = T.admission_fixed[a]
    C.principal[rows] = np.where(fixed >= 0, fixed, np.where(mapped >= 0, mapped, own))
    C.replaced[rows] = np.where(T.admission_replaces[a], k, -1)
    # heart failure with hypertension: the I11.0 / I13.0 combination code is principal, the I50 code follows it
    hf, htn = CONDITION_KEYS.index("heart_failure"), CONDITION_KEYS.index("hypertension")
    hypertensive = (T.admission_requires[a, hf]) & (k == hf) & has[:, htn]
    first = rows[hypertensive]
    C.extra_dx[first, 0] = C.principal[first]
    C.principal[first] = P.condition_codes[pid[hypertensive], htn]
    sev = severity(P.burden[pid])
    C.claim_type[rows] = INPATIENT
    C.drg[rows] = T.admission_drg[a, sev]
    C.severity[rows] = sev
    alos = T.admission_alos[a] * np.array(LOS_FACTOR)[sev]
    C.los[rows] = np.maximum(1, rng.poisson(alos))
    C.base_charge[rows] = (T.admission_charge[a] * np.array(enc.SEVERITY_MULTIPLIER)[sev]
                           * (C.los[rows] / T.admission_alos[a]) ** .6)

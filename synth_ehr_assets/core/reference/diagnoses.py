"""Each claim's diagnosis list: principal, reason-specific codes, then the chronic conditions the setting codes.

The rules (list size by setting, specialty relevance, combination codes, pregnancy codes) and their sources are
in `coding.py`; this module applies them to one chunk of claims, vectorised.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from synth_ehr_assets.core import schema
from synth_ehr_assets.core.reference import encounters as enc
from synth_ehr_assets.core.reference.claims import BIRTH, DELIVERY, POSTPARTUM, PRENATAL, Claims, Schedule
from synth_ehr_assets.core.reference.coding import (
    CAPS, LOWER_RESPIRATORY_INFECTIONS, SCREENING_PRINCIPALS, code_tables, relevance_matrix,
)
from synth_ehr_assets.core.reference.conditions import CONDITION_KEYS
from synth_ehr_assets.core.reference.population import Patients
from synth_ehr_assets.core.reference.tables import SPECIALTIES, Tables

PRIMARY_CARE = ("family_medicine", "internal_medicine", "pediatrics", "hospitalist", "emergency_medicine")
AMBULATORY_ROTATION = 6.0  # exponential jitter on the priority rank: visits list different subsets over a year
CAP_WEIGHT = .6  # list size = 1 + Binomial(cap - 1, .6)
_K = {key: k for k, key in enumerate(CONDITION_KEYS)}


def _dedupe(codes: np.ndarray) -> np.ndarray:
    """Blank every repeat of a code within a row (the first occurrence stays)."""
    order = np.argsort(codes, axis=1, kind="stable")
    ordered = np.take_along_axis(codes, order, axis=1)
    repeat = np.zeros_like(ordered, bool)
    repeat[:, 1:] = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)
    out = codes.copy()
    rows = np.nonzero(repeat)[0]
    out[rows, order[repeat]] = -1
    return out


def _compact(codes: np.ndarray, width: int) -> np.ndarray:
    order = np.argsort(codes < 0, axis=1, kind="stable")
    packed = np.take_along_axis(codes, order, axis=1)[:, :width]
    if packed.shape[1] < width:
        packed = np.pad(packed, ((0, 0), (0, width - packed.shape[1])), constant_values=-1)
    return packed


def _caps(rng: np.random.Generator, T: Tables, S: Schedule, C: Claims) -> np.ndarray:
    principal_screening = np.isin(C.principal, [T.index[c] for c in SCREENING_PRINCIPALS])
    primary = np.isin(C.specialty, [SPECIALTIES.index(s) for s in PRIMARY_CARE])
    ed = C.evaluation == enc.EVALUATIONS.index("ed")
    cap = np.select(
        [S.kind == BIRTH, (S.kind == PRENATAL) | (S.kind == DELIVERY), C.claim_type == 2,
         principal_screening | (S.kind == POSTPARTUM) | (C.specialty == SPECIALTIES.index("radiology")), ed,
         C.claim_type == 1, C.evaluation == enc.EVALUATIONS.index("preventive"), ~primary],
        [CAPS["newborn"], CAPS["obstetric"], CAPS["inpatient"], CAPS["screening"], CAPS["ed"], CAPS["outpatient"],
         CAPS["preventive"], CAPS["specialist"]],
        CAPS["primary_care"],
    )
    drawn = 1 + rng.binomial(np.maximum(cap - 1, 0), CAP_WEIGHT)
    return np.where((C.claim_type == 2) | (C.stage >= 0), cap, np.minimum(drawn, cap) * (cap > 0))


def claim_diagnoses(rng: np.random.Generator, T: Tables, P: Patients, S: Schedule, C: Claims) -> np.ndarray:
    """(n, DX_SLOTS) vocabulary indices, -1 padded; also rewrites `C.principal` where a convention moves it."""
    n, lookups = len(S.pid), code_tables(T.vocab)
    chronic = P.condition_codes[S.pid].copy()
    replaced = C.replaced >= 0
    chronic[np.flatnonzero(replaced), C.replaced[replaced]] = -1
    chronic[chronic == C.principal[:, None]] = -1
    # COPD with an acute lower respiratory infection: J44.0, and J44.0 first on an acute bronchitis visit
    copd = _K["copd"]
    lri = np.isin(C.principal, [T.index[c] for c in LOWER_RESPIRATORY_INFECTIONS]) & (chronic[:, copd] >= 0)
    chronic[lri, copd] = T.index["J440"]
    bronchitis = lri & (C.principal == T.index["J209"])
    chronic[bronchitis, copd] = C.principal[bronchitis]
    C.principal[bronchitis] = T.index["J440"]
    obstetric_rows = C.stage >= 0
    stage = np.maximum(C.stage, 0)[:, None]
    relevant = relevance_matrix(SPECIALTIES)[C.specialty]
    relevant = np.where(obstetric_rows[:, None], lookups["obstetric"][chronic, stage] >= 0, relevant)
    eligible = (chronic >= 0) & relevant
    fixed = ((C.claim_type == 2) | obstetric_rows)[:, None]  # stays and the global obstetric claim: by priority
    rotation = np.where(fixed, 0.0, AMBULATORY_ROTATION * rng.exponential(1.0, chronic.shape))
    key = np.where(eligible, np.arange(len(CONDITION_KEYS)) + rotation, np.inf)
    rank = np.argsort(np.argsort(key, axis=1), axis=1)
    selected = eligible & (rank < _caps(rng, T, S, C)[:, None])
    # "use additional code": a combination code brings the codes it needs, even past the list size
    # (a specialist who would not code the needed condition does not code the combination either)
    needs = lookups["needs"]
    need = needs[C.principal]
    for k in (_K["hypertension"], _K["diabetes_t2"]):
        brings = needs[chronic[:, k]] & (chronic >= 0)
        selected[:, k] &= ~(brings & ~relevant).any(axis=1)
        need |= brings & selected[:, [k]]
    selected |= need & (chronic >= 0)
    listed = np.where(selected, chronic, -1)
    # a combination code, then the codes it needs ("code first"), then the rest: the 10 slots keep them together
    combo = np.zeros_like(selected)
    for k in (_K["hypertension"], _K["diabetes_t2"]):
        combo[:, k] = needs[chronic[:, k]].any(axis=1) & selected[:, k]
    order = np.argsort(np.where(selected, np.where(combo, -2.0, np.where(need, -1.0, key)), np.inf), axis=1)[:, :12]
    listed = np.take_along_axis(listed, order, axis=1)
    # Alzheimer's (G30.9) brings its F02.8x code: with mood disturbance if depressed, with anxiety if anxious
    has = P.conditions[S.pid]
    variant = np.where(has[:, _K["depression"]], 1, np.where(has[:, _K["anxiety"]], 2, 0))
    companion = lookups["companion"]
    # each listed code is followed by its companion (G30.9, F02.8x)
    paired = np.stack([listed, companion[listed, variant[:, None]]], axis=2).reshape(n, -1)
    principal_companion = companion[C.principal, variant][:, None]
    pregnancy = np.where(obstetric_rows[:, None], lookups["obstetric"][listed, np.maximum(C.stage, 0)[:, None]], -1)
    pregnancy = _compact(_dedupe(pregnancy), pregnancy.shape[1])
    # a pre-existing condition makes the pregnancy complicated: its O code replaces Z34 / O80 as principal
    routine = np.isin(C.principal, [T.index[c] for c in enc.PRENATAL_FIRST + enc.PRENATAL_OTHER + ("O80",)])
    promote = routine & (pregnancy[:, 0] >= 0)
    C.principal[promote] = pregnancy[promote, 0]
    pregnancy[promote, 0] = -1
    codes = np.concatenate([C.principal[:, None], principal_companion, pregnancy, C.extra_dx, paired], axis=1)
    packed = _compact(_dedupe(codes), schema.DX_SLOTS + 1)
    # a code whose companion would fall past the last slot leaves with it (G30.9 never goes without F02.8x)
    cut = np.isin(packed[:, -1], companion[companion >= 0])
    packed[cut, -2] = -1
    return _compact(packed[:, :-1], schema.DX_SLOTS)


@lru_cache(maxsize=2)
def _excluded_with(vocab: tuple[str, ...]) -> np.ndarray:
    """(V+1, V+1) booleans: [a, b] when a is not coded together with b (the last row and column: empty slot).

    From simple-icd-10-cm's notes via `edits_icd.conflict_pairs`: an Excludes1 note of a (or of its category)
    names b, so b is the condition to code ("I10" with "O10.x": the pregnancy code wins; "Z12.4" with
    "Z01.41x": the gynecological examination includes the cervical screening); or a is an unspecified code
    beside a specified sibling b.
    """
    from synth_ehr_assets.core.reference.tables import diagnosis_codes
    from synth_ehr_assets.core.synth.edits_icd import conflict_pairs

    index = {code: i for i, code in enumerate(vocab)}
    out = np.zeros((len(vocab) + 1, len(vocab) + 1), bool)
    pairs = conflict_pairs([code for code in diagnosis_codes() if code in index])
    for code, other in pairs.select("code", "other").iter_rows():
        out[index[code], index[other]] = True
    return out


def drop_excluded(T: Tables, dx: np.ndarray) -> np.ndarray:
    """Blank every secondary that may not share the claim with another listed code (never the principal: when
    the principal is the excluded one, its partner goes), then pack the list to the left."""
    excluded = _excluded_with(T.vocab)
    slot = np.where(dx >= 0, dx, len(T.vocab))
    involved = excluded.any(axis=1) | excluded.any(axis=0)
    rows = np.flatnonzero(involved[slot].sum(axis=1) >= 2)
    if rows.size == 0:
        return dx
    s = slot[rows]
    drop = np.zeros(s.shape, bool)
    for j in range(1, s.shape[1]):
        for k in range(s.shape[1]):
            if k != j:
                drop[:, j] |= excluded[s[:, j], s[:, k]] & ~drop[:, k]
        drop[:, j] |= excluded[s[:, 0], s[:, j]]
    out = dx.copy()
    out[rows] = np.where(drop, -1, dx[rows])
    return _compact(out, dx.shape[1])

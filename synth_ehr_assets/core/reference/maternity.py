"""Prenatal visits, delivery stays, postpartum visits (females 15-49) and birth stays (infants born in the window)."""

from __future__ import annotations

import numpy as np

from synth_ehr_assets.core.reference import encounters as enc
from synth_ehr_assets.core.reference.claims import (
    BIRTH, DELIVERY, INPATIENT, POSTPARTUM, PRENATAL, PROFESSIONAL, Claims, Schedule,
)
from synth_ehr_assets.core.reference.population import GESTATION_DAYS, Patients
from synth_ehr_assets.core.reference.tables import SPECIALTIES, Tables

OBSTETRICS = SPECIALTIES.index("obstetrics_gynecology")
OFFICE = enc.EVALUATIONS.index("office")
DELIVERY_WEEKS, DELIVERY_WEEK_SHARES = np.arange(37, 42), np.array([.1, .25, .4, .2, .05])


def _codes(T: Tables, names) -> np.ndarray:
    return np.array([T.index[name] for name in names], np.int32)


def maternity_claims(rng: np.random.Generator, T: Tables, P: Patients, S: Schedule, C: Claims) -> None:
    _prenatal(rng, T, P, S, np.flatnonzero(S.kind == PRENATAL), C)
    _delivery(rng, T, P, S, np.flatnonzero(S.kind == DELIVERY), C)
    rows = np.flatnonzero(S.kind == POSTPARTUM)
    C.principal[rows], C.claim_type[rows] = T.index[enc.POSTPARTUM], PROFESSIONAL
    C.evaluation[rows], C.specialty[rows] = OFFICE, OBSTETRICS
    _births(rng, T, P, S, np.flatnonzero(S.kind == BIRTH), C)


def _weeks_codes(T: Tables, weeks: np.ndarray) -> np.ndarray:
    table = np.array([T.index[enc.WEEKS_CODES[w]] for w in range(0, 43)], np.int32)
    return table[np.clip(weeks, 0, 42)]


def _prenatal(rng, T: Tables, P: Patients, S: Schedule, rows: np.ndarray, C: Claims) -> None:
    pid = S.pid[rows]
    weeks = (S.day[rows] - (P.delivery_day[pid] - GESTATION_DAYS)) // 7
    trimester = np.where(weeks < 14, 0, np.where(weeks < 28, 1, 2))
    normal = np.where(P.first_pregnancy[pid], _codes(T, enc.PRENATAL_FIRST)[trimester],
                      _codes(T, enc.PRENATAL_OTHER)[trimester])
    complication = P.complication[pid]
    lows = np.array([0] + [low for low, _ in enc.COMPLICATION_WEEKS])[complication]
    highs = np.array([-1] + [high for _, high in enc.COMPLICATION_WEEKS])[complication]
    coded = (complication > 0) & (weeks >= lows) & (weeks <= highs)
    complication_code = np.concatenate([[-1], _codes(T, enc.PRENATAL_COMPLICATION)])[complication]
    C.principal[rows] = np.where(coded, complication_code, normal)
    C.extra_dx[rows, 0] = _weeks_codes(T, weeks)
    C.claim_type[rows], C.evaluation[rows], C.specialty[rows] = PROFESSIONAL, OFFICE, OBSTETRICS
    px = np.array([T.index[code] for code, _ in enc.PRENATAL_PX], np.int32)
    prob = np.array([p for _, p in enc.PRENATAL_PX])
    C.px[rows] = np.where(rng.random((len(rows), len(px))) < prob, px, -1)


def _delivery(rng, T: Tables, P: Patients, S: Schedule, rows: np.ndarray, C: Claims) -> None:
    pid = S.pid[rows]
    cesarean, complication = P.cesarean[pid], P.complication[pid]
    complicated = (complication == 1) | (complication == 2)
    at_delivery = _codes(T, enc.DELIVERY_COMPLICATION)  # GDM, pre-eclampsia, uncomplicated (O80)
    vaginal_code = np.where(complicated, at_delivery[np.clip(complication - 1, 0, 1)], at_delivery[2])
    # a repeat cesarean needs an earlier one: first pregnancies get breech or post-term indications
    indications = _codes(T, enc.CESAREAN_INDICATIONS)
    indication = np.where(P.first_pregnancy[pid], rng.integers(1, 3, len(rows)), rng.integers(0, 3, len(rows)))
    cesarean_code = np.where(complicated, at_delivery[np.clip(complication - 1, 0, 1)], indications[indication])
    C.principal[rows] = np.where(cesarean, cesarean_code, vaginal_code)
    weeks = rng.choice(DELIVERY_WEEKS, size=len(rows), p=DELIVERY_WEEK_SHARES)
    C.extra_dx[rows, 0] = _weeks_codes(T, weeks)
    C.extra_dx[rows, 1] = T.index[enc.LIVE_BIRTH]
    vaginal_px, vaginal_drg, vaginal_los, vaginal_charge = enc.DELIVERY["vaginal"]
    cs_px, cs_drg, cs_los, cs_charge = enc.DELIVERY["cesarean"]
    C.px[rows] = -1
    C.px[rows, 0] = np.where(cesarean, T.index[cs_px], T.index[vaginal_px])
    drg_column = np.where(complicated, 0, 1)
    C.drg[rows] = np.where(cesarean, np.array(cs_drg)[drg_column], np.array(vaginal_drg)[drg_column])
    C.los[rows] = np.maximum(1, np.where(cesarean, cs_los, vaginal_los) - 1 + rng.poisson(1.0, len(rows)))
    C.base_charge[rows] = np.where(cesarean, cs_charge, vaginal_charge) * np.where(complicated, 1.3, 1.0)
    C.claim_type[rows], C.specialty[rows] = INPATIENT, OBSTETRICS


def _births(rng, T: Tables, P: Patients, S: Schedule, rows: np.ndarray, C: Claims) -> None:
    n = len(rows)
    male = ~P.female[S.pid[rows]]
    C.principal[rows] = np.where(rng.random(n) < .32, T.index[enc.NEWBORN["cesarean"]], T.index[enc.NEWBORN["vaginal"]])
    jaundice_code, jaundice_share = enc.NEWBORN_JAUNDICE
    jaundice = rng.random(n) < jaundice_share
    C.extra_dx[rows, 0] = np.where(jaundice, T.index[jaundice_code], -1)
    C.drg[rows] = np.where(jaundice, enc.NEWBORN_DRG[0], enc.NEWBORN_DRG[1])
    (vaccine, vaccine_share), (circumcision, circumcision_share) = enc.NEWBORN_PCS[0], enc.CIRCUMCISION
    C.px[rows] = -1
    C.px[rows, 0] = np.where(rng.random(n) < vaccine_share, T.index[vaccine], -1)
    C.px[rows, 1] = np.where(male & (rng.random(n) < circumcision_share), T.index[circumcision], -1)
    C.los[rows] = 1 + rng.poisson(enc.NEWBORN_LOS - 1, n)
    C.base_charge[rows] = enc.NEWBORN_CHARGE * np.where(jaundice, 1.4, 1.0) * (C.los[rows] / enc.NEWBORN_LOS) ** .5
    C.claim_type[rows], C.specialty[rows] = INPATIENT, SPECIALTIES.index("neonatology")

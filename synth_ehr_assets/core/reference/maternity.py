"""Prenatal visits, delivery stays, postpartum visits (females 15-49) and birth stays (infants born in the window).

The obstetrician bills the global obstetric package (CPT 59400 vaginal / 59510 cesarean: antepartum care,
delivery, postpartum care) once, dated the delivery (AMA/ACOG global obstetric package coding guidance); the
prenatal and postpartum visits inside it carry $0 Category II tracking codes (0500F first prenatal visit, 0502F
later ones, 0503F postpartum) instead of E/M codes, beside separately billed ultrasounds and labs.
"""

from __future__ import annotations

import numpy as np

from synth_ehr_assets.core.reference import encounters as enc
from synth_ehr_assets.core.reference.claims import (
    BIRTH, DELIVERY, GLOBAL_OB, INPATIENT, POSTPARTUM, PRENATAL, PROFESSIONAL, Claims, Schedule,
)
from synth_ehr_assets.core.reference.population import GESTATION_DAYS, Patients
from synth_ehr_assets.core.reference.tables import SPECIALTIES, Tables

OBSTETRICS = SPECIALTIES.index("obstetrics_gynecology")
NO_EVALUATION = enc.EVALUATIONS.index("none")
CHILDBIRTH_STAGE = 3
DELIVERY_WEEKS, DELIVERY_WEEK_SHARES = np.arange(37, 42), np.array([.1, .25, .4, .2, .05])


def _codes(T: Tables, names) -> np.ndarray:
    return np.array([T.index[name] for name in names], np.int32)


def maternity_claims(rng: np.random.Generator, T: Tables, P: Patients, S: Schedule, C: Claims) -> None:
    _prenatal(rng, T, P, S, np.flatnonzero(S.kind == PRENATAL), C)
    _delivery(rng, T, P, S, np.flatnonzero(S.kind == DELIVERY), C)
    _global(T, P, S, np.flatnonzero(S.kind == GLOBAL_OB), C)
    rows = np.flatnonzero(S.kind == POSTPARTUM)
    C.principal[rows], C.claim_type[rows] = T.index[enc.POSTPARTUM], PROFESSIONAL
    C.evaluation[rows], C.specialty[rows] = NO_EVALUATION, OBSTETRICS
    C.px[rows, 0] = T.index["0503F"]
    _births(rng, T, P, S, np.flatnonzero(S.kind == BIRTH), C)


def _global(T: Tables, P: Patients, S: Schedule, rows: np.ndarray, C: Claims) -> None:
    """The global obstetric claim repeats its delivery's diagnoses (each patient has at most one delivery)."""
    deliveries = np.flatnonzero(S.kind == DELIVERY)
    source = deliveries[np.searchsorted(S.pid[deliveries], S.pid[rows])]
    C.principal[rows], C.extra_dx[rows], C.stage[rows] = C.principal[source], C.extra_dx[source], CHILDBIRTH_STAGE
    C.px[rows] = -1
    C.px[rows, 0] = np.where(P.cesarean[S.pid[rows]], T.index["59510"], T.index["59400"])
    C.claim_type[rows], C.evaluation[rows], C.specialty[rows] = PROFESSIONAL, NO_EVALUATION, OBSTETRICS


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
    C.claim_type[rows], C.evaluation[rows], C.specialty[rows] = PROFESSIONAL, NO_EVALUATION, OBSTETRICS
    C.stage[rows] = trimester
    px = np.array([T.index[code] for code, _ in enc.PRENATAL_PX], np.int32)
    # first-trimester ultrasound (76801) only before week 14, the later one (76805) only from week 14
    prob = np.array([p for _, p in enc.PRENATAL_PX]) * np.stack(
        [trimester == 0, trimester > 0, np.ones(len(rows), bool), np.ones(len(rows), bool)], axis=1)
    C.px[rows, : len(px)] = np.where(rng.random((len(rows), len(px))) < prob, px, -1)
    first = np.r_[True, pid[1:] != pid[:-1]]  # rows are in date order within a patient
    C.px[rows, len(px)] = np.where(first, T.index["0500F"], T.index["0502F"])


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
    C.stage[rows] = CHILDBIRTH_STAGE


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

"""Procedure codes as a payer expects them for the claim's setting, payer and date.

- Hospital outpatient (facility) claims bill the technical component of tests whose professional-global code is
  billed in an office: ECG 93000 → 93005 (tracing only), stress test 93015 → 93017 (CPT / CMS NCCI manual,
  chapter XI; the interpretation is the physician's own claim).
- Influenza vaccination: Medicare pays the administration as HCPCS G0008, other payers as 90471 (CMS Medicare
  Claims Processing Manual, chapter 18, 10.2). The product follows the season: the 2023-24 vaccines were
  quadrivalent (90686), every US vaccine from the 2024-25 season on is trivalent (FDA VRBPAC March 2024; CPT
  90656); patients 65 and over get the high-dose vaccine (90662, ACIP preferential recommendation 2022).
- Medicare pays an annual depression screening in primary care as G0444 ($0 cost sharing), not 96127.
- Elective stays (joint replacement, chemotherapy) are scheduled on weekdays (`calendar.py`).
"""

from __future__ import annotations

import numpy as np

from synth_ehr_assets.core.reference.claims import Claims, Schedule
from synth_ehr_assets.core.reference.population import Patients
from synth_ehr_assets.core.reference.tables import Tables

FACILITY_COMPONENT = {"93000": "93005", "93015": "93017"}
TRIVALENT_FROM_DAY = 182  # 2024-07-01: the first 2024-25 season doses ship in July-August
HIGH_DOSE_AGE = 65
ELECTIVE_DRGS = ("469", "470", "846", "847", "848")


def billing_rules(T: Tables, P: Patients, S: Schedule, C: Claims, px: np.ndarray) -> np.ndarray:
    """Rewrite the (n, slots) procedure table in place of the design's generic codes; returns it."""
    facility = (C.claim_type == 1)[:, None]
    for office, hospital in FACILITY_COMPONENT.items():
        px[facility & (px == T.index[office])] = T.index[hospital]
    product = np.where(S.age >= HIGH_DOSE_AGE, T.index["90662"],
                       np.where(S.day >= TRIVALENT_FROM_DAY, T.index["90656"], T.index["90686"]))
    px[:] = np.where(px == T.index["90686"], product[:, None], px)
    medicare = (P.payer[S.pid] == 0)[:, None]
    px[medicare & (px == T.index["90471"])] = T.index["G0008"]
    screening = medicare & (C.principal == T.index["Z1331"])[:, None]
    px[screening & (px == T.index["96127"])] = T.index["G0444"]
    return px

"""Charges, allowed and paid amounts: heavy-tailed by procedure, setting, region and payer.

charge  = base (procedure lines or MS-DRG) x region factor x payer factor x lognormal noise x occasional
          Pareto outlier (3% of claims: complications, long stays, expensive drugs);
allowed = charge x payer- and setting-specific allowed ratio x lognormal noise (never above the charge);
paid    = what the payer pays: Medicare 80% of allowed (Part A deductible on stays), Medicaid ~97%, commercial
          after coinsurance (Beta-distributed, mean ~20%); for self-pay, what the patient pays (collection rate).
"""

from __future__ import annotations

import numpy as np

from synth_ehr_assets.core import schema

# cost-of-care index by census division (schema.REGIONS order): northeast and pacific above, south below average
REGION_FACTOR = np.array([1.15, 1.20, .95, .90, 1.0, .85, .95, 1.0, 1.25])
PAYER_CHARGE_FACTOR = np.array([1.0, .95, 1.05, 1.0])  # schema.PAYERS order
# allowed / charge by payer (rows, schema.PAYERS order) and claim type (professional, outpatient, inpatient)
ALLOWED_RATIO = np.array([[.45, .30, .25], [.35, .22, .20], [.65, .45, .40], [.55, .40, .35]])
CHARGE_SIGMA = np.array([.35, .45, .50])  # lognormal spread by claim type
OUTLIER_SHARE, OUTLIER_ALPHA = .03, 1.6
MEDICARE_PART_A_DEDUCTIBLE = 1632.0  # 2024
MIN_CHARGE = 15.0


def claim_amounts(
    rng: np.random.Generator, base: np.ndarray, claim_type: np.ndarray, region: np.ndarray, payer: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(charge, allowed, paid) in dollars, rounded to cents, with 0 <= paid <= allowed <= charge."""
    n = len(base)
    noise = rng.lognormal(0.0, CHARGE_SIGMA[claim_type])
    outlier = np.where(rng.random(n) < OUTLIER_SHARE, 1.0 + rng.pareto(OUTLIER_ALPHA, n), 1.0)
    charge = base * REGION_FACTOR[region] * PAYER_CHARGE_FACTOR[payer] * noise * outlier
    charge = np.round(np.maximum(charge, MIN_CHARGE), 2)
    ratio = np.minimum(ALLOWED_RATIO[payer, claim_type] * rng.lognormal(0.0, .12, n), 1.0)
    allowed = np.minimum(np.round(charge * ratio, 2), charge)
    paid = _paid(rng, allowed, claim_type, payer)
    return charge, allowed, np.clip(np.round(paid, 2), 0.0, allowed)


def _paid(rng: np.random.Generator, allowed: np.ndarray, claim_type: np.ndarray, payer: np.ndarray) -> np.ndarray:
    n = len(allowed)
    medicare, medicaid, commercial, self_pay = (payer == schema.PAYERS.index(p) for p in schema.PAYERS)
    inpatient = claim_type == schema.CLAIM_TYPES.index("inpatient")
    medicare_paid = np.where(inpatient, allowed - np.minimum(allowed, MEDICARE_PART_A_DEDUCTIBLE), .8 * allowed)
    paid = np.select(
        [medicare, medicaid, commercial, self_pay],
        [
            medicare_paid,
            allowed * rng.uniform(.95, 1.0, n),
            allowed * (1 - rng.beta(2.0, 8.0, n)),
            allowed * rng.beta(2.0, 3.0, n),
        ],
    )
    return paid

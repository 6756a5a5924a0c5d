"""Charges, allowed and paid amounts: chargemaster charges, fee-schedule-anchored allowed amounts, benefit design.

charge  = sum of the lines' chargemaster prices (stays: the MS-DRG's median charge) x region cost index x
          lognormal noise x an occasional Pareto outlier (3% of claims: complications, long stays, drugs); the
          same for every payer, as a hospital's chargemaster is, and never below the highest commercial contract
          price for the codes times the provider's own markup over it (charges run 2-5x Medicare, and
          charge-to-cost ratios differ several-fold between hospitals: MedPAC, AHA and CMS cost-report data);
allowed = the lesser of the charge and the payer's price: Medicare's fee schedules (`fees.py`: PFS on office
          claims, OPPS on hospital outpatient claims with labs and ECG tracings packaged into an emergency
          visit, IPPS MS-DRG payment on stays) times the payer multiple; self-pay: the uninsured discount;
paid    = allowed minus the patient's cost sharing (`benefits.py`); self-pay: 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from synth_ehr_assets.core.reference import encounters as enc
from synth_ehr_assets.core.reference.benefits import Lines, Sharing, cost_sharing
from synth_ehr_assets.core.reference.claims import PRENATAL, Claims, Schedule
from synth_ehr_assets.core.reference.fees import (
    COMMERCIAL_MULTIPLE, COMMERCIAL_RANGE, DRG_WEIGHTS, GEOGRAPHIC_FACTOR, IPPS_BASE_RATE, MEDICARE_FEES,
    SELF_PAY_DISCOUNT, payer_multiple,
)
from synth_ehr_assets.core.reference.population import Patients
from synth_ehr_assets.core.reference.tables import SPECIALTIES, Tables

# cost-of-care index by census division (schema.REGIONS order): northeast and pacific above, south below average
REGION_FACTOR = np.array([1.15, 1.20, .95, .90, 1.0, .85, .95, 1.0, 1.25])
CHARGE_SIGMA = np.array([.35, .45, .50])  # lognormal spread by claim type
OUTLIER_SHARE, OUTLIER_ALPHA = .03, 1.6
# a claim's charge stays within this multiple of what Medicare pays for it (professional, outpatient, inpatient):
# physician fee schedules run about 1.5-5x Medicare, hospital charges about 3-5x Medicare on average and above 10x
# at the most extreme chargemasters (MedPAC; Bai & Anderson, Health Affairs 2015); the facility ceiling leaves room
# for lab- and imaging-heavy claims, which chargemasters mark up furthest. Without a ceiling the lognormal noise
# times a Pareto outlier put a 99214 at 22x its allowed amount and an outpatient claim at 960x Medicare.
MAX_CHARGE_MULTIPLE = np.array([6.0, 25.0, 25.0])
MIN_CHARGE = 15.0
TRACKING_CHARGE = .01  # a claim of CPT Category II tracking codes only (0500F-0503F): the nominal charge practices
# put on such lines where a $0 line is rejected; nothing is allowed or paid on it (AMA CPT Category II guidelines)
CHARGE_FLOOR_MARGIN = 1.05
# the markup of a provider's chargemaster over its best contract, per claim: 1.05 + lognormal (median +20%, most
# claims between +8% and +60%), so charges spread above the contracts instead of piling up on one floor
CHARGE_MARKUP_MEDIAN, CHARGE_MARKUP_SIGMA = .20, .6
PRIMARY_CARE = ("family_medicine", "internal_medicine", "pediatrics", "emergency_medicine", "hospitalist")
# $0 cost sharing: always, and only with the screening principal diagnosis that makes the line preventive
PREVENTIVE_CODES = tuple(f"993{b}{d}" for b in (8, 9) for d in range(1, 8)) + (
    "G0402", "G0438", "G0439", "G0444", "90460", "90471", "G0008", "90686", "90656", "90662", "90700", "90707", "90744", "90715", "90734", "90651", "77067")
PREVENTIVE_WITH = {"45378": ("Z1211",), "45380": ("Z1211",), "88175": ("Z124", "Z01419"), "80061": ("Z0000", "Z13220"),
                   "36415": ("Z0000", "Z13220", "Z131"), "83036": ("Z131",), "96127": ("Z1331", "Z00129")}
PACKAGED_ON_ED = ("93005",)  # besides every lab


@lru_cache(maxsize=4)
def line_tables(vocab: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Per vocabulary index (+1 row for an empty slot): Medicare fee (office, facility), lab, visit, preventive."""
    v = len(vocab) + 1
    fee = np.zeros((v, 2))
    for i, code in enumerate(vocab):
        if code in MEDICARE_FEES:
            office, facility = MEDICARE_FEES[code]
            fee[i] = (office, office if facility is None else facility)
    lab = np.array([c == "36415" or (c.isdigit() and len(c) == 5 and "80000" <= c < "90000") for c in vocab] + [False])
    visit = np.array([c[:4] in ("9920", "9921", "9928") for c in vocab] + [False])
    always = np.isin(np.array(list(vocab) + [""]), PREVENTIVE_CODES)
    tracking = np.array([len(c) == 5 and c[:4].isdigit() and c[4] == "F" for c in vocab] + [False])
    return {"tracking": tracking, "fee": fee, "lab": lab, "visit": visit, "always": always, "packaged": lab | np.isin(list(vocab) + [""], PACKAGED_ON_ED)}


def _below_ceiling(charge: np.ndarray, ceiling: np.ndarray) -> np.ndarray:
    """Charges above 70% of the ceiling bend smoothly toward it (no pile-up at one multiple); unpriced claims keep theirs."""
    knee = ceiling * .7
    over = np.divide(charge - knee, ceiling - knee, out=np.zeros_like(charge), where=ceiling > 0)
    bent = knee + (ceiling - knee) * -np.expm1(-np.maximum(over, 0.0))
    return np.where((ceiling > 0) & (charge > knee), bent, charge)


def _preventive(T: Tables, px: np.ndarray, principal: np.ndarray) -> np.ndarray:
    out = line_tables(T.vocab)["always"][px]
    for code, principals in PREVENTIVE_WITH.items():
        out |= (px == T.index[code]) & np.isin(principal, [T.index[p] for p in principals])[:, None]
    return out


@dataclass
class Amounts:
    charge: np.ndarray
    allowed: np.ndarray
    paid: np.ndarray
    sharing: Sharing
    line_allowed: np.ndarray  # (n, slots); stays: 0 (paid per MS-DRG)


def claim_amounts(rng: np.random.Generator, T: Tables, P: Patients, S: Schedule, C: Claims, px: np.ndarray,
                  principal: np.ndarray, year: np.ndarray) -> Amounts:
    """Amounts in dollars, rounded to cents, with 0 <= paid <= allowed <= charge; `px` is the (n, slots) table."""
    n, tabs = len(S.pid), line_tables(T.vocab)
    payer, region, claim_type = P.payer[S.pid], P.region[S.pid], C.claim_type.astype(np.int64)
    inpatient = claim_type == 2
    slot = np.where(px >= 0, px, len(T.vocab))
    line_charge = np.where(px >= 0, T.charge[np.maximum(px, 0)], 0.0) * ~inpatient[:, None]
    base = np.where(inpatient, C.base_charge, line_charge.sum(axis=1))
    noise = rng.lognormal(0.0, CHARGE_SIGMA[claim_type])
    outlier = np.where(rng.random(n) < OUTLIER_SHARE, 1.0 + rng.pareto(OUTLIER_ALPHA, n), 1.0)
    # Medicare price per line (PFS on professional claims, OPPS on outpatient ones), then the payer's multiple
    geo = GEOGRAPHIC_FACTOR[region]
    medicare_line = tabs["fee"][slot, np.minimum(claim_type, 1)[:, None]] * geo[:, None]
    drg_weight = np.array([DRG_WEIGHTS.get(code, 0.0) for code in C.drg]) if inpatient.any() else np.zeros(n)
    medicare_total = np.where(inpatient, drg_weight * IPPS_BASE_RATE * geo, medicare_line.sum(axis=1))
    # a chargemaster price sits above every contract: at least the highest commercial multiple of Medicare
    markup = CHARGE_FLOOR_MARGIN + rng.lognormal(np.log(CHARGE_MARKUP_MEDIAN), CHARGE_MARKUP_SIGMA, n)
    floor = medicare_total * COMMERCIAL_MULTIPLE[claim_type] * COMMERCIAL_RANGE[1] * markup
    ed = C.evaluation == enc.EVALUATIONS.index("ed")
    packaged = tabs["packaged"][slot] & (ed & (payer == 0))[:, None]
    paid_lines = np.where(inpatient, medicare_total, np.where(packaged, 0.0, medicare_line).sum(axis=1))
    ceiling = paid_lines * MAX_CHARGE_MULTIPLE[claim_type]
    floor = np.where(ceiling > 0, np.minimum(floor, ceiling), floor)  # still above every contract (<= 2.1-4.1x)
    charge = np.round(np.maximum(_below_ceiling(base * REGION_FACTOR[region] * noise * outlier, ceiling),
                                 np.maximum(floor, MIN_CHARGE)), 2)
    tracking_only = (tabs["tracking"][slot] | (px < 0)).all(axis=1) & (px >= 0).any(axis=1)
    charge = np.where(tracking_only, TRACKING_CHARGE, charge)
    multiple = payer_multiple(rng, payer, claim_type, region)
    line_allowed = np.round(np.where(packaged, 0.0, medicare_line) * multiple[:, None], 2) * ~inpatient[:, None]
    stay = np.round(drg_weight * IPPS_BASE_RATE * geo * multiple, 2)
    self_pay = payer == 3
    discounted = np.round(charge * (1 - rng.uniform(*SELF_PAY_DISCOUNT, n)), 2)
    priced = np.where(inpatient, stay, line_allowed.sum(axis=1))
    allowed = np.round(np.where(self_pay & ~tracking_only, discounted, np.minimum(priced, charge)), 2)
    # lines scale with the claim when the charge (lesser-of) or the self-pay discount sets the allowed amount
    scale = np.divide(allowed, priced, out=np.zeros(n), where=priced > 0)
    lines_total = np.where(self_pay[:, None], np.divide(discounted, base, out=np.zeros(n), where=base > 0)[:, None] * line_charge,
                           line_allowed * np.minimum(scale, 1.0)[:, None])
    lines = Lines(
        allowed=np.where(inpatient[:, None], 0.0, lines_total), preventive=_preventive(T, px, principal) & ~self_pay[:, None],
        lab=tabs["lab"][slot], visit=tabs["visit"][slot], screening_biopsy=(px == T.index["45380"])
        & (principal == T.index["Z1211"])[:, None],
    )
    lines.preventive &= ~(lines.screening_biopsy & (payer == 0)[:, None])
    specialist = ~np.isin(C.specialty, [SPECIALTIES.index(s) for s in PRIMARY_CARE])
    exempt = (S.age < 18) | (C.stage >= 0) | (S.kind == PRENATAL) | ed
    sharing = cost_sharing(S.pid, S.day, year, C.los, payer, P.plan[S.pid], claim_type, specialist, exempt, lines,
                           np.where(inpatient, allowed, 0.0))
    sharing.uninsured = np.where(self_pay, allowed, 0.0)
    patient = np.minimum(np.round(sharing.patient, 2), allowed)
    return Amounts(charge, allowed, np.round(np.maximum(allowed - patient, 0.0), 2), sharing, np.round(lines.allowed, 2))

"""Medicare fee-schedule anchors for every procedure the reference population emits, and payer multiples.

Medicare amounts are rounded national figures for calendar year 2024 (fiscal year 2024 for inpatient stays):

- PFS: CMS Physician Fee Schedule national payment amounts, non-facility setting (conversion factor
  $33.29), used for office (professional) claims. The 9938x/9939x preventive codes are not paid by Medicare
  (it pays the G0402 welcome visit and the G0438/G0439 wellness visits instead); their PFS amounts still come from the published RVUs and anchor other payers.
- CLFS: CMS Clinical Laboratory Fee Schedule national limits (labs; Medicare charges no deductible or
  coinsurance on them, see `benefits.py`).
- OPPS: CMS Hospital Outpatient Prospective Payment System, Addendum B national unadjusted rates by APC, used
  for the hospital side of outpatient claims (emergency visit levels APC 5021-5025, imaging, endoscopy, tests).
  Labs and ECG tracings on an emergency visit claim are packaged (status Q4/Q1): allowed $0 on their line.
- Part B drug and vaccine payment limits (ASP files) for vaccine products; G0008 from the PFS.
- IPPS: MS-DRG relative weights of FY2024 Table 5 (two decimals) times a national base rate of ~$6,900
  (operating standardized amount ~$6,400 plus capital ~$500).

The figures are rounded to whole dollars and lie within roughly 10% of the published amounts; refresh them from
the CMS files before reading a single code's value as exact. Geographic adjustment (GPCI / wage index) is a
factor per census division, between the extremes of the published geographic adjustment factors.

Other payers, as multiples of the Medicare amount for the same code and division:
- commercial: professional ~1.43x (physician prices paid by private insurers, MedPAC March 2024 report and Urban
  Institute 2022: 1.3-1.5x Medicare), hospital outpatient ~2.7x and inpatient ~2.1x (RAND hospital price
  transparency study, round 5, 2024: private prices 2.5x Medicare overall), each with a lognormal contract spread;
- Medicaid: a fixed state-level fraction per division, below 1 (KFF Medicaid-to-Medicare fee index 2019:
  0.72 all services, 0.67 primary care; MACPAC hospital payment index: ~0.85 of Medicare);
- self-pay: the hospital's uninsured discount off gross charges (40-65% discounts in published financial
  assistance policies); nobody but the patient pays.
"""

from __future__ import annotations

import numpy as np

# code: (PFS non-facility or CLFS amount, OPPS hospital outpatient amount or None when never on a facility claim)
MEDICARE_FEES: dict[str, tuple[float, float | None]] = {
    "99202": (73, None), "99203": (112, None), "99204": (168, None), "99205": (221, None),
    "99212": (57, None), "99213": (91, None), "99214": (128, None), "99215": (181, None),
    # hospital emergency visit levels: OPPS APC 5021-5025 (the physician's own claim is not modelled)
    "99281": (15, 82), "99282": (40, 152), "99283": (67, 272), "99284": (116, 452), "99285": (171, 648),
    "99381": (114, None), "99382": (120, None), "99383": (125, None), "99384": (137, None), "99385": (128, None),
    "99386": (151, None), "99387": (164, None), "99391": (102, None), "99392": (110, None), "99393": (109, None),
    "99394": (120, None), "99395": (113, None), "99396": (121, None), "99397": (132, None),
    "G0402": (170, None), "G0438": (170, None), "G0439": (128, None), "G0444": (18, None),
    # CLFS
    "36415": (3, 3), "80048": (8, 8), "80053": (11, 11), "80061": (13, 13), "80069": (11, 11), "80076": (8, 8),
    "81003": (2, 2), "81025": (9, 9), "82043": (6, 6), "82378": (18, 18), "82550": (7, 7), "83036": (10, 10),
    "83540": (6, 6), "83880": (34, 34), "84153": (18, 18), "84443": (17, 17), "84484": (9, 9), "84550": (5, 5),
    "85025": (8, 8), "85240": (25, 25), "85610": (4, 4), "85652": (3, 3), "86038": (12, 12), "86361": (42, 42),
    "86431": (6, 6), "87070": (9, 9), "87086": (9, 9), "87522": (42, 42), "87536": (69, 69), "87635": (51, 51),
    "87804": (16, 16), "87807": (16, 16), "87880": (16, 16), "88175": (25, 25),
    # imaging, tests and procedures: PFS global (office) / OPPS APC (hospital outpatient)
    "71046": (32, 95), "71250": (125, 190), "70450": (112, 190), "70551": (227, 270), "70553": (355, 500),
    "72100": (38, 95), "72148": (220, 270), "73110": (35, 95), "73562": (38, 95), "73610": (34, 95),
    "74177": (330, 390), "76770": (110, 120), "76801": (120, 215), "76805": (135, 215), "77067": (135, 135),
    "77080": (40, 120), "93000": (16, None), "93005": (8, 30), "93015": (75, None), "93017": (45, 260),
    "93306": (200, 540), "93880": (190, 250), "93923": (110, 150), "94010": (30, 60), "95810": (630, 900),
    "95816": (300, 470), "95886": (100, 270), "92083": (60, 150), "51798": (18, 50), "45378": (370, 1220),
    "45380": (420, 1220), "43239": (340, 950), "20610": (65, 270), "12002": (115, 250), "25600": (200, 320),
    "96413": (135, 310), "96402": (25, 65), "96116": (95, None), "96127": (5, None), "97153": (15, None),
    "90833": (75, None), "99406": (15, None),
    # vaccines: administration (PFS) and product (Part B payment limit / CDC private-sector price list)
    "90460": (24, None), "90471": (24, None), "G0008": (33, None), "90686": (20, None), "90656": (19, None),
    "90662": (72, None), "90700": (27, None), "90707": (80, None), "90744": (25, None),
    "90715": (40, None), "90734": (150, None), "90651": (290, None),
    # global obstetric package (PFS) and its $0 Category II tracking codes
    "59400": (2150, None), "59510": (2400, None), "0500F": (0, None), "0502F": (0, None), "0503F": (0, None),
}
# MS-DRG relative weights (FY2024 Table 5, rounded)
DRG_WEIGHTS: dict[str, float] = {
    "871": 1.87, "872": 1.03, "193": 1.30, "194": .89, "195": .66, "291": 1.34, "292": .92, "293": .66,
    "190": 1.15, "191": .92, "192": .73, "280": 1.69, "281": 1.03, "282": .78, "064": 1.83, "065": 1.04,
    "066": .77, "308": 1.16, "309": .77, "310": .56, "377": 1.75, "378": 1.00, "379": .68, "689": 1.10,
    "690": .78, "602": 1.42, "603": .86, "637": 1.37, "638": .85, "639": .61, "682": 1.48, "683": .93,
    "684": .64, "480": 3.05, "481": 2.07, "482": 1.68, "469": 3.24, "470": 1.90, "341": 2.10, "342": 1.36,
    "343": 1.03, "417": 2.50, "418": 1.74, "419": 1.38, "885": 1.33, "896": 1.58, "897": .82, "640": 1.20,
    "641": .76, "202": .89, "203": .66, "846": 2.33, "847": 1.07, "848": .93, "312": .80, "811": 1.17,
    "812": .79, "205": 1.36, "206": .86, "806": .70, "807": .58, "787": 1.05, "788": .90, "794": 1.30, "795": .18,
}
IPPS_BASE_RATE = 6900.0
# geographic adjustment per census division (schema.REGIONS order)
GEOGRAPHIC_FACTOR = np.array([1.06, 1.08, .98, .95, .98, .93, .96, .98, 1.10])
# payer multiples of Medicare (schema.PAYERS order) by claim type (professional, outpatient, inpatient);
# self-pay has no fee schedule (its allowed amount is the discounted charge)
COMMERCIAL_MULTIPLE = np.array([1.43, 2.7, 2.1])
COMMERCIAL_SPREAD = np.array([.15, .22, .20])  # lognormal sigma of the negotiated contract
COMMERCIAL_RANGE = (.7, 1.5)  # contract floor / ceiling as fractions of the mean multiple (professional: 1.0-2.1x)
MEDICAID_FACTOR = np.array([[.66, .70, .68, .80, .64, .70, .72, .84, .62],   # professional, by division
                            [.80, .86, .84, .90, .80, .84, .86, .92, .82]])  # hospital (outpatient, inpatient)
SELF_PAY_DISCOUNT = (.40, .65)


def payer_multiple(rng: np.random.Generator, payer: np.ndarray, claim_type: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Allowed / Medicare amount per claim: 1 for Medicare, contract spread for commercial, state fraction for Medicaid."""
    n = len(payer)
    spread = np.exp(np.clip(rng.normal(0, 1, n), -2.5, 2.5) * COMMERCIAL_SPREAD[claim_type])
    commercial = COMMERCIAL_MULTIPLE[claim_type] * np.clip(spread, *COMMERCIAL_RANGE)
    medicaid = MEDICAID_FACTOR[np.minimum(claim_type, 1), region]
    return np.select([payer == 0, payer == 1, payer == 2], [1.0, medicaid, commercial], 0.0)

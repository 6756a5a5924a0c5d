"""Childhood and adolescent vaccines at well-child visits, by the CDC schedule, each with its administration.

Products follow the CDC child and adolescent immunization schedule (2024): DTaP (90700) at 2, 4, 6 and 15-18
months and 4-6 years; hepatitis B (90744) from birth to 18 months; MMR (90707) at 12-15 months and 4-6 years;
Tdap (90715), MenACWY (90734) and HPV (90651) at 11-12 years, the HPV series completed and MenACWY boosted at 16.
No routine dose falls at 2-3 or 7-10 years (influenza has its own Z23 visit). The administration code 90460
(under 19, with counselling) is billed only with a product: a vaccine administered is a vaccine billed (CPT
immunization guidelines), so a well-child claim without a product carries no administration line.
"""

from __future__ import annotations

import numpy as np

from synth_ehr_assets.core.reference import encounters as enc
from synth_ehr_assets.core.reference.claims import Claims, Schedule
from synth_ehr_assets.core.reference.tables import Tables

ADMINISTRATION = "90460"
# age band (years, inclusive) → products due, with the share of visits in the band that give each
SCHEDULE: tuple[tuple[int, int, tuple[tuple[str, float], ...]], ...] = (
    (0, 0, (("90700", .8), ("90744", .6))),
    (1, 1, (("90707", .75), ("90700", .5), ("90744", .2))),
    (4, 6, (("90700", .6), ("90707", .6))),
    (11, 12, (("90715", .75), ("90734", .7), ("90651", .6))),
    (13, 15, (("90651", .4),)),
    (16, 16, (("90734", .6),)),
)
PRODUCTS = tuple(sorted({code for _, _, due in SCHEDULE for code, _ in due}))
# the ages each product's code is defined or licensed for (CPT descriptors, FDA labels): outside them it is wrong
LICENSED_AGES = {"90700": (0, 6), "90715": (7, 124), "90707": (1, 124), "90744": (0, 19), "90651": (9, 45),
                 "90734": (0, 55)}


def childhood_vaccines(rng: np.random.Generator, T: Tables, S: Schedule, C: Claims) -> None:
    """Rewrites the vaccine lines of well-child claims in place: the products due at the patient's age, then 90460."""
    rows = np.flatnonzero((C.principal == T.index["Z00129"]) & (C.evaluation == enc.EVALUATIONS.index("preventive")))
    if not len(rows):
        return
    vaccine = np.isin(C.px[rows], [T.index[c] for c in (*PRODUCTS, ADMINISTRATION)])
    kept = np.where(vaccine, -1, C.px[rows])  # other lines (developmental screening 96127) stay
    age = S.age[rows]
    given = np.full((len(rows), len(PRODUCTS)), False)
    draws = rng.random(given.shape)
    for low, high, due in SCHEDULE:
        band = (age >= low) & (age <= high)
        for code, share in due:
            j = PRODUCTS.index(code)
            given[:, j] |= band & (draws[:, j] < share)
    lines = np.where(given, np.array([T.index[c] for c in PRODUCTS]), -1)
    admin = np.where(given.any(axis=1), T.index[ADMINISTRATION], -1)
    packed = np.concatenate([kept, admin[:, None], lines], axis=1)
    order = np.argsort(packed < 0, axis=1, kind="stable")  # filled slots first, in their order
    packed = np.take_along_axis(packed, order, axis=1)
    if (packed[:, C.px.shape[1]:] >= 0).any():
        raise ValueError("reference design: a well-child visit has more vaccine lines than procedure slots")
    C.px[rows] = packed[:, : C.px.shape[1]]

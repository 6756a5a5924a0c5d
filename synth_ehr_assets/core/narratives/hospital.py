"""Inpatient notes: an admission history and physical followed by a discharge summary whose hospital course
matches the claim's length of stay, ICD-10-PCS procedures and MS-DRG severity (with MCC / with CC / without)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

from synth_ehr_assets.core.narratives import phrasing as ph
from synth_ehr_assets.core.narratives.clinical import profile
from synth_ehr_assets.core.narratives.orders import PCS
from synth_ehr_assets.core.narratives.symptoms import claim_px


@lru_cache(maxsize=1)
def drg_severity() -> dict[str, str]:
    """MS-DRG → 'mcc', 'cc' or 'none' for the DRG families the reference design bills."""
    from synth_ehr_assets.core.reference import encounters as enc

    found: dict[str, str] = {}
    for adm in enc.ADMISSIONS:
        for drg, level in zip(adm.drg, ("mcc", "cc", "none")):
            found.setdefault(drg, level)
    for _, drgs, _, _ in enc.DELIVERY.values():
        found.setdefault(drgs[0], "cc"), found.setdefault(drgs[1], "none")
    found.setdefault(enc.NEWBORN_DRG[0], "cc"), found.setdefault(enc.NEWBORN_DRG[1], "none")
    return found


# Groups whose conditions can complicate a stay even when chronic (a decompensation needs treatment); stable
# chronic problems such as hyperlipidemia or osteoarthritis are carried along, never "complications".
DECOMPENSATING = frozenset({"heart_failure", "heart", "kidney", "chronic_lung", "respiratory", "metabolic",
                            "hematologic", "cerebrovascular"})


def can_complicate(code: str) -> bool:
    from synth_ehr_assets.core.narratives.groups import condition_group

    if code.startswith("M80"):  # a fracture of osteoporotic bone is present on admission, not a complication
        return False
    return profile(code).acuity in ("acute", "emergency") or condition_group(code).key in DECOMPENSATING


def _course(claim: Mapping, dx: Sequence[str], labels: Mapping[str, str], rng) -> str:
    days = max(int(claim.get("los_days") or 1), 1)
    stay = f"{days}-day stay" if days > 1 else "one-day stay"
    done = [PCS[p] for p in claim_px(claim) if p in PCS]
    severity = drg_severity().get(str(claim.get("drg") or ""), "none")
    others = [labels[c] for c in dx[1:] if c[0] not in "VWXYZ"]
    acute = [("" if profile(c).acuity in ("acute", "emergency") else "worsening ") + labels[c]
             for c in dx[1:] if c[0] not in "VWXYZ" and can_complicate(c)]
    parts = [rng.choice(("Over a {s}, the patient improved with the treatment above.",
                         "The patient was treated as planned during a {s} and improved steadily.",
                         "During the {s} the presenting problem responded to treatment."
                         )).format(s=stay)]
    if done:
        parts.append(rng.choice(("Procedures: {}.", "The stay included {}.", "Inpatient procedures: {}.")).format(
            ph.join(done)))
    if severity == "mcc" and acute:
        parts.append(f"The course was complicated by {acute[0]}, which required additional treatment and monitoring.")
    elif severity in ("mcc", "cc") and (acute or others):
        parts.append(f"{ph.cap((acute or others)[0])} needed closer management during the stay.")
    elif severity == "mcc":  # a DRG billed with an MCC the claim's other codes do not name: no "uncomplicated"
        parts.append(rng.choice(("The stay required close monitoring throughout.",
                                 "The severity of the presentation required intensive nursing and monitoring.")))
    else:
        parts.append(rng.choice(("The course was otherwise uncomplicated.", "No complications occurred.",
                                 "There were no complications.")))
    return " ".join(parts)


def inpatient_note(
    claim: Mapping, dx: Sequence[str], labels: Mapping[str, str], subjective: list[str], objective: list[str],
    assessment: list[str], plan: list[str], rng,
) -> str:
    """Admission H&P (Subjective, Objective, Assessment, Plan), then Hospital course and Discharge lines."""
    principal = labels[dx[0]]
    discharge = rng.choice((
        "Discharged home in stable condition on hospital day {d}; follow up with primary care within {f} days.",
        "Discharged on day {d} in good condition; primary care visit within {f} days.",
        "Discharged home on hospital day {d}, tolerating diet and ambulating; follow up in {f} days.",
    )).format(d=max(int(claim.get("los_days") or 1), 1), f=rng.randint(5, 10))
    return "\n".join([
        "Subjective: " + " ".join(subjective),
        "Objective: " + " ".join(objective),
        "Assessment: " + " ".join(assessment),
        "Plan: " + ph.cap("; ".join(plan)) + ".",
        "Hospital course: " + _course(claim, dx, labels, rng),
        f"Discharge: Discharge diagnosis {principal}. " + discharge,
    ])

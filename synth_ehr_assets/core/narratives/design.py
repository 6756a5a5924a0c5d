"""Grounded design engine (seed 002): provider notes composed from the clinical knowledge table (`clinical`,
`orders`), not from code titles. Symptoms imply the vitals, acuity drives exam, plan and follow-up, every claim
diagnosis is addressed, every billed procedure appears with its result. Same release seed + claim id → same note.
"""

from __future__ import annotations

import dataclasses
import random
import re
import time
from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

from synth_ehr_assets.core.narratives import decision as dm, hospital, lexicon, phrasing as ph
from synth_ehr_assets.core.narratives.age_fit import reportable
from synth_ehr_assets.core.narratives.clinical import acuity, band, implied_signs, label, profile
from synth_ehr_assets.core.narratives.journey_context import JourneyContext, journey_contexts, with_history
from synth_ehr_assets.core.narratives.knowledge import ClinicalKnowledge, build_knowledge
from synth_ehr_assets.core.narratives.orders import ED_LEVELS, INFANT_EARLY_DOSE, OFFICE_LEVELS, ORDERS, PCS
from synth_ehr_assets.core.narratives.symptoms import (
    accepted_by_claim,
    accepted_texts,
    claim_dx,
    claim_px,
    claim_seed,
    design_symptoms,
    sign_of,
)
from synth_ehr_assets.core.narratives.vitals import draw_vitals, raised_bp
from synth_ehr_assets.core.progress import Progress
from synth_ehr_assets.core.schema import PX_COLUMNS

ENGINE = "design"


def dotted(code: str) -> str:
    """E119 → E11.9 (display form of an undotted ICD-10-CM code)."""
    return code if len(code) <= 3 else f"{code[:3]}.{code[3:]}"


TREATMENTS = ("20610", "12002", "25600")  # procedures that treat (an injection, a repair, a splint): plan, not results
NOT_DONE = ("ordered", "ordered today", "planned")  # a screening whose test the claim does not bill


def names_unbilled_test(text: str, billed: Sequence[str]) -> bool:
    """`text` names a test (the judge's lexicon) that none of the `billed` codes performs, e.g. the Z12.31
    screening mammogram encounter billed without 77067: the note must not call that test done."""
    return any(re.search(p, text, re.I) and not set(codes) & set(billed) for p, codes in lexicon.TESTS.items())


def age_group(age: int | None) -> str:
    if age is None:
        return "unknown"
    return "infant" if age < 1 else "child" if age < 13 else "adolescent" if age < 18 else "adult" if age < 65 else "older adult"


def setting(claim: Mapping) -> str:
    """office, ed, procedure (hospital outpatient without an ED visit) or inpatient."""
    kind = claim.get("claim_type") or "professional"
    if kind == "inpatient":
        return "inpatient"
    if kind == "outpatient":
        return "ed" if any(p in ED_LEVELS for p in claim_px(claim)) else "procedure"
    return "office"


def _describe(knowledge: ClinicalKnowledge | None, code: str) -> str | None:
    if knowledge is not None and knowledge.has(code):
        return knowledge.description(code)
    from synth_ehr_assets.core.codes import describe

    return describe(code)


def _results(claim: Mapping, dx: list[str], rng: random.Random, place: str) -> tuple[list[str], list[str]]:
    """(result sentences for the Objective, order/procedure items for the Plan) of every billed procedure."""
    results, orders = [], []
    for code in claim_px(claim):
        order = ORDERS.get(code)
        if order is None:
            if code in PCS:
                continue  # inpatient procedures go to the hospital course
            continue  # E/M and unknown codes: the visit itself
        found = order.result(dx, rng)
        if code in INFANT_EARLY_DOSE and claim.get("age") is not None and claim["age"] < 1:
            found = INFANT_EARLY_DOSE[code]
        if order.kind == "lab" and (not found or (place == "office" and rng.random() < 0.35)):
            orders.append(rng.choice(ph.ORDERED).format(order.name))
        elif order.kind in ("vaccine", "counseling", "therapy") or code in TREATMENTS:
            orders.append(found or order.name)
        elif found:
            results.append(found)
        elif order.kind == "procedure":
            orders.append(f"{order.name} performed")
    return results, orders


def _office_level(claim: Mapping) -> str | None:
    return next((OFFICE_LEVELS[p] for p in claim_px(claim) if p in OFFICE_LEVELS), None)


def _worse_problem(claim: Mapping, dx: Sequence[str], place: str) -> str | None:
    """The problem an office note documents as worse so that a moderate E/M level fits (2021 office E/M: two
    problems, or one that is worse), else None. A high level is never argued with wording: it is supported by
    the visit's total time on three or more problems (`_timed`), by what the vitals show, or not at all, and
    then the judge flags the claim's level."""
    visit = _office_level(claim) if place == "office" else None
    problems = [c for c in dx if c[0] not in "VWXYZ"]
    if len(problems) != 1 or visit not in ("moderate", "high"):
        return None
    return problems[0]


def _timed(claim: Mapping, dx: Sequence[str], place: str) -> bool:
    """A high-level office visit on three or more problems, documented by its total time."""
    return place == "office" and _office_level(claim) == "high" and len([c for c in dx if c[0] not in "VWXYZ"]) >= 3


def _plan_items(code: str, age: int | None, place: str, specialty: str | None, rng: random.Random, n: int) -> list[str]:
    inpatient = place == "inpatient"
    items = [text for text, bands in profile(code).plan if band(age) in bands and not ph.self_referral(text, specialty)
             and not ("i" in bands and not inpatient) and not ("o" in bands and inpatient)]
    return rng.sample(items, min(n, len(items)))


def design_note(
    claim: Mapping,
    seed: int,
    knowledge: ClinicalKnowledge | None = None,
    symptoms: Sequence[str] | None = None,
    journey: JourneyContext | None = None,
) -> str:
    """Provider note for one claim row (keys of `CLAIM_SCHEMA`); `symptoms` default to the design engine's accepted
    symptoms of the claim. `seed` is the release seed; the claim's stream derives from it and the claim id.
    `journey` (the patient's earlier claims) adds a History line; a first visit's note is unchanged."""
    note = _compose(claim, seed, knowledge, symptoms)
    if journey is None or journey.earlier == 0:
        return note
    from synth_ehr_assets.core.narratives.orders import ORDERS

    names = {c: o.name for c, o in ORDERS.items()}
    return with_history(note, journey, claim["service_date"], claim_dx(claim)[0],
                        lambda c: label(c, _describe(knowledge, c)), names)


def _compose(claim: Mapping, seed: int, knowledge: ClinicalKnowledge | None,
             symptoms: Sequence[str] | None) -> str:
    dx = claim_dx(claim)
    if not dx:
        raise ValueError(f"claim {claim.get('claim_id')!r} has no diagnosis code in dx_1")
    if knowledge is not None and not all(knowledge.has(c) for c in dx):
        knowledge = build_knowledge(dx)
    if symptoms is None:
        symptoms = accepted_texts(design_symptoms(claim, knowledge, seed))
    rng = random.Random(claim_seed(seed, str(claim["claim_id"]), "note"))
    age, sex, place = claim.get("age"), claim.get("sex"), setting(claim)
    principal = dx[0]
    labels = {c: label(c, _describe(knowledge, c)) for c in dx}
    level = acuity(principal, claim.get("claim_type"))
    procedures = [str(claim[c]) for c in PX_COLUMNS if claim.get(c)]
    signs = {s for s in (sign_of(t) for t in symptoms) if s} | implied_signs(dx, procedures)
    bp = next((profile(c).bp for c in dx if profile(c).bp), None)
    vitals = draw_vitals(age, signs, bp, rng)
    worse = _worse_problem(claim, dx, place)
    raised = raised_bp(age)
    if worse and profile(worse).bp and raised and vitals.sbp < raised[0]:  # a worse BP problem reads raised
        vitals = dataclasses.replace(vitals, sbp=raised[0] + rng.randint(2, 12))
    results, orders = _results(claim, dx, rng, place)
    specialty = claim.get("provider_specialty")

    subjective = [ph.opening(claim, labels[principal], level, place, rng)]
    subjective += ph.complaint(list(symptoms), level, profile(principal).onset, age, sex, rng,
                               worse == principal and profile(principal).acuity not in ("acute", "emergency"))
    injury_cause = [c for c in dx if c[0] in "VWXY"]
    if injury_cause and injury_cause[0].startswith(("Y83", "Y84")):  # a procedure as the cause, not an injury
        subjective.append(f"This followed a {labels[injury_cause[0]]}.")
    elif injury_cause and not injury_cause[0].startswith("Y92"):
        subjective.append(rng.choice(ph.MECHANISM).format(labels[injury_cause[0]]))
    place_of_injury = [c for c in injury_cause if c.startswith("Y92")]
    if place_of_injury:
        subjective.append(f"Place of injury: {labels[place_of_injury[0]]}.")
    problems = ph.specific_problems([c for c in dx if c[0] not in "VWXYZ"], labels.get)
    history = ph.distinct((labels[c] for c in problems if c != principal), said=[labels[principal]])
    if history:
        subjective.append(rng.choice(ph.HISTORY).format(ph.join(history)))
    if age is not None and age < 18:
        subjective.append(rng.choice(ph.HISTORIAN_CHILD if age < 12 else ph.HISTORIAN_TEEN))

    fit = {c: [f for f in profile(c).exam if reportable(f, age)] for c in dx[:3]}
    exam_findings = [f for c in fit for f in rng.sample(fit[c], min(2 if c == principal else 1, len(fit[c])))]
    objective = [f"Vitals: {vitals.text(rng)}.",
                 ph.exam(vitals, age, signs, ph.specific_findings(exam_findings), symptoms, rng, dx)]
    if results:
        objective.append(rng.choice(ph.RESULTS).format(ph.join(results)))

    above_goal = bp is not None and raised is not None and (vitals.sbp >= raised[0] or vitals.dbp >= raised[1])
    red_flags = dm.red_flags(vitals, age)
    impression = rng.choice(ph.ABOVE_GOAL) if above_goal and profile(principal).bp else \
        ph.impression(level, place, rng, red_flags)
    if worse == principal:
        said = dm.worse(profile(principal).acuity, vitals, age, above_goal and bool(profile(principal).bp), rng)
        impression, worse = (impression, None) if said is None else (said, worse)  # no sign, no argument
    if place == "office" and profile(principal).acuity == "emergency":
        impression = rng.choice(("acute, needs emergency care", "acute and potentially serious"))
    if level == "preventive" and names_unbilled_test(labels[principal], claim_px(claim)):
        impression = rng.choice(NOT_DONE)
    off_target = dm.off_target(dx, results) if place != "inpatient" else {}  # LDL or A1c above goal today
    impression = off_target.get(principal, impression)
    assessment = [f"1. {ph.cap(labels[principal])} ({dotted(principal)}), {impression}."]
    for i, code in enumerate(dx[1:], 2):
        state = rng.choice(ph.ABOVE_GOAL) if above_goal and profile(code).bp else ph.status(code, rng)
        state = off_target.get(code, state)
        if profile(code).acuity == "preventive" and names_unbilled_test(labels[code], claim_px(claim)):
            state = rng.choice(NOT_DONE)
        assessment.append(f"{i}. {ph.cap(labels[code])} ({dotted(code)}), {state}.")

    plan = dm.intensified(_plan_items(principal, age, place, specialty, rng, 3),
                          worse == principal or principal in off_target) + orders
    for code in dx[1:4]:
        if code in problems and not ph.same_condition(code, principal, labels.get) and profile(code).plan:
            items = dm.intensified(_plan_items(code, age, place, specialty, rng, 1), worse == code or
                                   code in off_target)
            if items:
                plan.append(f"for {labels[code]}, {items[0]}")
    referral = profile(principal).referral
    if referral and level == "chronic" and place == "office" and not ph.self_referral(referral, specialty) \
            and rng.random() < 0.25:
        plan.append(f"referral to {referral}")
    if place == "office" and profile(principal).acuity == "emergency":
        plan.append(rng.choice(("sent to the emergency department for evaluation",
                                "transfer to the emergency department arranged")))
    for code in off_target if level in ("preventive", "prenatal") else ():
        plan.append(f"for {labels[code]}, adjust {'statin therapy' if code.startswith('E78') else 'the regimen'}")
    if above_goal and level in ("preventive", "prenatal") and place == "office":
        plan.append(f"blood pressure recheck in {rng.choice(('two', 'three', 'four'))} weeks")
    if place == "inpatient":
        return hospital.inpatient_note(claim, dx, labels, subjective, objective, assessment, plan, rng)
    sooner = "worse" if worse or above_goal or off_target else "red flags" if red_flags else None
    tested = any(ORDERS[p].kind in ("lab", "imaging", "cardiac") for p in claim_px(claim) if p in ORDERS)
    changed = [c for c in dx if c == worse or c in off_target or above_goal and profile(c).bp]  # treatment changed
    plan.append(ph.follow_up(level, place, age, principal, rng, sooner=sooner, tested=tested, changed=changed))
    timed = [dm.total_time(claim, len([c for c in dx if c[0] not in "VWXYZ"]), rng)] if _timed(claim, dx, place) \
        else []
    lines = ["Subjective: " + " ".join(subjective), "Objective: " + " ".join(objective),
             "Assessment: " + " ".join(assessment), "Plan: " + " ".join([ph.cap("; ".join(plan)) + "."] + timed)]
    if place == "ed":
        lines.insert(3, "Medical decision making: " + dm.mdm(claim, len(results) + len(orders), rng))
    return "\n".join(lines)


def design_notes(
    claims: pl.DataFrame,
    knowledge: ClinicalKnowledge,
    seed: int,
    symptoms: pl.DataFrame | None = None,
    progress: Progress | None = None,
) -> pl.DataFrame:
    """Notes for every claim: release_id, claim_id, note (symptoms from the `synthetic_symptoms` frame when given;
    each patient's earlier claims in the frame cited in the History line)."""
    by_claim = accepted_by_claim(symptoms) if symptoms is not None else None
    journeys = journey_contexts(claims)
    notes, total = [], claims.height
    for done, claim in enumerate(claims.iter_rows(named=True), start=1):
        chosen = by_claim.get(claim["claim_id"], []) if by_claim is not None else None
        notes.append(design_note(claim, seed, knowledge, chosen, journeys.get(str(claim["claim_id"]))))
        if progress is not None and (done % 5_000 == 0 or done == total):
            progress(done, total)
    return pl.DataFrame({
        "release_id": claims["release_id"] if "release_id" in claims.columns else [None] * total,
        "claim_id": claims["claim_id"],
        "note": notes,
    }, schema={"release_id": pl.String, "claim_id": pl.String, "note": pl.String})


def notes_per_second(claims: pl.DataFrame, knowledge: ClinicalKnowledge, seed: int) -> float:
    """Measured throughput of symptoms + note composition on these claims (knowledge prebuilt)."""
    started = time.perf_counter()
    for claim in claims.iter_rows(named=True):
        design_note(claim, seed, knowledge)
    return claims.height / max(time.perf_counter() - started, 1e-9)


def exemplars(
    claim: Mapping, pool: pl.DataFrame, k: int, knowledge: ClinicalKnowledge, seed: int
) -> list[dict]:
    """The k pool claims clinically nearest to `claim` (cosine of principal-diagnosis description vectors),
    each with its design-engine symptoms and note: few-shot material for an LLM prompt."""
    target = claim_dx(claim)[0]
    candidates = pool.filter(pl.col("claim_id") != claim.get("claim_id")).filter(
        pl.col("dx_1").is_in(list(knowledge.dx_codes))
    )
    if candidates.height == 0 or not knowledge.has(target):
        return []
    rows = np.array([knowledge.row(c) for c in candidates["dx_1"].to_list()])
    similarity = knowledge.dx_vectors[rows] @ knowledge.dx_vectors[knowledge.row(target)]
    order = np.lexsort((candidates["claim_id"].to_numpy(), -similarity))[:k]
    out = []
    for i in order.tolist():
        other = candidates.row(i, named=True)
        chosen = accepted_texts(design_symptoms(other, knowledge, seed))
        out.append({
            "claim_id": other["claim_id"],
            "similarity": round(float(similarity[i]), 4),
            "claim": other,
            "symptoms": chosen,
            "note": design_note(other, seed, knowledge, chosen),
        })
    return out

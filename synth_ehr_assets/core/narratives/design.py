"""Grounded design engine (seed 002): deterministic SOAP provider notes composed from a claim's codes,
demographics, setting and reviewed symptoms. Same release seed + claim id → the same note, with no identifiers.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache

import numpy as np
import polars as pl

from synth_ehr_assets.core.narratives.groups import ConditionGroup, condition_group
from synth_ehr_assets.core.narratives.knowledge import ClinicalKnowledge, build_knowledge
from synth_ehr_assets.core.narratives.symptoms import (
    NON_CLINICAL_PREFIXES,
    accepted_by_claim,
    accepted_texts,
    claim_dx,
    claim_seed,
    design_symptoms,
    review_reason,
)

Progress = Callable[[int, int], None]
ENGINE = "design"
ACUTE_GROUPS = {"sepsis", "infection", "upper_respiratory", "pneumonia", "urinary", "injury", "ear", "skin"}
ACUTE_DURATIONS = ("one day", "two days", "three days", "several days", "about a week")
CHRONIC_DURATIONS = ("several weeks", "a month", "two months", "several months", "the past year")
SETTINGS = {
    "professional": ("clinic", ("is seen in clinic", "presents to the office", "comes in for an office visit")),
    "outpatient": ("outpatient department", ("presents to the hospital outpatient department", "is seen as an outpatient")),
    "inpatient": ("hospital", ("is admitted to the hospital", "was admitted for inpatient care")),
}
MAX_ASSESSED = 5
RESULT_SIMILARITY = 0.5  # an abnormal-finding code this close to the principal diagnosis is reported


def dotted(code: str) -> str:
    """E119 → E11.9 (display form of an undotted ICD-10-CM code)."""
    return code if len(code) <= 3 else f"{code[:3]}.{code[3:]}"


@lru_cache(maxsize=100_000)
def concept(description: str) -> str:
    """A code description as running text: qualifiers in parentheses and a final ', unspecified' dropped,
    first letter lower-cased unless it starts an acronym."""
    text = re.sub(r"\s*\([^)]*\)", "", description)
    text = re.sub(r", unspecified(?=,|$)", "", text).strip()
    return text if text[:2].isupper() else text[0].lower() + text[1:]


def age_group(age: int | None) -> str:
    if age is None:
        return "unknown"
    return "infant" if age < 1 else "child" if age < 13 else "adolescent" if age < 18 else "adult" if age < 65 else "older adult"


def patient_phrase(age: int | None, sex: str | None) -> tuple[str, str, str]:
    """('a 54-year-old woman', 'she', 'her') style wording for the claim's age and sex."""
    female = sex == "F"
    pronoun, possessive = ("she", "her") if female else ("he", "his")
    if age is None:
        return ("a female patient" if female else "a male patient"), pronoun, possessive
    group = age_group(age)
    if group == "infant":
        return ("an infant girl" if female else "an infant boy"), pronoun, possessive
    noun = {"child": ("girl", "boy"), "adolescent": ("adolescent girl", "adolescent boy")}.get(group, ("woman", "man"))
    article = "an" if str(age).startswith("8") or age in (11, 18) else "a"
    return f"{article} {age}-year-old {noun[0] if female else noun[1]}", pronoun, possessive


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


class _Draws:
    """A claim's pre-drawn uniforms, consumed in order (one generator call per note keeps it fast)."""

    def __init__(self, seed: int, size: int = 48):
        self.values = np.random.default_rng(seed).random(size).tolist()
        self.position = 0

    def random(self) -> float:
        value = self.values[self.position % len(self.values)]
        self.position += 1
        return value

    def uniform(self, low: float, high: float) -> float:
        return low + (high - low) * self.random()

    def pick(self, options: Sequence[str], n: int = 1) -> list[str]:
        """n distinct options in their table order."""
        chosen = sorted(range(len(options)), key=lambda i: self.random())[: min(n, len(options))]
        return [options[i] for i in sorted(chosen)]


def _vitals(group: ConditionGroup, age: int | None, rng: _Draws) -> str:
    value = {name: rng.uniform(*group.vital_range(name)) for name in ("hr", "sbp", "dbp", "rr", "temp", "spo2")}
    if age is not None and age < 13:  # children run faster and lower
        value["hr"] += 40 if age < 1 else 20
        value["rr"] += 18 if age < 1 else 6
        value["sbp"] -= 30 if age < 1 else 15
        value["dbp"] -= 20 if age < 1 else 10
    return (f"BP {value['sbp']:.0f}/{value['dbp']:.0f} mmHg, HR {value['hr']:.0f}, RR {value['rr']:.0f}, "
            f"Temp {value['temp']:.1f} C, SpO2 {min(value['spo2'], 100):.0f}% on room air")


def design_note(
    claim: Mapping,
    seed: int,
    knowledge: ClinicalKnowledge | None = None,
    symptoms: Sequence[str] | None = None,
) -> str:
    """SOAP note for one claim row (keys of `CLAIM_SCHEMA`); `symptoms` default to the design engine's accepted
    symptoms of the claim. `seed` is the release seed; the claim's stream derives from it and the claim id."""
    dx = claim_dx(claim)
    if not dx:
        raise ValueError(f"claim {claim.get('claim_id')!r} has no diagnosis code in dx_1")
    knowledge = knowledge if knowledge is not None and all(knowledge.has(c) for c in dx) else build_knowledge(dx)
    if symptoms is None:
        symptoms = accepted_texts(design_symptoms(claim, knowledge, seed))
    rng = _Draws(claim_seed(seed, str(claim["claim_id"]), "note"))
    age, sex = claim.get("age"), claim.get("sex")
    principal, group = dx[0], condition_group(dx[0])
    principal_text = knowledge.description(principal)
    who, pronoun, _ = patient_phrase(age, sex)
    place, arrivals = SETTINGS.get(claim.get("claim_type") or "professional", SETTINGS["professional"])
    secondaries = [c for c in dx[1:] if not c.startswith(("V", "W", "X", "Y"))]
    history = [concept(knowledge.description(c)) for c in secondaries if not c.startswith(NON_CLINICAL_PREFIXES)]

    duration = rng.pick(ACUTE_DURATIONS if group.key in ACUTE_GROUPS else CHRONIC_DURATIONS)[0]
    reason = f"for {concept(principal_text)}" if rng.random() < 0.5 else f"with concerns related to {concept(principal_text)}"
    subjective = [f"{who.capitalize()} {rng.pick(arrivals)[0]} {reason}."]
    if symptoms:
        subjective.append(f"{pronoun.capitalize()} reports {_join(list(symptoms))} over {duration}.")
    else:
        subjective.append(f"{pronoun.capitalize()} reports no new complaints.")
    if history:
        subjective.append(f"Past medical history includes {_join(history[:3])}.")
    if age is not None and age < 18:
        subjective.append("History is provided by the patient's parent.")

    exam = ["ill-appearing" if group.key == "sepsis" else "no acute distress"]
    exam += rng.pick([f for f in group.findings if f not in exam], 2)
    objective = [f"Vitals: {_vitals(group, age, rng)}.", f"Exam: {'; '.join(exam)}."]
    finding, similarity = knowledge.nearest_finding(principal)
    finding_text = knowledge.r_phrases[finding]
    if (similarity >= RESULT_SIMILARITY and not principal.startswith(NON_CLINICAL_PREFIXES)
            and review_reason(finding_text, knowledge.r_codes[finding], similarity, claim, RESULT_SIMILARITY, []) is None):
        objective.append(f"Results notable for {finding_text}.")

    status = {"inpatient": "requiring inpatient management", "outpatient": "evaluated in the outpatient setting"}
    assessment = [f"1. {principal_text} ({dotted(principal)}), {status.get(claim.get('claim_type'), 'managed in clinic')}."]
    assessment += [f"{i}. {knowledge.description(c)} ({dotted(c)})." for i, c in enumerate(secondaries[: MAX_ASSESSED - 1], 2)]

    plan = rng.pick(group.plan, 3)
    for code in secondaries[:2]:
        other = condition_group(code)
        if other.key != group.key and other.plan and not code.startswith(NON_CLINICAL_PREFIXES):
            plan.append(f"for {concept(knowledge.description(code))}, {rng.pick(other.plan)[0]}")
    if claim.get("claim_type") == "inpatient":
        days = claim.get("los_days") or 1
        plan.append(f"hospital stay of {days} day{'s' if days != 1 else ''} with discharge planning and follow-up")
    elif claim.get("claim_type") == "outpatient":
        plan.append("discharged home from the outpatient department with return precautions")
    else:
        plan.append(f"return to {place} in {2 + int(rng.random() * 11)} weeks or sooner if symptoms worsen")
    plan_text = "; ".join(plan)
    plan_text = plan_text[0].upper() + plan_text[1:]
    return "\n".join([
        "Subjective: " + " ".join(subjective),
        "Objective: " + " ".join(objective),
        "Assessment: " + " ".join(assessment),
        "Plan: " + plan_text + ".",
    ])


def design_notes(
    claims: pl.DataFrame,
    knowledge: ClinicalKnowledge,
    seed: int,
    symptoms: pl.DataFrame | None = None,
    progress: Progress | None = None,
) -> pl.DataFrame:
    """Notes for every claim: release_id, claim_id, note (symptoms from the `synthetic_symptoms` frame when given)."""
    by_claim = accepted_by_claim(symptoms) if symptoms is not None else None
    notes, total = [], claims.height
    for done, claim in enumerate(claims.iter_rows(named=True), start=1):
        chosen = by_claim.get(claim["claim_id"], []) if by_claim is not None else None
        notes.append(design_note(claim, seed, knowledge, chosen))
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

"""Symptoms per claim: seeded draws of lay symptom phrases from the clinical knowledge table, a review, bounded
regeneration.

Candidates are the symptoms the knowledge table (`clinical`) lists for the claim's problems, each with the vital
sign it implies. Each drawn symptom is reviewed (age and sex wording, contradictions with the principal
diagnosis, duplicates; free-text proposals also by cosine similarity to the claim's codes ≥ threshold); a rejected
one is redrawn up to `max_retries` times and every attempt is recorded.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import polars as pl

from synth_ehr_assets.core.narratives.age_fit import YOUNG_CHILD, for_age, reportable
from synth_ehr_assets.core.narratives.knowledge import ClinicalKnowledge
from synth_ehr_assets.core.progress import Progress

SYMPTOM_COLUMNS = {
    "release_id": pl.String, "claim_id": pl.String, "slot": pl.Int32, "attempts": pl.Int32,
    "symptom_code": pl.String, "symptom_text": pl.String, "relevance": pl.Float64, "accepted": pl.Boolean,
    "review_reason": pl.String,
}
MAX_SECONDARIES = 3
SECONDARY_SHARE = 0.25  # draw probability mass of all secondary diagnoses' candidates together
NON_CLINICAL_PREFIXES = ("V", "W", "X", "Y", "Z")  # external causes and encounter reasons carry no symptoms

PEDIATRIC_ONLY = re.compile(r"infant|newborn|baby|child|pediatric|fuss|crying|milestone|teething|colic|poor feeding", re.I)
OLDER_ONLY = re.compile(r"age-related|senile|senility", re.I)
FEMALE_ONLY = re.compile(r"menstrua|vagin|pregnan|uter|ovar|cervix|mammo|lactat|breast", re.I)
MALE_ONLY = re.compile(r"prostat|scrot|testi|penile|erectile|hematospermia|semen|urine stream", re.I)
# (symptom wording, diagnosis wording) pairs that contradict each other although their embeddings are close
CONTRADICTIONS = (
    (re.compile(r"underweight|weight loss|cachexia", re.I), re.compile(r"obesity|overweight", re.I)),
    (re.compile(r"weight gain", re.I), re.compile(r"underweight|malnutrition|cachexia", re.I)),
    (re.compile(r"hypothermia", re.I), re.compile(r"hyperthyroid|fever|infection", re.I)),
    (re.compile(r"bradycardia", re.I), re.compile(r"tachycardia|fibrillation|flutter", re.I)),
    (re.compile(r"low blood-pressure|hypotension", re.I), re.compile(r"hypertens", re.I)),
    (re.compile(r"hypoglyc", re.I), re.compile(r"hyperglyc", re.I)),
)


def claim_seed(release_seed: int, claim_id: str, purpose: str = "") -> int:
    """Stable 64-bit seed of one claim: same release seed + claim id + purpose → same draws."""
    digest = hashlib.blake2b(f"{release_seed}:{claim_id}:{purpose}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def claim_dx(claim: Mapping) -> list[str]:
    """Diagnosis codes of a claim row in slot order (dx_1 is the principal)."""
    return [claim[f"dx_{i}"] for i in range(1, 11) if claim.get(f"dx_{i}")]


@dataclass(frozen=True)
class SymptomAttempt:
    """One drawn symptom and its review; `attempt` counts draws for the slot, 1 = first try."""

    slot: int
    attempt: int
    code: str | None
    text: str
    relevance: float | None
    accepted: bool
    reason: str | None


def review_reason(
    text: str, code: str | None, relevance: float, claim: Mapping, threshold: float, accepted_texts: Sequence[str]
) -> str | None:
    """Why a symptom is rejected for this claim (design rules, then relevance), or None when it is accepted."""
    reason = _rule_reason(text, code, claim.get("age"), claim.get("sex"), claim.get("dx_1"))
    if reason is None and text in accepted_texts:
        reason = "duplicate of an accepted symptom"
    if reason is None and relevance is not None and relevance < threshold:
        reason = f"relevance {relevance:.2f} below {threshold:.2f}"
    return reason


@lru_cache(maxsize=200_000)
def _rule_reason(text: str, code: str | None, age: int | None, sex: str | None, principal: str | None) -> str | None:
    from synth_ehr_assets.core.codes import age_sex_violation, describe

    if code and (violation := age_sex_violation(code, age, sex)):
        return f"age/sex edit: {violation}"
    if age is not None and age >= 18 and PEDIATRIC_ONLY.search(text):
        return "pediatric wording for an adult"
    if not reportable(text, age):
        return f"a child under {YOUNG_CHILD} cannot report it"
    if age is not None and age < 60 and OLDER_ONLY.search(text):
        return "age-related wording for a patient under 60"
    if sex == "M" and FEMALE_ONLY.search(text):
        return "female-specific symptom for a male patient"
    if sex == "F" and MALE_ONLY.search(text):
        return "male-specific symptom for a female patient"
    diagnosis = (describe(principal) or "") if principal else ""
    for symptom_words, diagnosis_words in CONTRADICTIONS:
        if symptom_words.search(text) and diagnosis_words.search(diagnosis):
            return "contradicts the principal diagnosis"
    return None


def claim_px(claim: Mapping) -> list[str]:
    """Procedure codes of a claim row in slot order."""
    return [claim[f"px_{i}"] for i in range(1, 7) if claim.get(f"px_{i}")]


@lru_cache(maxsize=1)
def _signs() -> dict[str, str]:
    from synth_ehr_assets.core.narratives.clinical import GROUPS
    from synth_ehr_assets.core.narratives.clinical_codes import CODES

    listed = [(text, sign) for p in (*GROUPS.values(), *CODES.values()) for text, sign in p.symptoms or () if sign]
    return {**{for_age(text, 0): sign for text, sign in listed}, **dict(listed)}


def sign_of(text: str) -> str:
    """The vital sign a symptom phrase implies in the knowledge table ("" when none or unknown)."""
    return _signs().get(text.strip().lower(), "")


def _candidates(dx: Sequence[str], age: int | None = None) -> tuple[list[str], list[float], int]:
    """Symptom phrases of the claim's problems with draw weights (principal first), and how many to draw; a
    young child's are the observable signs a parent reports (`age_fit`)."""
    from synth_ehr_assets.core.narratives.clinical import profile

    weights: dict[str, float] = {}
    principal = profile(dx[0])
    for text, _ in principal.symptoms:
        text = for_age(text, age)
        weights[text] = weights.get(text, 0.0) + 1.0
    for code in dx[1:1 + MAX_SECONDARIES] if principal.acuity in ("chronic", "prenatal") else ():
        other = profile(code)  # an acute visit's history is about the acute problem
        if code[0] not in NON_CLINICAL_PREFIXES and other.acuity == "chronic":
            for text, _ in other.symptoms:
                weights.setdefault(for_age(text, age), SECONDARY_SHARE / max(len(other.symptoms), 1))
    wanted = {"acute": 3, "emergency": 3, "chronic": 2, "prenatal": 1}.get(principal.acuity, 0)
    return list(weights), list(weights.values()), wanted


def design_symptoms(
    claim: Mapping,
    knowledge: ClinicalKnowledge | None,
    seed: int,
    per_claim: int = 3,
    max_retries: int = 3,
    threshold: float = 0.30,
) -> list[SymptomAttempt]:
    """Every attempt for one claim, in order; accepted ones fill up to `per_claim` slots (fewer for chronic and
    prenatal visits, none for preventive ones). Candidates are the lay symptoms of the claim's problems in the
    knowledge table (`clinical`); each draw is reviewed by the design rules (age, sex, contradictions,
    duplicates) and a rejected one is redrawn up to `max_retries` times. `threshold` applies to free-text
    proposals (`review_symptom_texts`); table symptoms carry no embedding relevance.
    """
    dx = tuple(claim_dx(claim))
    texts, weights, wanted = _candidates(dx, claim.get("age")) if dx else ([], [], 0)
    rng = np.random.default_rng(claim_seed(seed, str(claim["claim_id"]), "symptoms"))
    wanted = min(per_claim, wanted)
    if 0 < wanted < 3 and rng.random() < 0.3:
        wanted -= 1  # chronic follow-ups often bring no new symptom
    weights = np.array(weights, dtype=np.float64)
    attempts: list[SymptomAttempt] = []
    accepted: list[str] = []
    for slot in range(1, wanted + 1):
        for attempt in range(1, max_retries + 2):
            if weights.sum() <= 0:
                return attempts
            choice = int(rng.choice(len(texts), p=weights / weights.sum()))
            weights[choice] = 0.0
            text = texts[choice]
            reason = review_reason(text, None, None, claim, threshold, accepted)
            attempts.append(SymptomAttempt(slot, attempt, None, text, None, reason is None, reason))
            if reason is None:
                accepted.append(text)
                break
    return attempts


def accepted_texts(attempts: Sequence[SymptomAttempt]) -> list[str]:
    return [a.text for a in attempts if a.accepted]


def symptoms_frame(
    claims: pl.DataFrame,
    knowledge: ClinicalKnowledge,
    seed: int,
    per_claim: int = 3,
    max_retries: int = 3,
    threshold: float = 0.30,
    progress: Progress | None = None,
) -> pl.DataFrame:
    """One row per claim × attempted symptom (`SYMPTOM_COLUMNS`); rejected attempts stay with their reason."""
    rows: dict[str, list] = {name: [] for name in SYMPTOM_COLUMNS}
    total = claims.height
    for done, claim in enumerate(claims.iter_rows(named=True), start=1):
        for a in design_symptoms(claim, knowledge, seed, per_claim, max_retries, threshold):
            for name, value in zip(
                SYMPTOM_COLUMNS,
                (claim.get("release_id"), claim["claim_id"], a.slot, a.attempt, a.code, a.text, a.relevance,
                 a.accepted, a.reason),
            ):
                rows[name].append(value)
        if progress is not None and (done % 5_000 == 0 or done == total):
            progress(done, total)
    return pl.DataFrame(rows, schema=SYMPTOM_COLUMNS)


def accepted_by_claim(symptoms: pl.DataFrame) -> dict[str, list[str]]:
    """Accepted symptom texts per claim id, in slot order."""
    kept = symptoms.filter(pl.col("accepted")).sort("claim_id", "slot")
    grouped = kept.group_by("claim_id", maintain_order=True).agg(pl.col("symptom_text"))
    return dict(zip(grouped["claim_id"].to_list(), grouped["symptom_text"].to_list()))


def review_symptom_texts(
    texts: Sequence[str],
    claim: Mapping,
    knowledge: ClinicalKnowledge,
    threshold: float = 0.30,
    embed: Callable[[Sequence[str]], np.ndarray] | None = None,
) -> list[tuple[float, str | None]]:
    """Review free-text symptoms (e.g. proposed by an LLM): (relevance, rejection reason or None) per text."""
    if embed is None:
        from synth_ehr_assets.core.embeddings import embed_texts as embed
    rows = [knowledge.row(c) for c in claim_dx(claim) if knowledge.has(c)]
    vectors = embed(list(texts)) if texts else np.zeros((0, knowledge.dx_query.shape[1]), np.float32)
    similarity = vectors @ knowledge.dx_query[rows].T if rows else np.zeros((len(texts), 1))
    results, accepted = [], []
    for text, sims in zip(texts, similarity):
        relevance = round(float(sims.max()), 4)
        reason = review_reason(text.strip().lower(), None, relevance, claim, threshold, accepted)
        if reason is None:
            accepted.append(text.strip().lower())
        results.append((relevance, reason))
    return results


def candidate_symptoms(claim: Mapping, knowledge: ClinicalKnowledge | None = None) -> list[tuple[str | None, str]]:
    """Knowledge-table candidates for one claim as (code, text), most likely first, without those the design
    rules reject for the patient's age and sex (the list an LLM may pick from; code is None for lay phrases)."""
    dx = tuple(claim_dx(claim))
    texts, weights, _ = _candidates(dx, claim.get("age")) if dx else ([], [], 0)
    order = sorted(range(len(texts)), key=lambda i: -weights[i])
    return [(None, texts[i]) for i in order
            if _rule_reason(texts[i], None, claim.get("age"), claim.get("sex"), claim.get("dx_1")) is None]


def narrative_sample(claims: pl.DataFrame, sample_size: int | None, seed: int) -> pl.DataFrame:
    """The claims that get narratives: all of them, or a seeded sample of `sample_size` in claim order."""
    if sample_size is None or sample_size >= claims.height:
        return claims
    return claims.sample(sample_size, seed=seed % 2**32).sort("claim_id")

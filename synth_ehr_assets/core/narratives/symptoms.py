"""Symptoms per claim: seeded draws from grounded R-chapter candidates, a relevance review, bounded regeneration.

Candidates are the symptom codes nearest the claim's diagnoses in embedding space (`ClinicalKnowledge`). Each
drawn symptom is reviewed (CMS age/sex edits, wording rules, duplicates, cosine similarity to the claim's codes
≥ threshold); a rejected one is redrawn up to `max_retries` times and every attempt is recorded.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import polars as pl

from synth_ehr_assets.core.narratives.knowledge import ClinicalKnowledge

Progress = Callable[[int, int], None]
SYMPTOM_COLUMNS = {
    "release_id": pl.String, "claim_id": pl.String, "slot": pl.Int32, "attempts": pl.Int32,
    "symptom_code": pl.String, "symptom_text": pl.String, "relevance": pl.Float64, "accepted": pl.Boolean,
    "review_reason": pl.String,
}
PRINCIPAL_POOL, SECONDARY_POOL, MAX_SECONDARIES = 12, 4, 3
SECONDARY_SHARE = 0.25  # draw probability mass of all secondary diagnoses' candidates together
SAMPLING_TEMPERATURE = 0.05
NON_CLINICAL_PREFIXES = ("V", "W", "X", "Y", "Z")  # external causes and encounter reasons carry no symptoms

PEDIATRIC_ONLY = re.compile(r"infant|newborn|baby|child|pediatric|fussy|crying|milestone|teething", re.I)
OLDER_ONLY = re.compile(r"age-related|senile|senility", re.I)
FEMALE_ONLY = re.compile(r"menstrua|vagin|pregnan|uter|ovar|cervix|mammo|lactat|breast", re.I)
MALE_ONLY = re.compile(r"prostat|scrot|testi|penile|erectile|hematospermia|semen", re.I)
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
    code: str
    text: str
    relevance: float
    accepted: bool
    reason: str | None


def review_reason(
    text: str, code: str | None, relevance: float, claim: Mapping, threshold: float, accepted_texts: Sequence[str]
) -> str | None:
    """Why a symptom is rejected for this claim (design rules, then relevance), or None when it is accepted."""
    reason = _rule_reason(text, code, claim.get("age"), claim.get("sex"), claim.get("dx_1"))
    if reason is None and text in accepted_texts:
        reason = "duplicate of an accepted symptom"
    if reason is None and relevance < threshold:
        reason = f"relevance {relevance:.2f} below {threshold:.2f}"
    return reason


@lru_cache(maxsize=200_000)
def _rule_reason(text: str, code: str | None, age: int | None, sex: str | None, principal: str | None) -> str | None:
    from synth_ehr_assets.core.codes import age_sex_violation, describe

    if code and (violation := age_sex_violation(code, age, sex)):
        return f"age/sex edit: {violation}"
    if age is not None and age >= 18 and PEDIATRIC_ONLY.search(text):
        return "pediatric wording for an adult"
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


def _candidate_pool(dx: list[str], knowledge: ClinicalKnowledge) -> tuple[np.ndarray, np.ndarray]:
    """R indexes and draw weights: mostly the principal's nearest symptoms, some of the secondaries'."""
    weights: dict[int, float] = {}
    clinical = [c for c in dx if knowledge.has(c) and not c.startswith(NON_CLINICAL_PREFIXES)]
    secondaries = clinical[1 : 1 + MAX_SECONDARIES]
    for rank, code in enumerate(clinical[: 1 + MAX_SECONDARIES]):
        k, mass = (PRINCIPAL_POOL, 1.0) if rank == 0 else (SECONDARY_POOL, SECONDARY_SHARE / len(secondaries))
        row = knowledge.row(code)
        indexes = knowledge.ranked_symptoms(code, k)
        soft = np.exp((knowledge.dx_similarity[row, indexes] - knowledge.dx_similarity[row, indexes].max())
                      / SAMPLING_TEMPERATURE)
        for index, weight in zip(indexes.tolist(), mass * soft / soft.sum()):
            weights[index] = weights.get(index, 0.0) + float(weight)
    if not weights:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    indexes = np.fromiter(weights, dtype=np.int64)
    values = np.fromiter(weights.values(), dtype=np.float64)
    return indexes, values / values.sum()


def design_symptoms(
    claim: Mapping,
    knowledge: ClinicalKnowledge,
    seed: int,
    per_claim: int = 3,
    max_retries: int = 3,
    threshold: float = 0.30,
) -> list[SymptomAttempt]:
    """Every attempt for one claim, in order; accepted ones fill up to `per_claim` slots.

    `seed` is the release seed; the claim's own stream is `claim_seed(seed, claim_id, "symptoms")`.
    """
    rng = np.random.default_rng(claim_seed(seed, str(claim["claim_id"]), "symptoms"))
    dx = tuple(claim_dx(claim))
    key = ("symptom_pool", dx)
    if key not in knowledge.memo:  # claims share code combinations: compute each pool once
        pool, weights = _candidate_pool(list(dx), knowledge)
        rows = [knowledge.row(c) for c in dx if knowledge.has(c)]
        relevance = (knowledge.dx_similarity[np.ix_(rows, pool)].max(axis=0) if rows and len(pool)
                     else np.zeros(len(pool)))
        knowledge.memo[key] = (pool, weights, relevance)
    pool, weights, relevance = knowledge.memo[key]
    weights = weights.copy()
    uniforms = rng.random(per_claim * (max_retries + 1))
    attempts: list[SymptomAttempt] = []
    accepted: list[str] = []
    draw = 0
    for slot in range(1, per_claim + 1):
        for attempt in range(1, max_retries + 2):
            total = weights.sum()
            if total <= 0:
                return attempts
            # inverse-CDF draw without replacement: a drawn candidate's weight drops to zero
            choice = min(int(np.searchsorted(np.cumsum(weights), uniforms[draw] * total, side="right")), len(pool) - 1)
            draw += 1
            if weights[choice] <= 0:  # float round-off at the top end of the CDF
                choice = int(np.argmax(weights))
            weights[choice] = 0.0
            index = int(pool[choice])
            code, text, score = knowledge.r_codes[index], knowledge.r_phrases[index], float(relevance[choice])
            reason = review_reason(text, code, score, claim, threshold, accepted)
            attempts.append(SymptomAttempt(slot, attempt, code, text, round(score, 4), reason is None, reason))
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


def candidate_symptoms(claim: Mapping, knowledge: ClinicalKnowledge) -> list[tuple[str, str]]:
    """Grounded candidates for one claim as (code, text), most likely first, without those the design rules
    reject for the patient's age and sex (the list an LLM may pick from)."""
    dx = tuple(claim_dx(claim))
    pool, weights = _candidate_pool(list(dx), knowledge)
    out = []
    for index in pool[np.argsort(-weights, kind="stable")].tolist():
        code, text = knowledge.r_codes[index], knowledge.r_phrases[index]
        if _rule_reason(text, code, claim.get("age"), claim.get("sex"), claim.get("dx_1")) is None:
            out.append((code, text))
    return out


def narrative_sample(claims: pl.DataFrame, sample_size: int | None, seed: int) -> pl.DataFrame:
    """The claims that get narratives: all of them, or a seeded sample of `sample_size` in claim order."""
    if sample_size is None or sample_size >= claims.height:
        return claims
    return claims.sample(sample_size, seed=seed % 2**32).sort("claim_id")

"""Judge of provider notes: deterministic signals, an optional LLM judge's scores, one combined score.

Deterministic signals per note: is the principal diagnosis concept mentioned (token overlap of its description
or its category's with a note sentence), is the wording consistent with age and sex (sex words, pregnancy or
sex-specific anatomy, pediatric/adult words, stated age group), how close the note is to the claim's code
descriptions in embedding space, and PHI hits. `calibration.calibration_report` measures how well the combined
score separates planted mismatched notes from matched ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from synth_ehr_assets.core.narratives.config import JudgeWeights, NarrativeConfig
from synth_ehr_assets.core.narratives.design import age_group
from synth_ehr_assets.core.narratives.knowledge import ClinicalKnowledge
from synth_ehr_assets.core.narratives.phi import phi_kinds, scan_phi
from synth_ehr_assets.core.narratives.symptoms import claim_dx

Embed = Callable[[Sequence[str]], np.ndarray]
DX_MENTION_THRESHOLD = 0.6
EMBEDDED_CHARS = 300  # embedding cost grows with length; the first sentences carry the clinical gist
STOP_WORDS = frozenset(
    "a an and or of the in on to with without due by for at from as not other unspecified specified elsewhere "
    "classified site sites organism part initial encounter subsequent sequela type nos".split()
)
FEMALE = re.compile(r"\b(?:she|her|hers|herself|woman|female|girl|lady|mrs|ms)\b", re.I)
MALE = re.compile(r"\b(?:he|him|his|himself|man|male|boy|gentleman|mr)\b", re.I)
FEMALE_ANATOMY = re.compile(
    r"\b(?:pregnan\w*|gestation\w*|trimester|postpartum|obstetric\w*|prenatal|fetal|uter(?:us|ine)|ovar\w*|"
    r"cervix|vagin\w*|menstrua\w*)", re.I)
MALE_ANATOMY = re.compile(r"\b(?:prostat\w*|testic\w*|scrot\w*|penile|penis)\b", re.I)
PEDIATRIC = re.compile(r"\b(?:child|boy|girl|infant|toddler|newborn|pediatric|adolescent|kid)\b", re.I)
ADULT = re.compile(r"\b(?:woman|man|gentleman|lady|retired|his wife|her husband)\b", re.I)
STATED_AGE = re.compile(r"\b(\d{1,3})[- ](?:year|yr)s?[- ]old\b", re.I)
SECTION = re.compile(r"^(?:subjective|assessment)\s*:\s*(.*)$", re.I | re.M)
SENTENCE_SPLIT = re.compile(r"[.;\n]+")


def content_tokens(text: str) -> set[str]:
    words = re.findall(r"[a-z0-9]+", text.lower().replace("'s", ""))
    return {w[:-1] if len(w) > 4 and w.endswith("s") else w for w in words if w not in STOP_WORDS}


@dataclass(frozen=True)
class JudgeSignals:
    """Deterministic signals of one note against its claim."""

    dx_overlap: float
    dx_mentioned: bool
    demographic_issues: tuple[str, ...]
    embedding_relevance: float
    phi_hits: int
    phi_kinds: str

    @property
    def demographics_ok(self) -> bool:
        return not self.demographic_issues


@dataclass(frozen=True)
class LLMJudgeScores:
    """What an LLM judge returns per note (1-5 each) and why."""

    plausibility: int
    relevance: int
    coherence: int
    rationale: str

    @classmethod
    def coerce(cls, value: "LLMJudgeScores | Mapping | None") -> "LLMJudgeScores | None":
        if value is None or isinstance(value, cls):
            return value
        return cls(int(value["plausibility"]), int(value["relevance"]), int(value["coherence"]),
                   str(value.get("rationale") or ""))

    @property
    def mean(self) -> float:
        return (self.plausibility + self.relevance + self.coherence) / 3


def dx_overlap(note: str, descriptions: Sequence[str]) -> float:
    """Best share of a description's content words found in one note sentence (over the given descriptions)."""
    sentences = [content_tokens(s) for s in SENTENCE_SPLIT.split(note) if s.strip()]
    best = 0.0
    for description in descriptions:
        wanted = content_tokens(description)
        if wanted and sentences:
            best = max(best, max(len(wanted & s) for s in sentences) / len(wanted))
    return best


def demographic_issues(note: str, age: int | None, sex: str | None) -> list[str]:
    """Wording that contradicts the claim's age or sex (empty when consistent). Parenthesised qualifiers are
    ignored: code descriptions such as 'Obstructive sleep apnea (adult) (pediatric)' name both groups."""
    note = re.sub(r"\([^)]*\)", "", note)
    issues = []
    female, male = len(FEMALE.findall(note)), len(MALE.findall(note))
    if sex == "M" and female > male:
        issues.append("female wording for a male patient")
    if sex == "F" and male > female:
        issues.append("male wording for a female patient")
    if sex == "M" and FEMALE_ANATOMY.search(note):
        issues.append("pregnancy or female anatomy for a male patient")
    if sex == "F" and MALE_ANATOMY.search(note):
        issues.append("male anatomy for a female patient")
    if age is not None:
        if age >= 18 and PEDIATRIC.search(note):
            issues.append("pediatric wording for an adult")
        if age < 13 and ADULT.search(note):
            issues.append("adult wording for a child")
        for stated in {int(m) for m in STATED_AGE.findall(note)}:
            if abs(stated - age) > 1 and age_group(stated) != age_group(age):
                issues.append(f"stated age {stated} is in another age group than {age}")
    return issues


def embedding_text(note: str) -> str:
    """The part of a note that is embedded: Subjective + Assessment when present, else the start (capped)."""
    sections = SECTION.findall(note)
    return (" ".join(sections) if sections else note)[:EMBEDDED_CHARS]


def note_relevance(notes: Sequence[str], claims: Sequence[Mapping], knowledge: ClinicalKnowledge,
                   embed: Embed | None = None) -> np.ndarray:
    """Cosine of each note to its claim's code descriptions (principal weighted twice)."""
    if embed is None:
        from synth_ehr_assets.core.embeddings import embed_texts as embed
    vectors = embed([embedding_text(n) for n in notes]) if notes else np.zeros((0, knowledge.dx_vectors.shape[1]))
    targets = []
    for claim in claims:
        rows = [knowledge.row(c) for c in claim_dx(claim)]
        target = knowledge.dx_vectors[rows[0]] + knowledge.dx_vectors[rows].sum(axis=0)
        targets.append(target / max(np.linalg.norm(target), 1e-9))
    return np.einsum("ij,ij->i", vectors, np.array(targets)) if targets else np.zeros(0)


def judge_signals(notes: Sequence[str], claims: Sequence[Mapping], knowledge: ClinicalKnowledge,
                  embed: Embed | None = None) -> list[JudgeSignals]:
    """Deterministic signals for aligned notes and claims (every claim's codes must be in `knowledge`)."""
    relevance = note_relevance(notes, claims, knowledge, embed)
    signals = []
    for note, claim, rel in zip(notes, claims, relevance):
        principal = claim_dx(claim)[0]
        overlap = dx_overlap(note, [knowledge.description(principal), _category_description(principal)])
        hits = scan_phi(note)
        signals.append(JudgeSignals(
            dx_overlap=round(overlap, 4),
            dx_mentioned=overlap >= DX_MENTION_THRESHOLD,
            demographic_issues=tuple(demographic_issues(note, claim.get("age"), claim.get("sex"))),
            embedding_relevance=round(float(rel), 4),
            phi_hits=len(hits),
            phi_kinds=phi_kinds(hits),
        ))
    return signals


def _category_description(code: str) -> str:
    from synth_ehr_assets.core.codes import describe

    return describe(code[:3]) or ""


def combined_score(signals: JudgeSignals, llm: LLMJudgeScores | Mapping | None = None,
                   weights: JudgeWeights | None = None) -> float:
    """Score in [0, 1]: weighted mean of the content components available (the LLM part only when scores are
    given), times the demographics and PHI penalties when those checks fail."""
    weights = weights or JudgeWeights()
    parts = [
        (weights.dx_mentioned, signals.dx_overlap),
        (weights.embedding, float(np.clip((signals.embedding_relevance - 0.1) / 0.5, 0, 1))),
    ]
    llm = LLMJudgeScores.coerce(llm)
    if llm is not None:
        parts.append((weights.llm, (llm.mean - 1) / 4))
    total = sum(w for w, _ in parts)
    score = sum(w * v for w, v in parts) / total if total else 0.0
    score *= 1.0 if signals.demographics_ok else weights.demographics_penalty
    score *= weights.phi_penalty if signals.phi_hits else 1.0
    return round(score, 4)


def deterministic_pass(signals: JudgeSignals, min_relevance: float) -> bool:
    return (signals.dx_mentioned and signals.demographics_ok and signals.phi_hits == 0
            and signals.embedding_relevance >= min_relevance)


JUDGE_SCHEMA = {
    "release_id": pl.String, "claim_id": pl.String, "plausibility": pl.Int8, "relevance": pl.Int8,
    "coherence": pl.Int8, "rationale": pl.String, "dx_mentioned": pl.Boolean, "dx_overlap": pl.Float64,
    "demographics_ok": pl.Boolean, "demographic_issues": pl.String, "embedding_relevance": pl.Float64,
    "phi_hits": pl.Int32, "phi_kinds": pl.String, "combined_score": pl.Float64, "passed": pl.Boolean,
}


def judge_frame(
    notes: pl.DataFrame,
    claims: pl.DataFrame,
    knowledge: ClinicalKnowledge,
    config: NarrativeConfig | None = None,
    llm_scores: Mapping[str, LLMJudgeScores | Mapping | None] | None = None,
    embed: Embed | None = None,
) -> pl.DataFrame:
    """One judge row per note (`JUDGE_SCHEMA`); a missing note (failed generation) fails with its reason."""
    config = config or NarrativeConfig()
    llm_scores = llm_scores or {}
    by_id = {row["claim_id"]: row for row in claims.iter_rows(named=True)}
    missing = [c for c in notes["claim_id"].to_list() if c not in by_id]
    if missing:
        raise ValueError(f"notes refer to claims that are not in the claims frame: {missing[:5]}")
    rows = notes.select("claim_id", "note", *(["failure_reason"] if "failure_reason" in notes.columns else []))
    present = rows.filter(pl.col("note").is_not_null() & (pl.col("note").str.strip_chars() != ""))
    claim_rows = [by_id[c] for c in present["claim_id"].to_list()]
    signals = dict(zip(present["claim_id"].to_list(),
                       judge_signals(present["note"].to_list(), claim_rows, knowledge, embed)))
    out = []
    for row in rows.iter_rows(named=True):
        claim_id, signal = row["claim_id"], signals.get(row["claim_id"])
        llm = LLMJudgeScores.coerce(llm_scores.get(claim_id))
        if signal is None:
            reason = row.get("failure_reason") or "empty note"
            out.append({"claim_id": claim_id, "rationale": f"no note: {reason}", "combined_score": 0.0,
                        "passed": False, "dx_mentioned": False, "demographics_ok": False, "phi_hits": 0})
            continue
        out.append({
            "claim_id": claim_id,
            "plausibility": llm.plausibility if llm else None,
            "relevance": llm.relevance if llm else None,
            "coherence": llm.coherence if llm else None,
            "rationale": llm.rationale if llm else None,
            "dx_mentioned": signal.dx_mentioned,
            "dx_overlap": signal.dx_overlap,
            "demographics_ok": signal.demographics_ok,
            "demographic_issues": "; ".join(signal.demographic_issues) or None,
            "embedding_relevance": signal.embedding_relevance,
            "phi_hits": signal.phi_hits,
            "phi_kinds": signal.phi_kinds or None,
            "combined_score": combined_score(signal, llm, config.judge_weights),
            "passed": deterministic_pass(signal, config.min_note_relevance),
        })
    release = notes["release_id"][0] if "release_id" in notes.columns and notes.height else None
    frame = pl.DataFrame(out, schema={k: v for k, v in JUDGE_SCHEMA.items() if k != "release_id"})
    return frame.with_columns(pl.lit(release, dtype=pl.String).alias("release_id")).select(list(JUDGE_SCHEMA))


def judge_gate(judged: pl.DataFrame, min_relevance: float | None, max_low_share: float | None,
               min_pass_share: float = 0.9) -> dict:
    """The `judge_thresholds` gate: deterministic pass share always, mean relevance and low-note share when set.

    Relevance and the 'below 3' test use the LLM judge's scores where present, else the combined score on the
    1-5 scale (1 + 4 × combined), so the gate also works for the design engine.
    """
    scale = 1 + 4 * pl.col("combined_score")
    llm_mean = (pl.col("plausibility") + pl.col("relevance") + pl.col("coherence")) / 3
    figures = judged.select(
        pass_share=pl.col("passed").mean(),
        mean_relevance=pl.coalesce(pl.col("relevance").cast(pl.Float64), scale).mean(),
        low_note_share=(pl.coalesce(llm_mean, scale) < 3).mean(),
        llm_scored=pl.col("relevance").is_not_null().sum(),
    ).row(0, named=True)
    figures = {k: (float(v) if v is not None else 0.0) for k, v in figures.items()}
    failures = []
    if figures["pass_share"] < min_pass_share:
        failures.append(f"deterministic pass share {figures['pass_share']:.3f} < {min_pass_share}")
    if min_relevance is not None and figures["mean_relevance"] < min_relevance:
        failures.append(f"mean relevance {figures['mean_relevance']:.2f} < {min_relevance}")
    if max_low_share is not None and figures["low_note_share"] > max_low_share:
        failures.append(f"share of notes below 3 {figures['low_note_share']:.3f} > {max_low_share}")
    if judged.height == 0:
        failures.append("no notes were judged")
    return {**figures, "passed": not failures, "failures": failures}

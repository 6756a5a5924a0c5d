"""Judge of provider notes: the deterministic detectors (`detectors`), an optional LLM judge, one combined score.

Each detector reads the note text against the claim and names the sentences it objects to; a note passes when
none objects. The LLM judge's rubric scores count only at the weight its planted-defect AUROC earns
(`llm_weight`), and a rationale that is not prose about the note is recorded as a judge failure.
`calibration.calibration_report` plants every defect kind into clean notes and measures recall and false flags.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from synth_ehr_assets.core.narratives.config import JudgeWeights, NarrativeConfig
from synth_ehr_assets.core.narratives.design import age_group
from synth_ehr_assets.core.narratives.knowledge import ClinicalKnowledge
from synth_ehr_assets.core.narratives.phi import scan_phi

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


def content_tokens(text: str) -> set[str]:
    words = re.findall(r"[a-z0-9]+", text.lower().replace("'s", ""))
    return {w[:-1] if len(w) > 4 and w.endswith("s") else w for w in words if w not in STOP_WORDS}


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


def rationale_problem(rationale: str | None, note: str) -> str | None:
    """Why an LLM judge's rationale is not prose about the note (None when it is): too short, repetitive
    (a looping model), not words, or sharing no content word with the note."""
    words = re.findall(r"[A-Za-z']+", rationale or "")
    if len(words) < 5:
        return "rationale too short"
    lowered = [w.lower() for w in words]
    if len(set(lowered)) / len(lowered) < 0.6 or any(lowered[i:i + 2] == lowered[i + 2:i + 4]
                                                     for i in range(len(lowered) - 3)):
        return "rationale repeats itself"
    if sum(len(w) for w in words) < 0.6 * len((rationale or "").replace(" ", "")):
        return "rationale is not words"
    if not content_tokens(" ".join(words)) & content_tokens(note) - {"patient", "note"}:
        return "rationale does not refer to the note"
    return None


JUDGE_SCHEMA = {
    "release_id": pl.String, "claim_id": pl.String, "plausibility": pl.Int8, "relevance": pl.Int8,
    "coherence": pl.Int8, "rationale": pl.String, "llm_status": pl.String, "flags": pl.String, "n_flags": pl.Int32,
    "flagged_sentences": pl.String, "dx_mentioned": pl.Boolean, "demographics_ok": pl.Boolean,
    "demographic_issues": pl.String, "phi_hits": pl.Int32, "phi_kinds": pl.String, "detector_score": pl.Float64,
    "combined_score": pl.Float64, "passed": pl.Boolean,
}


def detector_score(kinds: Sequence[str], weights: JudgeWeights | None = None) -> float:
    """1 for a note no detector objects to, less a penalty per defect kind found (floored at 0)."""
    weights = weights or JudgeWeights()
    return round(max(0.0, 1.0 - weights.per_defect_penalty * len(set(kinds))), 4)


def combined_score(kinds: Sequence[str], llm: LLMJudgeScores | Mapping | None = None, llm_weight: float = 0.0,
                   weights: JudgeWeights | None = None) -> float:
    """Score in [0, 1]: the detector score, averaged with the LLM judge's mean (1-5 scaled to 0-1) at
    `llm_weight` (its calibrated weight; 0 when the LLM judge is uncalibrated or failed)."""
    base = detector_score(kinds, weights)
    llm = LLMJudgeScores.coerce(llm)
    if llm is None or llm_weight <= 0:
        return base
    return round((base + llm_weight * (llm.mean - 1) / 4) / (1 + llm_weight), 4)


def llm_weight(auroc: float | None, weights: JudgeWeights | None = None, min_auroc: float = 0.7) -> float:
    """Weight of the LLM judge in `combined_score`: 0 below `min_auroc` on planted defects, rising linearly to
    `weights.llm` at a perfect AUROC."""
    weights = weights or JudgeWeights()
    if auroc is None or auroc < min_auroc:
        return 0.0
    return round(weights.llm * (auroc - min_auroc) / (1 - min_auroc), 4)


def judge_frame(
    notes: pl.DataFrame,
    claims: pl.DataFrame,
    knowledge: ClinicalKnowledge | None = None,
    config: NarrativeConfig | None = None,
    llm_scores: Mapping[str, LLMJudgeScores | Mapping | None] | None = None,
    llm_auroc: float | None = None,
    findings: Mapping[str, list] | None = None,
) -> pl.DataFrame:
    """One judge row per note (`JUDGE_SCHEMA`): every detector's findings (kinds and the sentences objected to),
    the LLM judge's scores where given and valid, the combined score and pass (no finding). A missing note
    (failed generation) fails with its reason; an LLM rationale that is not prose is a judge failure. `findings`
    (claim_id → findings, `note_findings`) are used instead of re-running the detectors."""
    from synth_ehr_assets.core.narratives.detectors import detect

    config = config or NarrativeConfig()
    weight = llm_weight(llm_auroc, config.judge_weights, config.min_llm_auroc)
    llm_scores, known = llm_scores or {}, findings or {}
    from synth_ehr_assets.core.narratives.journey_context import journey_contexts

    describe = knowledge.description if knowledge is not None else None
    by_id = {row["claim_id"]: row for row in claims.iter_rows(named=True)}
    histories = journey_contexts(claims)
    missing = [c for c in notes["claim_id"].to_list() if c not in by_id]
    if missing:
        raise ValueError(f"notes refer to claims that are not in the claims frame: {missing[:5]}")
    out = []
    for row in notes.iter_rows(named=True):
        claim_id, note = row["claim_id"], row.get("note")
        if not note or not note.strip():
            out.append({"claim_id": claim_id, "rationale": f"no note: {row.get('failure_reason') or 'empty note'}",
                        "combined_score": 0.0, "detector_score": 0.0, "passed": False, "n_flags": 0,
                        "dx_mentioned": False, "demographics_ok": False, "phi_hits": 0, "llm_status": "absent"})
            continue
        claim = by_id[claim_id]
        found = known[claim_id] if claim_id in known else detect(note, claim, _safe(describe),
                                                                 histories.get(claim_id))
        kinds = sorted({f.kind for f in found})
        llm, status, rationale = LLMJudgeScores.coerce(llm_scores.get(claim_id)), "absent", None
        if claim_id in llm_scores:
            problem = "no verdict" if llm is None else rationale_problem(llm.rationale, note)
            status, rationale = ("ok", llm.rationale) if problem is None else (f"failed: {problem}", None)
            llm = llm if problem is None else None
        demo = [f.reason for f in found if f.kind == "demographics"]
        phi = [f for f in found if f.kind == "phi"]
        out.append({
            "claim_id": claim_id,
            "plausibility": llm.plausibility if llm else None,
            "relevance": llm.relevance if llm else None,
            "coherence": llm.coherence if llm else None,
            "rationale": rationale,
            "llm_status": status,
            "flags": ", ".join(kinds) or None,
            "n_flags": len(found),
            "flagged_sentences": " | ".join(f"[{f.kind}] {f.sentence} ({f.reason})" for f in found[:8]) or None,
            "dx_mentioned": "dx_missing" not in kinds,
            "demographics_ok": not demo,
            "demographic_issues": "; ".join(demo) or None,
            "phi_hits": len(scan_phi(note)) if phi else 0,
            "phi_kinds": phi[0].reason if phi else None,
            "detector_score": detector_score(kinds, config.judge_weights),
            "combined_score": combined_score(kinds, llm, weight, config.judge_weights),
            "passed": not kinds,
        })
    release = notes["release_id"][0] if "release_id" in notes.columns and notes.height else None
    frame = pl.DataFrame(out, schema={k: v for k, v in JUDGE_SCHEMA.items() if k != "release_id"})
    return frame.with_columns(pl.lit(release, dtype=pl.String).alias("release_id")).select(list(JUDGE_SCHEMA))


def note_findings(notes: pl.DataFrame, claims: pl.DataFrame, knowledge: ClinicalKnowledge | None = None) -> dict:
    """claim_id → every detector's findings on its note (notes without text left out), read once for both
    `calibration_report` and `judge_frame`; each note read against its patient's earlier claims in the frame."""
    from synth_ehr_assets.core.narratives.detectors import detect
    from synth_ehr_assets.core.narratives.journey_context import journey_contexts

    describe = _safe(knowledge.description) if knowledge is not None else None
    by_id = {row["claim_id"]: row for row in claims.iter_rows(named=True)}
    histories = journey_contexts(claims)
    return {cid: detect(note, by_id[cid], describe, histories.get(cid))
            for cid, note in notes.select("claim_id", "note").iter_rows()
            if note and note.strip() and cid in by_id}


def _safe(describe):
    """A describe function that falls back to the catalog for codes the knowledge table lacks."""
    if describe is None:
        return None
    from synth_ehr_assets.core.codes import describe as catalog

    def lookup(code: str) -> str | None:
        try:
            return describe(code)
        except KeyError:
            return catalog(code)

    return lookup


def _wilson_lower(rate: float, n: int | None, z: float = 1.96) -> float:
    """Wilson score lower limit of a share `rate` of `n` notes (the rate itself when `n` is unknown)."""
    if not n:
        return rate
    centre = rate + z * z / (2 * n)
    spread = z * ((rate * (1 - rate) + z * z / (4 * n)) / n) ** 0.5
    return max(0.0, (centre - spread) / (1 + z * z / n))


def judge_gate(judged: pl.DataFrame, min_relevance: float | None, max_low_share: float | None,
               min_pass_share: float = 0.9, calibration: Mapping | None = None,
               min_recall: float = 0.9, max_clean_flag_rate: float = 0.05) -> dict:
    """The `judge_thresholds` gate: pass share (notes no detector objects to) always; mean relevance and the
    share of notes below 3 when set (LLM scores where valid, else 1 + 4 × combined score); and, given a
    calibration report, every planted kind's recall and the flag rate on clean notes (its 95% lower limit)."""
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
    if calibration:
        figures["min_recall"] = float(calibration["min_recall"])
        figures["clean_flag_rate"] = float(calibration["clean_flag_rate"])
        weak = [k for k, v in calibration.get("recall", {}).items() if v < min_recall]
        if weak:
            failures.append(f"detector recall below {min_recall} for planted {', '.join(weak)}")
        # on the release's own few notes one upcoded claim is a 10% "flag rate": the bar is held by the Wilson
        # 95% lower limit (what the flags show at least), the rate itself on large calibration sets
        figures["clean_flag_rate_lower"] = _wilson_lower(figures["clean_flag_rate"], calibration.get("clean_notes"))
        if figures["clean_flag_rate_lower"] > max_clean_flag_rate:
            failures.append(f"flag rate on clean notes {figures['clean_flag_rate']:.3f} (95% lower limit "
                            f"{figures['clean_flag_rate_lower']:.3f}) > {max_clean_flag_rate}")
    if judged.height == 0:
        failures.append("no notes were judged")
    return {**figures, "min_pass_share": min_pass_share, "passed": not failures, "failures": failures}

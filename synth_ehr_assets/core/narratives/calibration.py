"""Judge calibration: plant every defect kind into otherwise good notes of the engine that wrote the release and
measure, per kind, the share the detectors catch (recall), the flag rate on the clean notes, and how well the
combined score (and, when given, the LLM judge) separates planted from clean notes (AUROC)."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import polars as pl

from synth_ehr_assets.core.narratives import planting, planting_journey
from synth_ehr_assets.core.narratives.config import NarrativeConfig
from synth_ehr_assets.core.narratives.detectors import detect
from synth_ehr_assets.core.narratives.judge import LLMJudgeScores, combined_score, rationale_problem

LLMBatch = Callable[[Sequence[tuple[str, Mapping]]], Sequence["LLMJudgeScores | Mapping | None"]]


def _auroc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    return round(float(roc_auc_score(labels, scores)), 4) if 0 < labels.sum() < len(labels) else None


def calibration_report(
    claims: pl.DataFrame,
    notes: Mapping[str, str],
    engine: str,
    per_kind: int = 12,
    seed: int = 0,
    config: NarrativeConfig | None = None,
    describe: Callable[[str], str | None] | None = None,
    llm_judge: LLMBatch | None = None,
    llm_cases: int | None = None,
    findings: Mapping[str, list] | None = None,
    histories: Mapping | None = None,
) -> dict:
    """`notes` maps claim_id → the release engine's note (`engine` names it). Clean notes the detectors accept
    are the bases; each planter (`planting.PLANTERS`) changes the note or the claim so one defect kind holds,
    on up to `per_kind` eligible bases. Returns recall per kind, the clean flag rate, AUROC of the combined
    score and, with `llm_judge` (a batch callable over (note, claim) pairs), the LLM judge's AUROC on a balanced
    subset of `llm_cases` cases (default: `config.llm_calibration_cases`; a rationale that is not prose counts as
    a failed verdict). `findings` (claim_id → the detectors' findings on its note, e.g. from
    `judge.note_findings`) spares re-reading the clean notes.
    `histories` (claim_id → `JourneyContext`, default from the claims' patients and dates) feed the journey
    check; journey contradictions (`planting_journey`) are planted only into notes of claims with earlier claims."""
    from synth_ehr_assets.core.narratives.journey_context import journey_contexts

    config = config or NarrativeConfig()
    histories = journey_contexts(claims) if histories is None else histories
    rng = random.Random(seed)
    rows = [c for c in claims.iter_rows(named=True) if notes.get(c["claim_id"])]
    rng.shuffle(rows)
    known = findings or {}
    clean_findings = [(c, notes[c["claim_id"]], known[c["claim_id"]] if c["claim_id"] in known else
                       detect(notes[c["claim_id"]], c, describe, histories.get(c["claim_id"]))) for c in rows]
    flagged = sum(bool(f) for _, _, f in clean_findings)
    bases = [(c, n) for c, n, f in clean_findings if not f]
    cases: list[tuple[str, str, Mapping]] = [("clean", n, c) for c, n in bases[: max(per_kind * 4, 40)]]
    for kind, planter in planting.PLANTERS.items():
        made = 0
        for claim, note in bases:
            if made >= per_kind:
                break
            planted = planter(note, claim, rng)
            if planted is not None:
                cases.append((kind, planted[0], planted[1]))
                made += 1
    for kind, planter in planting_journey.PLANTERS.items():
        made = 0
        for claim, note in bases:
            journey = histories.get(claim["claim_id"])
            if made >= per_kind or journey is None or journey.earlier == 0:
                continue
            planted = planter(note, claim, journey, rng, describe)
            if planted is not None:
                cases.append((kind, planted[0], planted[1]))
                made += 1
    found = [detect(note, claim, describe, histories.get(claim["claim_id"])) for _, note, claim in cases]
    kinds = np.array([k for k, _, _ in cases])
    scores = np.array([combined_score(sorted({f.kind for f in fs}), weights=config.judge_weights) for fs in found])
    labels = (kinds != "clean").astype(int)
    expected = {**planting.EXPECTED, **planting_journey.EXPECTED}
    recall = {kind: round(float(np.mean([expected[kind] in {f.kind for f in fs}
                                         for k, fs in zip(kinds, found) if k == kind])), 4)
              for kind in expected if (kinds == kind).any()}
    report = {
        "engine": engine,
        "clean_notes": len(clean_findings),
        "clean_flag_rate": round(flagged / max(len(clean_findings), 1), 4),
        "planted_notes": int(labels.sum()),
        "kinds_planted": len(recall),
        "kinds_missing": [k for k in planting.PLANTERS if k not in recall],  # journey kinds need earlier claims
        "recall": recall,
        "min_recall": min(recall.values()) if recall else 0.0,
        "auroc": _auroc(labels, 1 - scores),
        "llm_auroc": None,
        "llm_failures": 0,
    }
    if llm_judge is not None:
        cap = config.llm_calibration_cases if llm_cases is None else llm_cases
        report.update(_llm_calibration(cases, llm_judge, cap, rng))
    return report


def _llm_calibration(cases, llm_judge: LLMBatch, n: int, rng: random.Random) -> dict:
    clean = [c for c in cases if c[0] == "clean"]
    planted = [c for c in cases if c[0] != "clean"]
    chosen = rng.sample(clean, min(len(clean), n // 2)) + rng.sample(planted, min(len(planted), n - n // 2))
    verdicts = list(llm_judge([(note, claim) for _, note, claim in chosen]))
    labels, scores, failures = [], [], 0
    for (kind, note, _), verdict in zip(chosen, verdicts):
        verdict = LLMJudgeScores.coerce(verdict)
        if verdict is None or rationale_problem(verdict.rationale, note) is not None:
            failures += 1
            verdict_mean = 3.0  # a failed verdict says nothing: the middle of the scale
        else:
            verdict_mean = verdict.mean
        labels.append(int(kind != "clean"))
        scores.append(-verdict_mean)
    return {"llm_auroc": _auroc(np.array(labels), np.array(scores)), "llm_failures": failures,
            "llm_cases": len(chosen), "llm_clean": len(chosen) - sum(labels), "llm_planted": sum(labels)}

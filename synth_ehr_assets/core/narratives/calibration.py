"""Judge calibration: plant mismatched notes (another condition, wrong sex, wrong age group) next to matched
notes and measure how well the combined judge score separates them (AUROC), with deterministic pass shares."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import polars as pl

from synth_ehr_assets.core.narratives.config import NarrativeConfig
from synth_ehr_assets.core.narratives.judge import (
    Embed,
    LLMJudgeScores,
    combined_score,
    deterministic_pass,
    judge_signals,
)
from synth_ehr_assets.core.narratives.knowledge import ClinicalKnowledge

KINDS = ("other_condition", "wrong_sex", "wrong_age_group")


def _moved_age(age: int, claim_id: str) -> int:
    """An age in another age group: adults become children, children become adults."""
    offset = sum(map(ord, claim_id))
    return 4 + offset % 8 if age >= 18 else 35 + offset % 40


def calibration_report(
    claims: pl.DataFrame,
    notes_fn: Callable[[Mapping], str],
    knowledge: ClinicalKnowledge | None = None,
    n: int = 60,
    seed: int = 0,
    config: NarrativeConfig | None = None,
    embed: Embed | None = None,
    llm_judge: Callable[[str, Mapping], LLMJudgeScores | Mapping | None] | None = None,
) -> dict:
    """Plant mismatched notes (another condition, wrong sex, wrong age group) next to matched ones and report
    the combined score's AUROC, overall and per kind, with the deterministic pass shares.

    `notes_fn(claim_row) -> note` is the engine under test; `llm_judge(note, claim)` optionally adds LLM scores.
    """
    from sklearn.metrics import roc_auc_score

    from synth_ehr_assets.core.narratives.groups import condition_group
    from synth_ehr_assets.core.narratives.knowledge import build_knowledge, claim_dx_codes

    config = config or NarrativeConfig()
    sample = claims.sample(min(n, claims.height), seed=seed, shuffle=True) if claims.height > n else claims
    knowledge = knowledge if knowledge is not None else build_knowledge(claim_dx_codes(sample))
    rows = list(sample.iter_rows(named=True))
    cases: list[tuple[str, str, Mapping]] = []  # (kind, note, claim judged against)
    for i, claim in enumerate(rows):
        cases.append(("matched", notes_fn(claim), claim))
        group = condition_group(claim["dx_1"]).key
        donor = next((d for d in rows[i + 1:] + rows[:i]
                      if condition_group(d["dx_1"]).key != group and d["dx_1"][:3] != claim["dx_1"][:3]), None)
        if donor is not None:
            planted = {**donor, "claim_id": claim["claim_id"], "age": claim["age"], "sex": claim["sex"],
                       "claim_type": claim["claim_type"], "los_days": claim.get("los_days")}
            cases.append(("other_condition", notes_fn(planted), claim))
        cases.append(("wrong_sex", notes_fn({**claim, "sex": "F" if claim["sex"] == "M" else "M"}), claim))
        if claim.get("age") is not None:
            moved = _moved_age(claim["age"], str(claim["claim_id"]))
            cases.append(("wrong_age_group", notes_fn({**claim, "age": moved}), claim))
    signals = judge_signals([c[1] for c in cases], [c[2] for c in cases], knowledge, embed)
    scores = np.array([
        combined_score(s, llm_judge(note, claim) if llm_judge else None, config.judge_weights)
        for s, (_, note, claim) in zip(signals, cases)
    ])
    passed = np.array([deterministic_pass(s, config.min_note_relevance) for s in signals])
    kinds = np.array([c[0] for c in cases])
    labels = (kinds == "matched").astype(int)
    report = {
        "auroc": round(float(roc_auc_score(labels, scores)), 4),
        "n_matched": int(labels.sum()),
        "n_mismatched": int((1 - labels).sum()),
        "matched_pass_share": round(float(passed[labels == 1].mean()), 4),
        "mean_score_matched": round(float(scores[labels == 1].mean()), 4),
        "mean_score_mismatched": round(float(scores[labels == 0].mean()), 4),
    }
    for kind in KINDS:
        mask = (kinds == kind) | (labels == 1)
        if (kinds == kind).any():
            report[f"auroc_{kind}"] = round(float(roc_auc_score(labels[mask], scores[mask])), 4)
            report[f"caught_share_{kind}"] = round(float(1 - passed[kinds == kind].mean()), 4)
    return report

"""What the manifest carries for the data card beyond the reports: judge headline figures and sample claims."""

from __future__ import annotations

import polars as pl

from synth_ehr_assets.core.schema import DX_COLUMNS, PX_COLUMNS

SCORES = ("plausibility", "relevance", "coherence")
SAMPLE_FIELDS = ("claim_id", "claim_type", "service_date", "age", "sex", "payer", "provider_specialty",
                 "charge_amount")


def judge_headline(judge_scores: pl.DataFrame) -> dict[str, float]:
    """Mean of each 1-5 score and of the combined score, the share of notes passing the judge and the share with
    any score below 3; empty when no note was judged."""
    if judge_scores.height == 0:
        return {}
    means = {name: judge_scores[name].cast(pl.Float64).mean()
             for name in (*SCORES, "combined_score") if name in judge_scores.columns}
    # the LLM's rubric scores are null when no endpoint judged the notes
    figures = {f"mean_{name}": float(value) for name, value in means.items() if value is not None}
    figures["notes_judged"] = float(judge_scores.height)
    if "passed" in judge_scores.columns:
        figures["pass_share"] = float(judge_scores["passed"].cast(pl.Float64).mean())
    present = [name for name in SCORES if name in judge_scores.columns and judge_scores[name].null_count() == 0]
    if present:
        low = judge_scores.select(pl.min_horizontal(present) < 3).to_series()
        figures["low_note_share"] = float(low.cast(pl.Float64).mean())
    return figures


def sample_claims(claims: pl.DataFrame, notes: pl.DataFrame, judge_scores: pl.DataFrame, seed: int,
                  n: int = 5) -> list[dict]:
    """`n` seeded claims that have a note: the claim's main fields, its codes, the note and the judge's verdict."""
    with_notes = claims.join(notes.select("claim_id", "note"), on="claim_id", how="inner")
    if with_notes.height == 0:
        return []
    picked = with_notes.sort("claim_id").sample(min(n, with_notes.height), seed=seed, shuffle=True)
    verdicts = {}
    if judge_scores.height:
        keep = [c for c in ("claim_id", *SCORES, "passed", "rationale") if c in judge_scores.columns]
        verdicts = {row["claim_id"]: row for row in judge_scores.select(keep).to_dicts()}
    samples = []
    for row in picked.to_dicts():
        verdict = verdicts.get(row["claim_id"], {})
        samples.append({
            **{name: row.get(name) for name in SAMPLE_FIELDS},
            "diagnoses": [row[c] for c in DX_COLUMNS if row.get(c)],
            "procedures": [row[c] for c in PX_COLUMNS if row.get(c)],
            "note": row["note"],
            "judge": {k: v for k, v in verdict.items() if k != "claim_id"},
        })
    return samples

"""LLM-judge calibration: the batch callable `calibration_report` sends planted and clean notes through, and the
AUROC figures measured per judge model on larger samples than a release's (`llm_judge_auroc.json`, written by
`benchmarks/llm_judge_auroc.py --record`). A release weights its LLM judge by the lower of its own sample's
AUROC and the recorded one, so a small lucky sample cannot give a weak judge weight."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path

import polars as pl

RECORDED = Path(__file__).with_name("llm_judge_auroc.json")


def judge_batch(client, seed: int, log=None):
    """[(note, claim)] → the LLM judge's verdicts (dicts of the three scores and the rationale; None where the
    request failed), for `calibration.calibration_report(llm_judge=...)`."""
    from synth_ehr_assets.core.narratives.llm_engine import llm_judge

    def judge(pairs: Sequence[tuple[str, Mapping]]) -> list[dict | None]:
        ids = [f"cal-{i}" for i in range(len(pairs))]
        notes = pl.DataFrame({"claim_id": ids, "note": [n for n, _ in pairs]})
        claims = pl.DataFrame([{**claim, "claim_id": i} for i, (_, claim) in zip(ids, pairs)],
                              infer_schema_length=None)
        scores, stats = llm_judge(notes, claims, client, seed)
        if log is not None:
            log(f"llm judge calibration: {stats.line()}")
        return [{"plausibility": r["llm_plausibility"], "relevance": r["llm_relevance"],
                 "coherence": r["llm_coherence"], "rationale": r["llm_rationale"]} if r["status"] == "ok" else None
                for r in scores.iter_rows(named=True)]

    return judge


@lru_cache(maxsize=1)
def _recorded() -> dict:
    return json.loads(RECORDED.read_text()) if RECORDED.is_file() else {}


def recorded_auroc(model: str | None) -> dict | None:
    """The recorded measurement for a judge model (auroc, cases, clean, planted, failures, command), or None."""
    return _recorded().get(model or "")


def effective_auroc(model: str | None, release_auroc: float | None) -> float | None:
    """AUROC the judge weight reads: the lower of this release's sample and the model's recorded figure (the
    release's alone when nothing is recorded; None when neither was measured)."""
    recorded = recorded_auroc(model)
    figures = [a for a in (release_auroc, recorded["auroc"] if recorded else None) if a is not None]
    return min(figures) if figures else None


def record(model: str, figures: Mapping, path: Path = RECORDED) -> None:
    """Write one model's measurement into the recorded figures (sorted keys, so the diff is the change)."""
    table = json.loads(path.read_text()) if path.is_file() else {}
    table[model] = dict(figures)
    path.write_text(json.dumps(table, indent=2, sort_keys=True) + "\n")
    _recorded.cache_clear()

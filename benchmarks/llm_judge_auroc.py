"""Planted-defect AUROC of the LLM judge on notes the `engine: llm` path wrote (embedded SmolLM2-135M, 1 thread).

    python benchmarks/llm_judge_auroc.py                 # 20 LLM base notes, 120 judged cases
    python benchmarks/llm_judge_auroc.py --record        # also write the figure the judge weight reads

Deterministic sample: `--claims` reference-population claims (seed `--seed`); the first `--bases` by claim id get
notes from `llm_notes` (exemplar few-shot, JSON schema, the detectors reviewing the model's sentences, one
regeneration), exactly as `provider_notes` writes them with `engine: llm`. The notes the model wrote and no
detector objects to are the clean bases; `calibration.calibration_report(engine="llm")` plants every defect kind
into them and the LLM judge (`llm_judge`, greedy, PDSQI-9-style checklist) scores a balanced subset of `--cases`
clean and planted notes. A rationale that is not prose about the note is a failed verdict and scores the middle
of the scale. `--record` writes auroc, case counts and failures to `core/narratives/llm_judge_auroc.json` under
the model's name; `judge_scores` weights the LLM judge by the lower of that figure and its own sample's.
Responses are cached in `--cache` (a re-run with the same arguments sends nothing).

Measured 2026-12-01 on the shared 2-core box (`--bases 40 --cases 100 --per-kind 6 --record`): 40 of 40 LLM notes
accepted by the detectors (23 tokens/s); the detectors caught every planted kind on them (recall 1.0, 17 kinds
planted, no clean flags); the LLM judge scored 40 clean + 50 planted notes with AUROC 0.51, 46 of 90 verdicts
failed (rationale not prose about the note); 549 s wall, 7.8 min CPU.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=300, help="reference claims (the exemplar pool)")
    parser.add_argument("--bases", type=int, default=20, help="claims whose notes the LLM writes")
    parser.add_argument("--cases", type=int, default=120, help="clean + planted notes the LLM judge scores")
    parser.add_argument("--per-kind", type=int, default=6, help="planted notes per defect kind")
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp compute threads")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "synth_ehr_llm_judge_auroc.duckdb"))
    parser.add_argument("--record", action="store_true", help="write the figure to llm_judge_auroc.json")
    args = parser.parse_args()

    import polars as pl
    from narratives import reference_setup

    from synth_ehr_assets.core.narratives import detectors, llm_calibration
    from synth_ehr_assets.core.narratives.cache import ResponseCache
    from synth_ehr_assets.core.narratives.calibration import calibration_report
    from synth_ehr_assets.core.narratives.client import LLMClient, LLMSettings
    from synth_ehr_assets.core.narratives.design import design_note, exemplars
    from synth_ehr_assets.core.narratives.judge import _safe, llm_weight
    from synth_ehr_assets.core.narratives.llm_engine import llm_notes
    from synth_ehr_assets.core.narratives.server import EmbeddedServer

    started = time.perf_counter()
    claims, knowledge, symptoms = reference_setup(args.claims, args.seed)
    bases = claims.sort("claim_id").head(args.bases)
    with EmbeddedServer(threads=args.threads, seed=args.seed) as server, ResponseCache(args.cache) as cache:
        client = LLMClient(LLMSettings(base_url=server.base_url, model=server.model_name, timeout_s=600),
                           cache=cache, log=lambda line: None)
        notes, stats = llm_notes(
            bases, lambda claim: exemplars(claim, claims, 2, knowledge, args.seed), client, args.seed,
            symptoms=symptoms, structured_note_fn=lambda c, found: design_note(c, args.seed, knowledge, found),
            review_fn=detectors.review, max_regenerations=1)
        written = time.perf_counter()
        ok = notes.filter(pl.col("status") == "ok")
        print(f"llm notes: {ok.height} of {bases.height} written by the model and accepted "
              f"({notes.filter(pl.col('status') != 'ok').height} fell back) in {written - started:.0f}s; "
              f"{stats.line()}")
        report = calibration_report(bases, dict(zip(ok["claim_id"], ok["note"])), "llm", args.per_kind, args.seed,
                                    describe=_safe(knowledge.description),
                                    llm_judge=llm_calibration.judge_batch(client, args.seed, print),
                                    llm_cases=args.cases)
        model = server.model_name
    seconds = time.perf_counter() - started
    print(f"detectors on these notes: min recall {report['min_recall']:.3f} over {report['kinds_planted']} kinds, "
          f"clean flag rate {report['clean_flag_rate']:.3f}, AUROC {report['auroc']}")
    print(f"LLM judge ({model}): AUROC {report['llm_auroc']} on {report['llm_cases']} cases "
          f"({report['llm_clean']} clean, {report['llm_planted']} planted), {report['llm_failures']} failed "
          f"verdicts; weight {llm_weight(report['llm_auroc'])}; {seconds:.0f}s in all")
    if args.record:
        llm_calibration.record(model, {
            "auroc": report["llm_auroc"], "cases": report["llm_cases"], "clean": report["llm_clean"],
            "planted": report["llm_planted"], "failures": report["llm_failures"], "notes_engine": "llm",
            "base_notes": ok.height, "seconds": round(seconds), "threads": args.threads,
            "command": "python benchmarks/llm_judge_auroc.py " + " ".join(sys.argv[1:]),
        })
        print(f"recorded in {llm_calibration.RECORDED}")


if __name__ == "__main__":
    main()

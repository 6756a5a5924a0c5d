"""Narrative throughput: LLM notes through the pipeline vs the raw server on the same prompts, and the design engine.

    python benchmarks/narratives.py                     # 8 notes per row, concurrency 1 2 4, 1 llama.cpp thread
    python benchmarks/narratives.py --notes 16 --threads 2 --concurrency 1 4

The embedded llama.cpp server (SmolLM2-135M-Instruct Q4_1, CPU) is started once with as many request slots as
the highest concurrency and without prompt caching (so the run order cannot favour either side). For each
concurrency level the same note prompts (retrieval-augmented few-shot from
design-engine exemplars, JSON-schema constrained) are sent (a) raw: the bare `openai` client, bodies prebuilt,
no cache, no validation; (b) pipeline: `llm_notes` end to end — exemplar retrieval, prompt building, cache
lookups and writes (fresh cache file, so nothing is a hit), retries, pydantic validation, note assembly.
Runs go raw, pipeline, pipeline, raw (ABBA) and each side's two runs are summed, so a drift in the machine's
load hits both alike. Overhead = 1 - pipeline tokens/s ÷ raw tokens/s; same seeds → same answers → same tokens.
The design engine's notes/s is measured on reference claims with its knowledge table prebuilt, and the judge
(`judge_frame`: every clinical detector on every note, no LLM) in seconds per 5,000 design notes, with the share
of sentences that occur verbatim in more than 5% of the notes.

    python benchmarks/narratives.py --design-only       # design engine + judge only (no llama.cpp server)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def reference_setup(n_claims: int, seed: int):
    from synth_ehr_assets.core.narratives.knowledge import build_knowledge, claim_dx_codes
    from synth_ehr_assets.core.narratives.symptoms import accepted_by_claim, symptoms_frame
    from synth_ehr_assets.core.reference import generate_reference_claims

    claims = generate_reference_claims(n_claims, seed, "bench")
    knowledge = build_knowledge(claim_dx_codes(claims), Path(tempfile.gettempdir()) / "synth_ehr_bench_knowledge")
    symptoms = accepted_by_claim(symptoms_frame(claims, knowledge, seed))
    return claims, knowledge, symptoms


def judge_row(claims, knowledge, seed: int) -> None:
    """Seconds of `judge_frame` per 5,000 design notes, notes flagged, and the repeated-sentence share."""
    import polars as pl

    from synth_ehr_assets.core.narratives.design import design_notes
    from synth_ehr_assets.core.narratives.judge import judge_frame
    from synth_ehr_assets.core.narratives.wording import repeated_sentence_share

    notes = design_notes(claims, knowledge, seed)
    judge_frame(notes.head(50), claims, knowledge)  # load the catalog titles once, as a release has
    started = time.perf_counter()
    judged = judge_frame(notes, claims, knowledge)
    seconds = time.perf_counter() - started
    wording = repeated_sentence_share(notes["note"].to_list())
    print(f"judge: {seconds * 5000 / claims.height:.1f} s per 5,000 notes ({claims.height:,} notes in "
          f"{seconds:.1f}s); flagged {int((~judged['passed']).sum())}; sentences in > 5% of notes: "
          f"{wording['repeated_sentence_share']:.1%}")
    flags = judged["flags"].drop_nulls()
    if flags.len():
        print(pl.DataFrame({"flags": flags}).group_by("flags").len().sort("len", descending=True).head(8))


def raw_run(client, requests, concurrency: int) -> dict:
    """The bare server: prebuilt bodies through the openai client, nothing else."""
    from openai import OpenAI

    bodies = [client.request_body(r) for r in requests]
    raw = OpenAI(base_url=client.settings.base_url, api_key="not-needed", max_retries=0, timeout=600)

    def send(body: dict) -> int:
        response = raw.chat.completions.create(**body)
        return response.usage.completion_tokens

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        tokens = sum(pool.map(send, bodies))
    return {"seconds": time.perf_counter() - started, "tokens": tokens, "notes": len(bodies)}


def pipeline_run(base_url: str, model: str, claims, exemplar_fn, note_fn, symptoms, seed: int, concurrency: int):
    from synth_ehr_assets.core.narratives.cache import ResponseCache
    from synth_ehr_assets.core.narratives.client import LLMClient, LLMSettings
    from synth_ehr_assets.core.narratives.llm_engine import llm_notes

    with tempfile.TemporaryDirectory() as folder, ResponseCache(Path(folder) / "llm_cache.duckdb") as cache:
        client = LLMClient(LLMSettings(base_url=base_url, model=model, max_concurrency=concurrency, timeout_s=600),
                           cache=cache, log=lambda line: None)
        started = time.perf_counter()
        notes, stats = llm_notes(claims, exemplar_fn, client, seed, symptoms=symptoms, structured_note_fn=note_fn)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "tokens": stats.completion_tokens, "notes": notes.height,
            "ok": int((notes["status"] == "ok").sum()), "sent": stats.requests_sent, "frame": notes}


def _summed(runs: list[dict]) -> dict:
    total = {key: sum(run[key] for run in runs) for key in ("seconds", "tokens", "notes")}
    if "ok" in runs[0]:
        total.update(ok=sum(r["ok"] for r in runs), sent=sum(r["sent"] for r in runs), frame=runs[0]["frame"])
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notes", type=int, default=8, help="LLM notes per row")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp compute threads")
    parser.add_argument("--design-claims", type=int, default=2000, help="claims for the design-engine row")
    parser.add_argument("--judge-claims", type=int, default=5000, help="design notes the judge row scores")
    parser.add_argument("--design-only", action="store_true", help="skip the LLM rows")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    import polars as pl

    from synth_ehr_assets.core.narratives.design import design_note, exemplars, notes_per_second
    from synth_ehr_assets.core.narratives.llm_engine import note_requests
    from synth_ehr_assets.core.narratives.server import EmbeddedServer
    from synth_ehr_assets.core.narratives.client import LLMClient, LLMSettings

    started = time.perf_counter()
    claims, knowledge, symptoms = reference_setup(max(args.design_claims, args.judge_claims, 200), args.seed)
    print(f"setup: {claims.height:,} reference claims, knowledge for {len(knowledge.dx_codes):,} codes "
          f"in {time.perf_counter() - started:.1f}s")
    design_rate = notes_per_second(claims.head(args.design_claims), knowledge, args.seed)
    print(f"design engine: {design_rate:,.0f} notes/s ({args.design_claims:,} claims, knowledge prebuilt)")
    judge_row(claims.head(args.judge_claims), knowledge, args.seed)
    if args.design_only:
        return

    pool = claims.head(200)
    sample = pool.sample(args.notes, seed=args.seed).sort("claim_id")
    exemplar_fn = lambda claim: exemplars(claim, pool, 2, knowledge, args.seed)  # noqa: E731
    note_fn = lambda claim, found: design_note(claim, args.seed, knowledge, found)  # noqa: E731

    rows, sample_note = [], None
    with EmbeddedServer(threads=args.threads, parallel=max(args.concurrency), seed=args.seed,
                        cache_prompt=False) as server:
        client = LLMClient(LLMSettings(base_url=server.base_url, model=server.model_name), log=lambda line: None)
        requests, _ = note_requests(sample, exemplar_fn, args.seed, symptoms)
        raw_run(client, requests[:1], 1)  # warm-up: page in the model
        for concurrency in args.concurrency:
            runs = {"raw": [], "pipeline": []}
            for side in ("raw", "pipeline", "pipeline", "raw"):
                runs[side].append(raw_run(client, requests, concurrency) if side == "raw" else pipeline_run(
                    server.base_url, server.model_name, sample, exemplar_fn, note_fn, symptoms, args.seed,
                    concurrency))
            raw, piped = (_summed(runs[side]) for side in ("raw", "pipeline"))
            sample_note = sample_note or piped["frame"].filter(pl.col("status") == "ok")["note"].head(1).to_list()
            for mode, run in (("raw server", raw), ("pipeline", piped)):
                rows.append({"mode": mode, "concurrency": concurrency, "notes": run["notes"],
                             "seconds": round(run["seconds"], 1), "tokens": run["tokens"],
                             "tokens/s": round(run["tokens"] / run["seconds"], 1),
                             "notes/min": round(60 * run["notes"] / run["seconds"], 1)})
            overhead = 1 - rows[-1]["tokens/s"] / rows[-2]["tokens/s"] if rows[-2]["tokens/s"] else float("nan")
            rows[-1]["overhead"] = f"{overhead:+.1%}"
            rows[-1]["ok/sent"] = f"{piped['ok']}/{piped['sent']}"
    table = pl.DataFrame(rows)
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=140):
        print(f"\nLLM notes, embedded SmolLM2-135M-Instruct Q4_1, {args.threads} thread(s), "
              f"{os.cpu_count()} CPUs visible")
        print(table)
    if sample_note:
        print("\nsample pipeline note (verbatim):\n" + sample_note[0])


if __name__ == "__main__":
    main()

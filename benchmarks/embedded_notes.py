"""Quality of the embedded default LLM: symptoms → notes → judge through the real narrative assets.

    python benchmarks/embedded_notes.py --notes 30

Materializes `synthetic_symptoms`, `provider_notes` and `judge_scores` with `narratives.engine: llm` on the
embedded llama.cpp server (SmolLM2-135M-Instruct, 1 thread) for a sample of reference-population claims, in
temporary stores, and prints: share of LLM notes that passed the deterministic checks (principal diagnosis
mentioned, demographics consistent, embedding relevance, no PHI), failures by reason, the judge calibration
AUROC on planted mismatches, and notes per minute.
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notes", type=int, default=30, help="claims that get LLM narratives")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="synth_ehr_embedded_notes_"))
    for name, relative in (("DUCKDB_PATH", "warehouse.duckdb"), ("LANCEDB_URI", "lancedb"),
                           ("ARTIFACT_DIR", "artifacts"), ("RELEASE_DIR", "releases")):
        os.environ[f"SYNTH_EHR_{name}"] = str(folder / relative)
    os.environ["SYNTH_EHR_MLFLOW_URI"] = f"sqlite:///{folder / 'mlflow.db'}"
    (folder / "releases").mkdir()
    (folder / "releases" / "embedded.yaml").write_text(
        f"seed: {args.seed}\nrows: {args.notes}\nnarratives: {{engine: llm, sample_size: {args.notes}}}\n"
    )

    import dagster as dg
    import duckdb
    import polars as pl

    from synth_ehr_assets.definitions import build_resources
    from synth_ehr_assets.defs import narratives
    from synth_ehr_assets.defs.partitions import release_partitions
    from synth_ehr_assets.io.duckdb_io import RELEASE_PARTITION_METADATA

    @dg.asset(name="synthetic_claims", partitions_def=release_partitions, metadata=RELEASE_PARTITION_METADATA)
    def reference_claims(context: dg.AssetExecutionContext) -> pl.DataFrame:
        from synth_ehr_assets.core.reference import generate_reference_claims

        return generate_reference_claims(max(300, args.notes * 5), seed=args.seed, release_id=context.partition_key)

    started = time.perf_counter()
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("release", ["embedded"])
        result = dg.materialize([reference_claims, *dg.load_assets_from_modules([narratives])],
                                partition_key="embedded", instance=instance, resources=build_resources(),
                                raise_on_error=False)
    seconds = time.perf_counter() - started
    with duckdb.connect(os.environ["SYNTH_EHR_DUCKDB_PATH"], read_only=True) as con:
        notes = con.sql("select * from synth_ehr.provider_notes").pl()
        judged = con.sql("select * from synth_ehr.judge_scores").pl()
    meta = {e.asset_key.to_user_string(): e.materialization.metadata for e in result.get_asset_materialization_events()}
    llm_notes = notes.filter(pl.col("engine") != "design_fallback")
    passed = judged.join(llm_notes.select("claim_id"), on="claim_id")["passed"]
    print(f"run success: {result.success}; {notes.height} notes in {seconds:.0f}s "
          f"({notes.height / seconds * 60:.1f} notes/min end to end, model load and judge included)")
    print(f"engines: {dict(notes.group_by('engine').len().iter_rows())}; "
          f"status: {dict(notes.group_by('status').len().iter_rows())}")
    print(f"LLM notes passing the deterministic checks: {passed.mean():.1%} of {passed.len()}")
    print(f"judge calibration AUROC: {meta['judge_scores']['calibration_auroc'].value:.3f}")
    print(f"mean LLM judge scores: plausibility {judged['plausibility'].mean():.2f}, "
          f"relevance {judged['relevance'].mean():.2f}, coherence {judged['coherence'].mean():.2f}")
    failed = judged.filter(~pl.col("passed"))
    if failed.height:
        print("failing notes (claim, dx mentioned, demographics ok, detector flags, phi hits):")
        for row in failed.select("claim_id", "dx_mentioned", "demographics_ok", "flags",
                                 "phi_hits").iter_rows():
            print("  ", row)
    print("\nsample LLM note:\n" + (llm_notes["note"][0] if llm_notes.height else "(none)"))


if __name__ == "__main__":
    main()

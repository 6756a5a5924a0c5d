"""The `journey` synthesizer against MOSTLY AI's TabularARGN in its sequential mode on reference patients (issue 15
item 7).

    python benchmarks/journeys_vs_argn.py                             # 50,000 claims, split 80/20 by patient
    python benchmarks/journeys_vs_argn.py --claims 5000 --save NAME --keep DIR
    python benchmarks/journeys_vs_argn.py --rescore DIR               # score the samples a --keep run left in DIR

One protocol for both methods: the same seeded 80/20 split of the same reference claims by patient (no patient on
both sides), 10% of the train patients held back for each method's early stopping (TabularARGN does its own 80/20
split of what it is given: its default), CPU, each method fitted and sampled in its own process (peak RSS its own).

- synth-ehr: `synthesizer.kind: journey` with the release defaults (`JourneySynthesizer`, the latent GAN for claim
  content plus the journey model), sampled through the release path (`synthesize_claims`: principal plan, edits,
  privacy filters, the journey assembly of all kept rows), as many claims as train has. Fit time includes the code
  embeddings.
- TabularARGN: two models, as mostlyai-engine fits two tables: a flat model of the patients (sex, region and payer,
  which are constant per reference patient) and a sequential model of each patient's claims (the other claim columns,
  codes as categoricals, the service date as a datetime) with the patient table as context; as many synthetic
  patients as train has, their claims generated from the synthetic patients. Engine defaults otherwise.

Scores: the journey figures of `core/evaluation/journeys.py` (against the train patients; the real holdout patients
scored the same way are the null level) on whole synthetic patients drawn to hold as many claims as the holdout
(a share-based figure such as the transition R² rises with the number of claims scored, so a larger sample would
look better than the holdout for no other reason; the R² of all synthetic patients is printed beside it), averaged
over 10 seeded draws of such patients (`transition_r2_sd`: their spread), and the claim-level scores of `bench_scores.evaluate`
(sdmetrics quality, code-prevalence R², inpatient TSTR, DCR overfitting protection, code structure, validity).
The targets (issue 15): transition R² ≥ 0.9 × the real holdout's and ≥ TabularARGN's; every other journey figure
within 10% of the real holdout's; fit ≤ 10 minutes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

METHODS = ("synth_ehr_journey", "tabular_argn_sequential")
RESULTS = Path(__file__).resolve().parent / "results"
PATIENT_COLUMNS = ("sex", "region", "payer")  # constant per reference patient: TabularARGN's context table
NULL = "real holdout (null)"
MATCHED_DRAWS = 10


def _validation_split(train, seed: int):
    """(fit rows, validation rows): 10% of the train patients held back for early stopping."""
    import polars as pl

    patients = train["patient_id"].unique().sort().sample(fraction=0.1, seed=seed + 7).implode()
    return train.filter(~pl.col("patient_id").is_in(patients)), train.filter(pl.col("patient_id").is_in(patients))


def run_journey(train, holdout, rows: int, seed: int, out: Path) -> dict:
    import polars as pl

    from synthesizer_vs_sdv import code_vector_index

    from synth_ehr_assets.core.spec import parse_spec
    from synth_ehr_assets.core.synth.claims import (CONDITION_COLUMN, MODEL_COLUMN_KINDS, model_frame,
                                                  release_blocks, synthesize_claims)
    from synth_ehr_assets.core.synth.journey import JourneySynthesizer

    started = time.perf_counter()
    index = code_vector_index(pl.concat([train, holdout]))
    embed_seconds = time.perf_counter() - started
    spec = parse_spec({"rows": rows, "seed": seed, "synthesizer": {"kind": "journey"}}, "bench")
    model = JourneySynthesizer(MODEL_COLUMN_KINDS, spec.synthesizer, seed, index.vector_of, CONDITION_COLUMN)
    fitted, validation = _validation_split(train, seed)
    fit = model.fit(model_frame(fitted).with_columns(fitted["patient_id"]), model_frame(validation))
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    synthetic, report = synthesize_claims(model, rows, code_index=index, train_claims=train, **release_blocks(spec))
    synthetic.write_parquet(out)
    return {"fit_s": fit_seconds, "embed_s": embed_seconds, "sample_s": time.perf_counter() - started,
            "gan_epochs": fit.gan["epochs_run"], "gan_stop": fit.gan["stopped_reason"],
            "rejection_rate": report["rejection_rate"], "rounds": report["rounds"],
            "assembly": {k: v for k, v in model.release_assembly.items() if isinstance(v, (int, float))}}


def _engine_fit(ws: Path, device: str, **split) -> None:
    from mostlyai import engine

    engine.split(workspace_dir=ws, **split)
    engine.analyze(workspace_dir=ws)
    engine.encode(workspace_dir=ws)
    engine.train(workspace_dir=ws, device=device)


def run_argn_sequential(train, seed: int, out: Path) -> dict:
    import pandas as pd
    import polars as pl
    from mostlyai import engine

    from sdv_fit import prepare_frame
    from synth_ehr_assets.core.synth.claims import CLAIM_COLUMN_KINDS

    patients = train.group_by("patient_id").agg(pl.col(c).first() for c in PATIENT_COLUMNS).sort("patient_id")
    claim_columns = [c for c in CLAIM_COLUMN_KINDS if c not in PATIENT_COLUMNS]
    claims = prepare_frame(train.select("patient_id", *claim_columns).to_pandas())
    engine.init_logging()
    engine.set_random_state(seed)
    with tempfile.TemporaryDirectory(dir=out.parent) as scratch:
        flat, sequential = Path(scratch) / "patients-ws", Path(scratch) / "claims-ws"
        started = time.perf_counter()
        _engine_fit(flat, "cpu", tgt_data=patients.to_pandas(), tgt_primary_key="patient_id")
        _engine_fit(sequential, "cpu", tgt_data=claims, ctx_data=patients.to_pandas(), tgt_context_key="patient_id",
                    ctx_primary_key="patient_id")
        fit_seconds = time.perf_counter() - started
        started = time.perf_counter()
        engine.generate(workspace_dir=flat, sample_size=patients.height, device="cpu")
        synthetic_patients = pd.read_parquet(flat / "SyntheticData")
        engine.generate(workspace_dir=sequential, ctx_data=synthetic_patients, device="cpu")
        synthetic_claims = pd.read_parquet(sequential / "SyntheticData")
        sample_seconds = time.perf_counter() - started
    synthetic = pl.from_pandas(synthetic_claims).join(pl.from_pandas(synthetic_patients), on="patient_id", how="left")
    synthetic.with_columns(pl.col("patient_id").cast(pl.String)).write_parquet(out)
    return {"fit_s": fit_seconds, "sample_s": sample_seconds, "patients_generated": float(patients.height)}


def single(args) -> None:
    import polars as pl

    from synthesizer_vs_sdv import peak_rss_mib

    threads = os.environ.get("SYNTH_EHR_TORCH_THREADS")
    if threads and args.single != "synth_ehr_journey":  # synth-ehr reads it itself
        import torch

        torch.set_num_threads(int(threads))
    train, holdout = (pl.read_parquet(args.workdir / f"{side}.parquet") for side in ("train", "holdout"))
    out = args.workdir / f"{args.single}.parquet"
    if args.single == "synth_ehr_journey":
        result = run_journey(train, holdout, args.rows, args.seed, out)
    else:
        result = run_argn_sequential(train, args.seed, out)
    result["peak_rss_mib"] = peak_rss_mib()
    print("RESULT " + json.dumps(result), flush=True)


def matched_patients(synthetic, claims: int, seed: int):
    """Whole synthetic patients drawn (seeded) until they hold about `claims` claims: a share-based figure such as
    the transition R² is noisier on fewer claims, so each sample is scored at the real holdout's size."""
    import polars as pl

    patients = synthetic.group_by("patient_id").agg(n=pl.len()).sort("patient_id").sample(
        fraction=1.0, shuffle=True, seed=seed)
    chosen = patients.filter(pl.col("n").cum_sum().shift(fill_value=0) < claims)["patient_id"]
    return synthetic.filter(pl.col("patient_id").is_in(chosen.implode()))


def score(train, holdout, synthetic, seed: int) -> dict:
    """The journey figures (against train) on synthetic patients holding the holdout's number of claims, averaged
    over `MATCHED_DRAWS` draws of those patients (one draw moves the transition R² by about ±0.012), the
    transition R² of all synthetic patients beside them, and the claim-level scores of the whole sample."""
    import numpy as np
    from bench_scores import evaluate

    from synth_ehr_assets.core import schema
    from synth_ehr_assets.core.evaluation.journey_tstr import admission_tstr
    from synth_ehr_assets.core.evaluation.journeys import journey_figures

    synthetic = schema.conform(synthetic)
    figures, _ = evaluate(train, holdout, synthetic, seed)
    draws = [journey_figures(train, matched_patients(synthetic, holdout.height, seed + d)) for d in range(MATCHED_DRAWS)]
    journeys = {f"journey.{k}": float(np.mean([f[k] for f in draws])) for k in draws[0]}
    journeys["journey.transition_r2_sd"] = float(np.std([f["transition_r2"] for f in draws]))
    journeys["journey.transition_r2_all_patients"] = journey_figures(train, synthetic)["transition_r2"]
    journeys["journey.admission_180d_auc"] = admission_tstr(train, holdout, synthetic, seed)["tstr"]
    return {**figures, **journeys, "claims": float(synthetic.height)}


def null_scores(train, holdout, seed: int) -> dict:
    from bench_scores import evaluate_null

    from synth_ehr_assets.core.evaluation.journey_tstr import admission_tstr
    from synth_ehr_assets.core.evaluation.journeys import journey_figures

    figures, _ = evaluate_null(train, holdout, seed)
    return {**figures, **{f"journey.{k}": v for k, v in journey_figures(train, holdout).items()},
            "journey.admission_180d_auc": admission_tstr(train, holdout, train, seed)["trtr"],
            "claims": float(holdout.height)}


JOURNEY_ROWS = ("claims_per_patient_p50", "claims_per_patient_p90", "gap_days_p50", "gap_days_p90",
                "chronic_persistence", "transition_r2", "admission_followup_30d", "violating_patients",
                "admission_180d_auc")
SIDE_ROWS = ("journey.transition_r2_sd", "journey.transition_r2_all_patients", "journey.patients")
CLAIM_ROWS = ("quality", "dx1_r2", "tstr_auc", "dcr_overfit", "claims", "fit_s", "sample_s", "rows_per_s",
              "peak_rss_mib")


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.3f}" if isinstance(value, float) and abs(value) < 10 else f"{value:,.0f}"


def report(header: str, results: dict) -> str:
    """Markdown tables (methods as columns, the null level first) and the issue's targets, checked."""
    names = [NULL] + [m for m in results if m != NULL]
    lines = [header, "", "| figure | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for key in [f"journey.{k}" for k in JOURNEY_ROWS] + list(SIDE_ROWS) + list(CLAIM_ROWS):
        lines.append(f"| {key} | " + " | ".join(_cell(results[n].get(key)) for n in names) + " |")
    lines += ["", *targets(results)]
    return "\n".join(lines)


def targets(results: dict) -> list[str]:
    ours, null = results.get("synth_ehr_journey"), results[NULL]
    if not ours:
        return []
    peer = results.get("tabular_argn_sequential", {})
    r2, bar = ours["journey.transition_r2"], 0.9 * null["journey.transition_r2"]
    lines = [f"- transition R² {r2:.3f} ≥ 0.9 × holdout {bar:.3f}: {'yes' if r2 >= bar else 'NO'}"]
    if peer:
        lines.append(f"- transition R² ≥ TabularARGN's {peer['journey.transition_r2']:.3f}: "
                     f"{'yes' if r2 >= peer['journey.transition_r2'] else 'NO'}")
    for name in JOURNEY_ROWS:
        if name == "transition_r2":
            continue
        value, real = ours[f"journey.{name}"], null[f"journey.{name}"]
        off = (value - real) / abs(real) if real else (0.0 if value == real else math.inf)
        lines.append(f"- {name} {value:.3f} within 10% of holdout {real:.3f}: {'yes' if abs(off) <= 0.1 else 'NO'} "
                     f"({off:+.1%})")
    lines.append(f"- fit {ours['fit_s']:.0f} s ≤ 600 s: {'yes' if ours['fit_s'] <= 600 else 'NO'}")
    return lines


def split(claims_count: int, seed: int):
    from synth_ehr_assets.core.reference import generate_reference_claims
    from synth_ehr_assets.core.synth.synthesizer import split_rows

    claims = generate_reference_claims(claims_count, seed=seed, release_id="bench").sort("claim_id")
    train_rows, holdout_rows = split_rows(claims.height, 0.2, seed, claims["patient_id"])
    return claims[train_rows], claims[holdout_rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=50_000, help="reference-population claims (80%% of patients train)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--save", metavar="NAME", help="keep command, figures and tables in benchmarks/results/NAME")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep the split, samples and timings in DIR")
    parser.add_argument("--rescore", type=Path, metavar="DIR", help="score the samples a --keep run left in DIR")
    parser.add_argument("--single", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.single:
        single(args)
        return 0
    import polars as pl

    from bench_scores import save

    command_line = "python benchmarks/journeys_vs_argn.py " + shlex.join(sys.argv[1:])
    workdir = args.rescore or args.keep or Path(tempfile.mkdtemp(prefix="journeys-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if args.rescore:
        train, holdout = (pl.read_parquet(workdir / f"{side}.parquet") for side in ("train", "holdout"))
        timings = json.loads((workdir / "timings.json").read_text())
    else:
        train, holdout = split(args.claims, args.seed)
        train.write_parquet(workdir / "train.parquet")
        holdout.write_parquet(workdir / "holdout.parquet")
        kept = workdir / "timings.json"  # methods run earlier into the same --keep DIR stay (same seed, same split)
        timings = json.loads(kept.read_text()) if kept.exists() else {}
    header = (f"{train.height + holdout.height:,} reference claims split by patient: {train.height:,} train claims "
              f"({train['patient_id'].n_unique():,} patients) / {holdout.height:,} holdout "
              f"({holdout['patient_id'].n_unique():,}); {os.cpu_count()} CPUs, "
              f"SYNTH_EHR_TORCH_THREADS={os.environ.get('SYNTH_EHR_TORCH_THREADS', 'unset')}")
    print(header, flush=True)
    results = {NULL: null_scores(train, holdout, args.seed)}
    for method in args.methods if not args.rescore else list(timings):
        if not args.rescore:
            command = [sys.executable, __file__, "--single", method, "--workdir", str(workdir),
                       "--rows", str(train.height), "--seed", str(args.seed)]
            output = subprocess.run(command, capture_output=True, text=True, check=False)
            line = next((ln for ln in output.stdout.splitlines() if ln.startswith("RESULT ")), None)
            if output.returncode or line is None:
                print(f"{method} failed:\n{output.stderr[-3000:]}", flush=True)
                continue
            timings[method] = json.loads(line[7:])
            (workdir / "timings.json").write_text(json.dumps(timings, indent=1))
        synthetic = pl.read_parquet(workdir / f"{method}.parquet")
        results[method] = {**timings[method], **score(train, holdout, synthetic, args.seed)}
        results[method]["rows_per_s"] = synthetic.height / timings[method]["sample_s"]
        print(f"{method}: done", flush=True)
    text = report(header, results)
    print("\n" + text)
    if args.save:
        save(RESULTS / args.save, command_line, results, {}, text)
        print(f"\nsaved under {RESULTS / args.save}")
    return 0 if len(results) == len(args.methods) + 1 or args.rescore else 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())

"""synth-ehr's synthesizer against SDV's GaussianCopula and CTGAN on reference-population claims (issue 3 item 7).

    python benchmarks/synthesizer_vs_sdv.py                       # 50,000 claims, 40,000 synthetic rows each
    python benchmarks/synthesizer_vs_sdv.py --claims 5000 --ctgan-epochs 50 --big-rows 0

One protocol for every method: the same seeded 80/20 train/holdout split of the same claims, the same modelled
columns (SDV sees diagnosis/procedure slots as categoricals), the same number of synthetic rows, the same
scorers (`core/evaluation`: sdmetrics quality, code-prevalence R², DCR overfitting protection; TSTR below).
Each method fits and samples in its own process so peak RSS is its own. synth-ehr's fit time includes embedding
the code descriptions; its sampling time includes nearest-code mapping, clinical edits with resampling and the
privacy filters. `--big-rows` also times synth-ehr producing that many claims (goal: 1,000,000 in ≤ 120 s).
SDV is the optional `bench` extra (`pip install -e .[bench]`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

METHODS = ("synth_ehr", "gaussian_copula", "ctgan")
EVAL_ROWS = 10_000  # sdmetrics quality / TSTR rows per side
DCR_ROWS = 2_000  # sdmetrics DCR is quadratic: synthetic queries and reference rows per side
LEAKY_FEATURES = ("claim_type=", "los_days", "px:", "px_count", "provider_specialty=", "log_")  # setting and money


def modelled(claims):
    from synth_ehr_assets.core.synth.claims import CLAIM_COLUMN_KINDS

    return claims.select(list(CLAIM_COLUMN_KINDS))


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def code_vector_index(claims):
    """Description embeddings of every code in `claims` (ICD-10-CM and the reference procedures)."""
    import polars as pl

    from synth_ehr_assets.core import codes, schema
    from synth_ehr_assets.core.embeddings import embed_texts
    from synth_ehr_assets.core.reference import REFERENCE_PROCEDURES
    from synth_ehr_assets.core.vector_store import NearestCodeIndex

    used = pl.concat([claims[c] for c in schema.DX_COLUMNS + schema.PX_COLUMNS]).drop_nulls().unique().sort().to_list()
    texts = [codes.describe(code) or REFERENCE_PROCEDURES.get(code) or f"procedure {code}" for code in used]
    return NearestCodeIndex(used, embed_texts(texts))


def run_synth_ehr(train, holdout, rows: int, seed: int, big_rows: int, out: Path) -> dict:
    import polars as pl

    from synth_ehr_assets.core.spec import parse_spec
    from synth_ehr_assets.core.synth.claims import CLAIM_COLUMN_KINDS, CONDITION_COLUMN, synthesize_claims
    from synth_ehr_assets.core.synth.synthesizer import TableSynthesizer

    started = time.perf_counter()
    index = code_vector_index(pl.concat([train, holdout]))
    embed_seconds = time.perf_counter() - started
    spec = parse_spec({"rows": rows, "seed": seed}, "bench")
    model = TableSynthesizer(CLAIM_COLUMN_KINDS, spec.synthesizer, seed, index.vector_of, CONDITION_COLUMN)
    fit = model.fit(modelled(train), modelled(holdout))
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    synthetic, report = synthesize_claims(model, rows, spec, index, train)
    sample_seconds = time.perf_counter() - started
    synthetic.write_parquet(out)
    result = {
        "fit_s": fit_seconds,
        "embed_s": embed_seconds,
        "sample_s": sample_seconds,
        "gan_epochs": fit.gan["epochs_run"],
        "gan_stop": fit.gan["stopped_reason"],
        "rejection_rate": report["rejection_rate"],
        "top_rejections": dict(sorted(report["rejection_rate_by_rule"].items(), key=lambda kv: -kv[1])[:3]),
    }
    if big_rows:
        big_spec = parse_spec({"rows": big_rows, "seed": seed + 1}, "bench")
        started = time.perf_counter()
        big, _ = synthesize_claims(model, big_rows, big_spec, index, train)
        result.update(big_rows=big.height, big_s=time.perf_counter() - started)
        del big
    return result


def run_sdv(method: str, train, rows: int, seed: int, ctgan_epochs: int, out: Path) -> dict:
    import numpy as np
    import torch
    from sdv.metadata import Metadata
    from sdv.single_table import CTGANSynthesizer, GaussianCopulaSynthesizer

    from synth_ehr_assets.core.synth.claims import CLAIM_COLUMN_KINDS

    sdtypes = {"numerical": "numerical", "categorical": "categorical", "icd10cm": "categorical"}
    columns = {name: {"sdtype": sdtypes[kind]} for name, kind in CLAIM_COLUMN_KINDS.items()}
    columns["service_date"] = {"sdtype": "datetime", "datetime_format": "%Y-%m-%d"}
    metadata = Metadata.load_from_dict({"tables": {"claims": {"columns": columns}}})
    frame = modelled(train).to_pandas()
    np.random.seed(seed)
    torch.manual_seed(seed)
    started = time.perf_counter()
    if method == "ctgan":
        model = CTGANSynthesizer(metadata, epochs=ctgan_epochs, enable_gpu=False, verbose=False)
    else:
        model = GaussianCopulaSynthesizer(metadata)
    model.fit({"claims": frame})  # SDV 2 takes {table name: DataFrame}
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    synthetic = model.sample(num_rows=rows)
    if isinstance(synthetic, dict):
        synthetic = synthetic["claims"]
    sample_seconds = time.perf_counter() - started
    import polars as pl

    pl.from_pandas(synthetic).write_parquet(out)
    return {"fit_s": fit_seconds, "sample_s": sample_seconds}


def single(method: str, workdir: Path, rows: int, seed: int, ctgan_epochs: int, big_rows: int) -> None:
    import polars as pl

    train, holdout = pl.read_parquet(workdir / "train.parquet"), pl.read_parquet(workdir / "holdout.parquet")
    out = workdir / f"{method}.parquet"
    if method == "synth_ehr":
        result = run_synth_ehr(train, holdout, rows, seed, big_rows, out)
    else:
        result = run_sdv(method, train, rows, seed, ctgan_epochs, out)
    result["peak_rss_mib"] = peak_rss_mib()
    print("RESULT " + json.dumps(result), flush=True)


def inpatient_tstr(train, holdout, synthetic, seed: int) -> tuple[float, float]:
    """ROC AUC on the real holdout of "inpatient or not" trained on synthetic (TSTR) and on real rows (TRTR),
    from demographics, payer, region, date and diagnoses only: the setting's giveaways (claim type, stay,
    procedures, specialty, amounts) are hidden from the model."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    from synth_ehr_assets.core.evaluation.features import ClaimEncoder
    from synth_ehr_assets.core.evaluation.sdmetrics_bridge import subsample

    rows = min(EVAL_ROWS, train.height, synthetic.height)
    real, synth = subsample(train, rows, seed), subsample(synthetic, rows, seed + 1)
    encoder = ClaimEncoder.fit(train)
    keep = [i for i, name in enumerate(encoder.feature_names) if not name.startswith(LEAKY_FEATURES)]

    def auc(fit_rows) -> float:
        labels = (fit_rows["claim_type"] == "inpatient").to_numpy()
        truth = (holdout["claim_type"] == "inpatient").to_numpy()
        if labels.min() == labels.max():
            return math.nan
        model = LogisticRegression(max_iter=1000, random_state=seed)
        model.fit(encoder.transform(fit_rows)[:, keep], labels)
        return float(roc_auc_score(truth, model.predict_proba(encoder.transform(holdout)[:, keep])[:, 1]))

    return auc(synth), auc(real)


def evaluate(train, holdout, synthetic, seed: int) -> dict:
    from synth_ehr_assets.core import schema
    from synth_ehr_assets.core.evaluation.fidelity import prevalence_agreement
    from synth_ehr_assets.core.evaluation.sdmetrics_bridge import dcr_protection, quality_report, subsample

    synthetic = schema.conform(synthetic)
    quality = quality_report(subsample(train, EVAL_ROWS, seed), subsample(synthetic, EVAL_ROWS, seed + 1), seed)
    r2, _, _ = prevalence_agreement(train, synthetic, principal_only=True)
    tstr, trtr = inpatient_tstr(train, holdout, synthetic, seed)
    dcr = dcr_protection(train, holdout, synthetic, seed, DCR_ROWS, DCR_ROWS)
    return {
        "quality": quality["quality_score"],
        "shapes": quality["column_shapes_score"],
        "pairs": quality["column_pair_trends_score"],
        "dx1_r2": r2,
        "tstr_auc": tstr,
        "trtr_auc": trtr,
        "dcr_overfit": dcr["dcr_overfitting_protection"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=50_000, help="reference-population claims (80%% train)")
    parser.add_argument("--rows", type=int, default=None, help="synthetic rows per method (default: train size)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--ctgan-epochs", type=int, default=300, help="SDV's default is 300")
    parser.add_argument("--big-rows", type=int, default=1_000_000, help="also time synth-ehr at this size (0 = skip)")
    parser.add_argument("--single", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.single:
        single(args.single, args.workdir, args.rows, args.seed, args.ctgan_epochs, args.big_rows)
        return 0

    import polars as pl

    from synth_ehr_assets.core.reference import generate_reference_claims
    from synth_ehr_assets.core.synth.synthesizer import split_rows

    claims = generate_reference_claims(args.claims, seed=args.seed, release_id="bench").sort("claim_id")
    train_rows, holdout_rows = split_rows(claims.height, 0.2, args.seed)
    train, holdout = claims[train_rows], claims[holdout_rows]
    rows = args.rows or train.height
    print(
        f"{claims.height:,} reference claims: {train.height:,} train / {holdout.height:,} holdout; "
        f"{rows:,} synthetic rows per method; {os.cpu_count()} CPUs",
        flush=True,
    )
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        train.write_parquet(workdir / "train.parquet")
        holdout.write_parquet(workdir / "holdout.parquet")
        for method in args.methods:
            command = [
                sys.executable,
                __file__,
                "--single",
                method,
                "--workdir",
                str(workdir),
                "--rows",
                str(rows),
                "--seed",
                str(args.seed),
                "--ctgan-epochs",
                str(args.ctgan_epochs),
                "--big-rows",
                str(args.big_rows),
            ]
            output = subprocess.run(command, capture_output=True, text=True, check=False)
            line = next((ln for ln in output.stdout.splitlines() if ln.startswith("RESULT ")), None)
            if output.returncode or line is None:
                print(f"{method} failed:\n{output.stderr[-3000:]}", flush=True)
                continue
            results[method] = json.loads(line[7:])
            synthetic = pl.read_parquet(workdir / f"{method}.parquet")
            results[method].update(evaluate(train, holdout, synthetic, args.seed))
            results[method]["rows_per_s"] = rows / results[method]["sample_s"]
            print(
                f"{method}: done ({json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in results[method].items()})})",
                flush=True,
            )
    print_table(results)
    return 0 if len(results) == len(args.methods) else 1


def print_table(results: dict) -> None:
    columns = [
        ("quality", "quality"),
        ("shapes", "col shapes"),
        ("pairs", "pair trends"),
        ("dx1_r2", "dx_1 R²"),
        ("tstr_auc", "TSTR AUC"),
        ("trtr_auc", "TRTR AUC"),
        ("dcr_overfit", "DCR overfit"),
        ("fit_s", "fit s"),
        ("rows_per_s", "sample rows/s"),
        ("peak_rss_mib", "peak RSS MiB"),
    ]
    print("\n| method | " + " | ".join(title for _, title in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for method, figures in results.items():
        cells = [
            f"{figures[key]:,.0f}"
            if key in ("rows_per_s", "peak_rss_mib")
            else f"{figures[key]:.3f}"
            if key != "fit_s"
            else f"{figures[key]:.1f}"
            for key, _ in columns
        ]
        print(f"| {method} | " + " | ".join(cells) + " |")
    ours = results.get("synth_ehr", {})
    if "big_rows" in ours:
        print(
            f"\nsynth_ehr: {ours['big_rows']:,} claims (sampling, code mapping, edits, privacy filters) in "
            f"{ours['big_s']:.1f}s (goal ≤ 120s); fit includes {ours['embed_s']:.1f}s of code embeddings; "
            f"GAN {ours['gan_epochs']} epochs ({ours['gan_stop']}); rejection rate {ours['rejection_rate']:.3f}, "
            f"largest per rule: {', '.join(f'{k} {v:.3f}' for k, v in ours['top_rejections'].items())}"
        )


if __name__ == "__main__":
    sys.exit(main())

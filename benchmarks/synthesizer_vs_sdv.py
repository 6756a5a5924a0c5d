"""synth-ehr's synthesizer against SDV's GaussianCopula and CTGAN on reference-population claims (issue 3 item 7).

    python benchmarks/synthesizer_vs_sdv.py                       # 50,000 claims, 40,000 synthetic rows each
    python benchmarks/synthesizer_vs_sdv.py --claims 5000 --ctgan-epochs 50 --big-rows 0

One protocol for every method: the same seeded 80/20 train/holdout split of the same claims, the same modelled
columns (SDV sees diagnosis/procedure slots as categoricals), the same number of synthetic rows, the same
scorers (`core/evaluation`: sdmetrics quality, code-prevalence R², DCR overfitting protection; TSTR below).
Each method fits and samples in its own process so peak RSS is its own. synth-ehr's fit time includes embedding
the code descriptions; its sampling time includes nearest-code mapping, clinical edits with resampling and the
privacy filters ("released rows/s"); "sample+map rows/s" times what CTGAN's `sample` does, plus mapping
every code slot to a valid code (no edits, no filters), with the code mapper built beforehand (its build time,
once per fitted model, is printed as mapper_build_s). `--big-rows` also times synth-ehr producing that many
claims (goal: 1,000,000 in ≤ 120 s). SDV is the optional `bench` extra (`pip install -e .[bench]`).

CTGAN's default 300 epochs take hours on 2 cores. `--export DIR` writes the train split; `sdv_fit.py` fits SDV
on it on another machine (e.g. a GPU, with a training time budget); `--import ctgan_gpu=DIR` scores that sample
here under the same protocol, and the table says where it was fitted. Sampling speed is compared with a CTGAN
fitted here (`--ctgan-epochs 1` is enough: its sampling cost does not depend on the epochs).
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
    from synth_ehr_assets.core.synth.claims import (
        CONDITION_COLUMN,
        MODEL_COLUMN_KINDS,
        CodeMapper,
        model_frame,
        synthesize_claims,
    )
    from synth_ehr_assets.core.synth.synthesizer import TableSynthesizer

    started = time.perf_counter()
    index = code_vector_index(pl.concat([train, holdout]))
    embed_seconds = time.perf_counter() - started
    spec = parse_spec({"rows": rows, "seed": seed}, "bench")
    model = TableSynthesizer(MODEL_COLUMN_KINDS, spec.synthesizer, seed, index.vector_of, CONDITION_COLUMN)
    fit = model.fit(model_frame(train), model_frame(holdout))
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()  # once per fitted model, like loading it: candidate pools and their edit tables
    mapper = CodeMapper(model.transformer, train, index)
    mapper_seconds = time.perf_counter() - started
    started = time.perf_counter()  # what CTGAN's sample does, plus mapping every code slot to a valid code
    model.sample(rows, code_decoder=mapper, seed=seed + 2)
    map_seconds = time.perf_counter() - started
    started = time.perf_counter()
    synthetic, report = synthesize_claims(model, rows, spec, index, train)
    sample_seconds = time.perf_counter() - started
    synthetic.write_parquet(out)
    result = {
        "fit_s": fit_seconds,
        "embed_s": embed_seconds,
        "mapper_build_s": mapper_seconds,
        "sample_map_s": map_seconds,
        "sample_s": sample_seconds,
        "gan_epochs": fit.gan["epochs_run"],
        "gan_stop": fit.gan["stopped_reason"],
        "rejection_rate": report["rejection_rate"],
        "rounds": report["rounds"],
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
    import polars as pl

    from sdv_fit import fit_and_sample, prepare_frame

    from synth_ehr_assets.core.synth.claims import CLAIM_COLUMN_KINDS

    frame = prepare_frame(modelled(train).to_pandas())  # SDV models the claim columns as they are
    synthetic, timings = fit_and_sample(method, frame, CLAIM_COLUMN_KINDS, rows, seed, ctgan_epochs, gpu=False)
    pl.from_pandas(synthetic).write_parquet(out)
    return timings


def export_split(train, holdout, folder: Path) -> None:
    """What `sdv_fit.py` needs on another machine: the train split's modelled columns and their kinds."""
    from synth_ehr_assets.core.synth.claims import CLAIM_COLUMN_KINDS

    folder.mkdir(parents=True, exist_ok=True)
    modelled(train).write_parquet(folder / "train.parquet")
    (folder / "columns.json").write_text(json.dumps(CLAIM_COLUMN_KINDS, indent=1))
    (folder / "split.json").write_text(json.dumps(split_fingerprint(train)))


def split_fingerprint(train) -> dict:
    import hashlib

    digest = hashlib.sha256("\n".join(train["claim_id"].cast(str).to_list()).encode()).hexdigest()
    return {"train_rows": train.height, "train_claim_ids_sha256": digest}


def imported_result(folder: Path, train) -> tuple[dict, Path]:
    """Timings written by `sdv_fit.py` in `folder`, after checking it was fitted on this very train split."""
    split = json.loads((folder / "split.json").read_text())
    if split != split_fingerprint(train):
        raise SystemExit(f"{folder} was exported from another split (different --claims or --seed)")
    return json.loads((folder / "result.json").read_text()), folder / "sample.parquet"


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
    parser.add_argument(
        "--split",
        choices=("claim", "patient"),
        default="claim",
        help="hold out claims, or whole patients (no patient on both sides; TRTR and DCR are then less optimistic)",
    )
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--ctgan-epochs", type=int, default=300, help="SDV's default is 300")
    parser.add_argument("--big-rows", type=int, default=1_000_000, help="also time synth-ehr at this size (0 = skip)")
    parser.add_argument(
        "--export", type=Path, metavar="DIR", help="write the train split for sdv_fit.py into DIR and stop"
    )
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="LABEL=DIR",
        help="also score the sample that sdv_fit.py wrote in DIR (e.g. CTGAN trained on a GPU) as row LABEL",
    )
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
    patients = claims["patient_id"] if args.split == "patient" else None
    train_rows, holdout_rows = split_rows(claims.height, 0.2, args.seed, patients)
    train, holdout = claims[train_rows], claims[holdout_rows]
    rows = args.rows or train.height
    if args.export:
        export_split(train, holdout, args.export)
        print(f"exported the {train.height:,}-row train split to {args.export}; now run sdv_fit.py there")
        return 0
    imports = dict(item.split("=", 1) for item in args.imports)
    print(
        f"{claims.height:,} reference claims: {train.height:,} train / {holdout.height:,} holdout; "
        f"{rows:,} synthetic rows per method; {args.split}-level split; {os.cpu_count()} CPUs",
        flush=True,
    )
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        train.write_parquet(workdir / "train.parquet")
        holdout.write_parquet(workdir / "holdout.parquet")
        for method, folder in imports.items():
            results[method], sample = imported_result(Path(folder), train)
            synthetic = pl.read_parquet(sample)
            results[method].update(evaluate(train, holdout, synthetic, args.seed))
            speed = synthetic.height / results[method]["sample_s"]
            results[method]["rows_per_s"] = results[method]["map_rows_per_s"] = speed
            print(f"{method} (imported, fitted on {results[method]['device']}): {_rounded(results[method])}", flush=True)
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
            results[method]["map_rows_per_s"] = rows / results[method].get("sample_map_s", results[method]["sample_s"])
            print(f"{method}: done ({_rounded(results[method])})", flush=True)
    print_table(results)
    return 0 if len(results) == len(set(args.methods) | set(imports)) else 1


def _compare(results: dict) -> None:
    """synth-ehr against the best CTGAN quality in the table and CTGAN's sampling speed on this machine."""
    ours = results.get("synth_ehr")
    ctgans = {name: figures for name, figures in results.items() if figures.get("method", name) == "ctgan"}
    if not ours or not ctgans:
        return
    best = max(ctgans, key=lambda name: ctgans[name]["quality"])
    local = [name for name, figures in ctgans.items() if "device" not in figures]
    line = f"synth_ehr vs {best} quality: {ours['quality'] - ctgans[best]['quality']:+.3f}"
    if local:
        cpu = ctgans[local[0]]
        line += (
            f"; vs {local[0]} on this machine: sample+map rows/s {ours['map_rows_per_s'] / cpu['map_rows_per_s']:.1f}x,"
            f" released rows/s {ours['rows_per_s'] / cpu['rows_per_s']:.1f}x"
        )
    print(line)


def _rounded(figures: dict) -> str:
    return json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()})


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
        ("map_rows_per_s", "sample+map rows/s"),
        ("rows_per_s", "released rows/s"),
        ("peak_rss_mib", "peak RSS MiB"),
    ]
    print("\n| method | " + " | ".join(title for _, title in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for method, figures in results.items():
        cells = [
            f"{figures[key]:,.0f}"
            if key in ("rows_per_s", "map_rows_per_s", "peak_rss_mib")
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
            f"largest per rule: {', '.join(f'{k} {v:.3f}' for k, v in ours['top_rejections'].items())}; "
            f"{ours['rounds']} sampling rounds"
        )
    _compare(results)
    for method, figures in results.items():
        if figures.get("method", method) == "ctgan" and "device" not in figures:
            print(f"{method}: fitted here for {figures.get('epochs_run')} epochs (CTGAN's sampling speed on this machine)")
        if "device" in figures:
            print(
                f"{method}: fitted by sdv_fit.py on {figures['device']}, {figures.get('epochs_run', '?')} of "
                f"{figures.get('epochs')} epochs in {figures.get('train_loop_s', 0):.0f}s of training; its fit s and "
                "rows/s are that machine's"
            )


if __name__ == "__main__":
    sys.exit(main())

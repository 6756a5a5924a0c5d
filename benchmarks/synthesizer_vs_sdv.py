"""synth-ehr's synthesizer against SDV's GaussianCopula and CTGAN and MOSTLY AI's TabularARGN on reference-population
claims (issue 3 item 7, issue 10 item 7).

    python benchmarks/synthesizer_vs_sdv.py                       # 50,000 claims, 40,000 synthetic rows each
    python benchmarks/synthesizer_vs_sdv.py --claims 5000 --methods synth_ehr tabular_argn --big-rows 0

One protocol for every method: the same seeded 80/20 train/holdout split of the same claims, the same modelled
columns (SDV and TabularARGN see diagnosis/procedure slots as categoricals), the same number of synthetic rows,
the same scorers (`bench_scores.py`: sdmetrics quality, code-prevalence R², inpatient TSTR, DCR overfitting
protection, the code-structure figures of `core/evaluation/code_structure.py`, `_RARE_` placeholders, invalid
codes and clinical-edit failures), and the real holdout scored the same way as the null level.
Each method fits and samples in its own process so peak RSS (the process and its children) is its own; torch
uses `SYNTH_EHR_TORCH_THREADS` threads in every method when it is set. synth-ehr's fit time includes embedding
the code descriptions; its sampling time includes nearest-code mapping, clinical edits with resampling and the
privacy filters ("released rows/s"); "sample+map rows/s" times what CTGAN's `sample` does, plus mapping
every code slot to a valid code (no edits, no filters), with the code mapper built beforehand (its build time,
once per fitted model, is printed as mapper_build_s). `--big-rows` also times synth-ehr producing that many
claims (goal: 1,000,000 in ≤ 120 s). TabularARGN's fit time covers the engine's split, analyze, encode and
train steps with its defaults (`tabular_argn.py`). SDV and mostlyai-engine are the optional `bench` extra.

CTGAN's default 300 epochs take hours on 2 cores. `--export DIR` writes the train split; `sdv_fit.py` (or
`tabular_argn.py`) fits on it on another machine (e.g. a GPU, with a training time budget); `--import
ctgan_gpu=DIR` scores that sample here under the same protocol, and the table says where it was fitted.
Sampling speed is compared with a CTGAN fitted here (`--ctgan-epochs 1` is enough: its sampling cost does not
depend on the epochs). `--save NAME` keeps the command, figures and tables under `benchmarks/results/NAME/`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

METHODS = ("synth_ehr", "gaussian_copula", "ctgan", "tabular_argn")
RESULTS = Path(__file__).resolve().parent / "results"


def modelled(claims):
    from synth_ehr_assets.core.synth.claims import CLAIM_COLUMN_KINDS

    return claims.select(list(CLAIM_COLUMN_KINDS))


def peak_rss_mib() -> float:
    """Peak resident memory of this process or of its largest finished child (e.g. a data-loader worker)."""
    own, children = (resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return max(own, children) / 1024


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
        code_decoder,
        model_frame,
        release_blocks,
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
    blocks = release_blocks(spec)
    mapper = code_decoder(blocks["decoding"], model, train, index, False, seed, blocks["sigma"])
    mapper_seconds = time.perf_counter() - started
    started = time.perf_counter()  # what CTGAN's sample does, plus mapping every code slot to a valid code
    model.sample(rows, code_decoder=mapper, seed=seed + 2)
    map_seconds = time.perf_counter() - started
    started = time.perf_counter()
    synthetic, report = synthesize_claims(model, rows, code_index=index, train_claims=train, **blocks)
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
        big, _ = synthesize_claims(model, big_rows, code_index=index, train_claims=train, **release_blocks(big_spec))
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


def run_tabular_argn(train, rows: int, seed: int, max_minutes: float | None, out: Path) -> dict:
    import polars as pl

    from tabular_argn import fit_and_sample

    synthetic, timings = fit_and_sample(modelled(train).to_pandas(), rows, seed, "cpu", max_minutes, out.parent)
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


def single(args) -> None:
    import polars as pl

    threads = os.environ.get("SYNTH_EHR_TORCH_THREADS")
    if threads and args.single != "synth_ehr":  # synth-ehr reads it itself
        import torch

        torch.set_num_threads(int(threads))
    workdir, method = args.workdir, args.single
    train, holdout = pl.read_parquet(workdir / "train.parquet"), pl.read_parquet(workdir / "holdout.parquet")
    out = workdir / f"{method}.parquet"
    if method == "synth_ehr":
        result = run_synth_ehr(train, holdout, args.rows, args.seed, args.big_rows, out)
    elif method == "tabular_argn":
        result = run_tabular_argn(train, args.rows, args.seed, args.argn_max_minutes, out)
    else:
        result = run_sdv(method, train, args.rows, args.seed, args.ctgan_epochs, out)
    result["peak_rss_mib"] = peak_rss_mib()
    print("RESULT " + json.dumps(result), flush=True)


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
    parser.add_argument(
        "--argn-max-minutes", type=float, help="cap TabularARGN's training time (default: the engine's own)"
    )
    parser.add_argument("--big-rows", type=int, default=1_000_000, help="also time synth-ehr at this size (0 = skip)")
    parser.add_argument(
        "--export", type=Path, metavar="DIR", help="write the train split for sdv_fit.py / tabular_argn.py into DIR"
    )
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="LABEL=DIR",
        help="also score the sample that sdv_fit.py or tabular_argn.py wrote in DIR (e.g. fitted on a GPU) as LABEL",
    )
    parser.add_argument("--save", metavar="NAME", help="keep command, figures and tables in benchmarks/results/NAME")
    parser.add_argument("--single", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.single:
        single(args)
        return 0

    import polars as pl

    from bench_scores import NULL_ROW, code_structure, evaluate, evaluate_null, save

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
    header = (
        f"{claims.height:,} reference claims: {train.height:,} train / {holdout.height:,} holdout; "
        f"{rows:,} synthetic rows per method; {args.split}-level split; {os.cpu_count()} CPUs, "
        f"SYNTH_EHR_TORCH_THREADS={os.environ.get('SYNTH_EHR_TORCH_THREADS', 'unset')}"
    )
    print(header, flush=True)
    results, code_tables = {}, {}
    results[NULL_ROW], code_tables[NULL_ROW] = evaluate_null(train, holdout, args.seed)
    train_figures, _ = code_structure(train, train)
    command_line = "python benchmarks/synthesizer_vs_sdv.py " + shlex.join(sys.argv[1:])

    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        train.write_parquet(workdir / "train.parquet")
        holdout.write_parquet(workdir / "holdout.parquet")
        for method, folder in imports.items():
            results[method], sample = imported_result(Path(folder), train)
            synthetic = pl.read_parquet(sample)
            figures, code_tables[method] = evaluate(train, holdout, synthetic, args.seed)
            results[method].update(figures)
            speed = synthetic.height / results[method]["sample_s"]
            results[method]["rows_per_s"] = results[method]["map_rows_per_s"] = speed
            print(f"{method} (imported, fitted on {results[method]['device']}): {_rounded(results[method])}", flush=True)
        for method in args.methods:
            command = [sys.executable, __file__, "--single", method, "--workdir", str(workdir), "--rows", str(rows)]
            command += ["--seed", str(args.seed), "--ctgan-epochs", str(args.ctgan_epochs)]
            command += ["--big-rows", str(args.big_rows)]
            if args.argn_max_minutes:
                command += ["--argn-max-minutes", str(args.argn_max_minutes)]
            output = subprocess.run(command, capture_output=True, text=True, check=False)
            line = next((ln for ln in output.stdout.splitlines() if ln.startswith("RESULT ")), None)
            if output.returncode or line is None:
                print(f"{method} failed:\n{output.stderr[-3000:]}", flush=True)
                continue
            results[method] = json.loads(line[7:])
            synthetic = pl.read_parquet(workdir / f"{method}.parquet")
            figures, code_tables[method] = evaluate(train, holdout, synthetic, args.seed)
            results[method].update(figures)
            results[method]["rows_per_s"] = rows / results[method]["sample_s"]
            results[method]["map_rows_per_s"] = rows / results[method].get("sample_map_s", results[method]["sample_s"])
            print(f"{method}: done ({_rounded(results[method])})", flush=True)
            if args.save:  # after every method, so a long run that is stopped keeps what it measured
                partial = report(header, train_figures, results, code_tables)
                save(RESULTS / args.save, command_line, results, code_tables, partial)
    text = report(header, train_figures, results, code_tables)
    print("\n" + text)
    if args.save:
        save(RESULTS / args.save, command_line, results, code_tables, text)
        print(f"\nsaved under {RESULTS / args.save}")
    return 0 if len(results) == len(set(args.methods) | set(imports)) + 1 else 1


def report(header: str, train_figures: dict, results: dict, code_tables: dict) -> str:
    from bench_scores import tables_markdown

    return "\n".join([header, "", tables_markdown(results, train_figures), notes(results, code_tables)])


def _compare(results: dict) -> str:
    """synth-ehr against the best CTGAN quality in the table and CTGAN's sampling speed on this machine."""
    ours = results.get("synth_ehr")
    ctgans = {name: figures for name, figures in results.items() if figures.get("method", name) == "ctgan"}
    if not ours or not ctgans:
        return ""
    best = max(ctgans, key=lambda name: ctgans[name]["quality"])
    local = [name for name, figures in ctgans.items() if "device" not in figures]
    line = f"synth_ehr vs {best} quality: {ours['quality'] - ctgans[best]['quality']:+.3f}"
    if local:
        cpu = ctgans[local[0]]
        line += (
            f"; vs {local[0]} on this machine: sample+map rows/s {ours['map_rows_per_s'] / cpu['map_rows_per_s']:.1f}x,"
            f" released rows/s {ours['rows_per_s'] / cpu['rows_per_s']:.1f}x"
        )
    return line


def _rounded(figures: dict) -> str:
    return json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()})


def notes(results: dict, code_tables: dict) -> str:
    """What the tables do not say: synth-ehr's big run and rejections, where each peer was fitted and for how long,
    and each method's most over-represented codes."""
    from bench_scores import overrepresented_lines

    lines = [""]
    ours = results.get("synth_ehr", {})
    if "big_rows" in ours:
        lines.append(
            f"synth_ehr: {ours['big_rows']:,} claims (sampling, code mapping, edits, privacy filters) in "
            f"{ours['big_s']:.1f}s (goal ≤ 120s)"
        )
    if ours:
        lines.append(
            f"synth_ehr: fit includes {ours['embed_s']:.1f}s of code embeddings; GAN {ours['gan_epochs']} epochs "
            f"({ours['gan_stop']}); rejection rate {ours['rejection_rate']:.3f}, largest per rule: "
            f"{', '.join(f'{k} {v:.3f}' for k, v in ours['top_rejections'].items())}; {ours['rounds']} sampling rounds"
        )
    lines.append(_compare(results))
    for method, figures in results.items():
        kind = figures.get("method", method)
        if kind == "ctgan" and "device" not in figures:
            lines.append(f"{method}: fitted here for {figures.get('epochs_run')} epochs (CTGAN's sampling speed here)")
        if kind == "tabular_argn":
            lines.append(
                f"{method}: engine defaults, {figures.get('epochs_run', 0):.1f} epochs in "
                f"{figures.get('train_loop_s', 0):.0f}s of training, on {figures.get('device', 'this machine (CPU)')}"
            )
        elif "device" in figures:
            lines.append(
                f"{method}: fitted by sdv_fit.py on {figures['device']}, {figures.get('epochs_run', '?')} of "
                f"{figures.get('epochs')} epochs in {figures.get('train_loop_s', 0):.0f}s of training; its fit s and "
                "rows/s are that machine's"
            )
    lines.append(overrepresented_lines(code_tables))
    return "\n".join(line for line in lines if line is not None)


if __name__ == "__main__":
    sys.exit(main())

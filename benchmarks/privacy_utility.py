"""Privacy-utility curve (issue 12 item 5): synth-ehr's DP kind against TabularARGN with its own DP at the same ε.

    python benchmarks/privacy_utility.py --stores DIR                      # 50,000 claims, ε 1 4 10 none
    python benchmarks/privacy_utility.py --stores DIR --claims 4000 --epsilons 4 --save NAME

Per ε one release of the reference population runs through the real pipeline (`release run`, stores under DIR):
`synthesizer.kind: dp_latent_gan` (or `--kind dp_mst`) with `privacy.dp_epsilon`, or `latent_gan` for `none`,
with `drop_exact_matches: false` (a DP release may not filter on the real rows). TabularARGN (`mostlyai-engine`,
engine defaults) is fitted on the same train rows the release trained on (its `encoded_features` split) and
samples as many rows; at a finite ε with the engine's DP: 0.9 ε for DP-SGD training (`max_epsilon`) and 0.1 ε for
its value-range analysis (`value_protection_epsilon`), δ as the release's accountant used (basic composition: the same
total ε).
TabularARGN's unit is the row; the release's is `privacy.dp_unit` (patient by default), a stronger guarantee.

Both samples are scored alike against the release's train and evaluation-holdout rows: sdmetrics quality and the
code-structure figures (`dp_vs_marginals.figures`), the inpatient TSTR AUC, and the four anonymeter attack risks'
upper confidence limits (`attack_risk.attack_risks`). Targets (issue 12): at ε = 4 every attack risk ≤ 0.05 and
quality ≥ 0.80; at ε = 1 the DP kind's quality at least TabularARGN's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
ATTACK_TARGET, QUALITY_TARGET = 0.05, 0.80
STORE_VARIABLES = {"SYNTH_EHR_DUCKDB_PATH": "warehouse.duckdb", "SYNTH_EHR_LANCEDB_URI": "lancedb",
                   "SYNTH_EHR_ARTIFACT_DIR": "artifacts", "SYNTH_EHR_RELEASE_DIR": "releases"}


def _tag(epsilon: float | None) -> str:
    return "none" if epsilon is None else f"{epsilon:g}".replace(".", "p")


def release_spec(claims: int, rows: int, seed: int, epsilon: float | None, kind: str, embed: str) -> dict:
    privacy = {"age_band_years": 0, "date_granularity": "day", "canaries": 0}
    if epsilon is not None:
        privacy |= {"dp_epsilon": epsilon, "drop_exact_matches": False}
    return {"description": f"privacy-utility curve, ε {_tag(epsilon)}", "seed": seed, "rows": rows,
            "source": {"kind": "reference", "claims": claims}, "narratives": {"engine": "design"},
            "codes": {"embed": embed},
            "synthesizer": {"kind": kind if epsilon is not None else "latent_gan"}, "privacy": privacy}


def run_release(stores: Path, release: str, spec: dict) -> float:
    """Materialize `release` in `stores` through the CLI; seconds taken (a blocked gate does not stop the curve)."""
    import yaml

    (stores / "releases").mkdir(parents=True, exist_ok=True)
    (stores / "releases" / f"{release}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    env = {**os.environ, "DAGSTER_HOME": str(stores), "SYNTH_EHR_MLFLOW_URI": f"sqlite:///{stores / 'mlflow.db'}",
           **{k: str(stores / v) for k, v in STORE_VARIABLES.items()}}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "synth_ehr_assets.cli", "release", "run", release], env=env)
    print(f"release {release}: exit {done.returncode} in {time.perf_counter() - started:.0f}s", flush=True)
    return time.perf_counter() - started


def release_tables(stores: Path, release: str):
    """(train rows, evaluation-holdout rows, synthetic claims or None when the release made none)."""
    import duckdb
    import polars as pl

    with duckdb.connect(str(stores / "warehouse.duckdb"), read_only=True) as con:
        def read(table: str) -> pl.DataFrame:
            return con.sql(f"select * from synth_ehr.{table} where release_id = ?", params=[release]).pl()

        source, split = read("source_claims"), read("encoded_features")
        made = con.sql("select 1 from information_schema.tables where table_schema = 'synth_ehr' "
                       "and table_name = 'synthetic_claims'").fetchall()
        synthetic = read("synthetic_claims") if made else pl.DataFrame()
    labelled = source.join(split.select("claim_id", "split"), on="claim_id")
    train = labelled.filter(pl.col("split") == "train").drop("split").sort("claim_id")
    holdout = labelled.filter(pl.col("split") == "holdout").drop("split").sort("claim_id")
    return train, holdout, synthetic if synthetic.height and "release_id" in synthetic.columns and \
        synthetic.filter(pl.col("release_id") == release).height else None


def _released(stores: Path, release: str) -> bool:
    """Whether `stores` holds synthetic claims of `release` already."""
    try:
        return release_tables(stores, release)[2] is not None
    except Exception:  # noqa: BLE001 - no warehouse or no tables yet: not released
        return False


def run_argn(train, rows: int, seed: int, epsilon: float | None, delta: float):
    import polars as pl
    from mostlyai.engine.domain import DifferentialPrivacyConfig
    from tabular_argn import fit_and_sample

    from synth_ehr_assets.core import schema
    from synth_ehr_assets.core.synth.claims import CLAIM_COLUMN_KINDS

    dp = None if epsilon is None else DifferentialPrivacyConfig(
        max_epsilon=0.9 * epsilon, value_protection_epsilon=0.1 * epsilon, delta=delta)
    frame = train.select(list(CLAIM_COLUMN_KINDS)).to_pandas()
    synthetic, timings = fit_and_sample(frame, rows, seed, differential_privacy=dp)
    return schema.conform(pl.from_pandas(synthetic)), timings


def scores(train, holdout, synthetic, seed: int) -> dict:
    from bench_scores import inpatient_tstr
    from dp_vs_marginals import figures

    from synth_ehr_assets.core.evaluation.attack_risk import ATTACKS, attack_risks

    risks = attack_risks(train, holdout, synthetic, seed)
    tstr, _ = inpatient_tstr(train, holdout, synthetic, seed)
    out = {**figures(train, holdout, synthetic, seed), "tstr_auc": round(tstr, 3)}
    out |= {f"risk_ci_high.{a}": round(risks[f"attack_risk_ci_high.{a}"], 3) for a in ATTACKS}
    out["risk_ci_high.max"] = max(out[f"risk_ci_high.{a}"] for a in ATTACKS)
    return out


def table(results: dict) -> str:
    keys = sorted({k for by in results.values() for r in by.values() for k in r})
    columns = [(tag, method) for tag, by in results.items() for method in by]
    lines = ["| figure | " + " | ".join(f"{m} ε {t}" for t, m in columns) + " |",
             "|---|" + "---|" * len(columns)]
    for key in keys:
        cells = [results[t][m].get(key) for t, m in columns]
        lines.append(f"| {key} | " + " | ".join("–" if v is None else f"{v:,.3f}" if isinstance(v, float)
                                                 else str(v) for v in cells) + " |")
    return "\n".join(lines)


def targets(results: dict, kind: str) -> list[str]:
    said = []
    if "4" in results and kind in results["4"]:
        ours = results["4"][kind]
        said.append(f"ε 4: max attack-risk upper limit {ours['risk_ci_high.max']:.3f} ≤ {ATTACK_TARGET}: "
                    f"{'yes' if ours['risk_ci_high.max'] <= ATTACK_TARGET else 'NO'}; quality "
                    f"{ours['quality_score']:.3f} ≥ {QUALITY_TARGET}: "
                    f"{'yes' if ours['quality_score'] >= QUALITY_TARGET else 'NO'}")
    if "1" in results and {kind, "tabular_argn"} <= set(results["1"]):
        ours, peer = results["1"][kind]["quality_score"], results["1"]["tabular_argn"]["quality_score"]
        said.append(f"ε 1: quality {ours:.3f} ≥ TabularARGN's {peer:.3f}: {'yes' if ours >= peer else 'NO'}")
    return said


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stores", type=Path, required=True, help="folder for the releases' stores and specs")
    parser.add_argument("--claims", type=int, default=50_000, help="reference-population source claims")
    parser.add_argument("--rows", type=int, help="synthetic claims per release (default: a fifth of --claims)")
    parser.add_argument("--epsilons", nargs="+", default=["1", "4", "10", "none"])
    parser.add_argument("--kind", default="dp_latent_gan", choices=("dp_latent_gan", "dp_mst"))
    parser.add_argument("--methods", nargs="+", default=["synth_ehr", "tabular_argn"],
                        choices=("synth_ehr", "tabular_argn"))
    parser.add_argument("--embed", default="used", choices=("used", "all"),
                        help="codes.embed: `all` makes the diagnosis domain public (the 74,719-code catalog, embedded "
                             "once per store: about 25 minutes on 2 cores)")
    parser.add_argument("--reuse", action="store_true", help="score a release already in --stores instead of rerunning it")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--save", metavar="NAME", help="keep command, figures and table in benchmarks/results/NAME")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from synth_ehr_assets.core.synth.dp.synthesizer import load_budget

    rows = args.rows or args.claims // 5
    results: dict[str, dict] = {}
    for given in args.epsilons:
        epsilon = None if given == "none" else float(given)
        tag, release = _tag(epsilon), f"pu_{_tag(epsilon)}"
        spec = release_spec(args.claims, rows, args.seed, epsilon, args.kind, args.embed)
        seconds = None
        if not (args.reuse and _released(args.stores, release)):
            seconds = round(run_release(args.stores, release, spec))
        train, holdout, ours = release_tables(args.stores, release)
        budget = load_budget(args.stores / "artifacts" / release / "gan_checkpoint") or {}
        delta = budget.get("delta") or 1e-5
        by = results.setdefault(tag, {})
        if "synth_ehr" in args.methods:  # a release that synthesized nothing is a point without figures
            by[spec["synthesizer"]["kind"]] = {**(scores(train, holdout, ours, args.seed) if ours is not None else
                                                  {"release_failed": 1.0}), "release_s": seconds,
                                               **({"delta": delta} if epsilon is not None else {})}
        if "tabular_argn" in args.methods:
            peer, timings = run_argn(train, rows if ours is None else ours.height, args.seed, epsilon, delta)
            by["tabular_argn"] = {**scores(train, holdout, peer, args.seed), "fit_s": round(timings["fit_s"])}
        print(json.dumps({tag: by}, indent=1), flush=True)
    text = f"{args.claims:,} reference claims, {rows:,} synthetic rows per method and ε\n\n{table(results)}\n\n" + \
        "\n".join(f"- {line}" for line in targets(results, args.kind))
    print(text)
    if args.save:
        folder = RESULTS / args.save
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "command.txt").write_text("python benchmarks/privacy_utility.py " + " ".join(sys.argv[1:]) + "\n")
        (folder / "results.json").write_text(json.dumps(results, indent=1))
        (folder / "tables.md").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

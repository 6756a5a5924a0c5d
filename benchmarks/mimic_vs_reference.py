"""A release on the MIMIC-IV demo next to a reference-population release of the same size: fidelity, privacy, time.

Each release runs the whole `release_job` in its own process (dagster-mlflow keeps one MLflow run per process),
with a throwaway instance and stores (a temp folder); figures are read from the fidelity/privacy report tables,
so they are printed even when a gate refuses the release.

    python benchmarks/mimic_vs_reference.py [--mimic ../shared/data/mimic-iv-demo-2.2] [--rows 500]
    python benchmarks/mimic_vs_reference.py --only reference --claims 271   # one release, as a JSON row
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

FIGURES = {
    "fidelity": ("quality_score", "quality_score_null", "column_shapes_score", "column_pair_trends_score",
                 "all_dx_prevalence_r2"),
    "privacy": ("dcr_overfitting_protection", "null_share_closer_to_train_median", "membership_inference_auc",
                "null_membership_inference_auc_median", "exact_match_rate", "verbatim_unique_source_values"),
}
# The real holdout's own figures (the null level) are printed beside the release's: DCR protection as sdmetrics
# scores it, 2 × (1 - the null's median share of rows closer to train).
COLUMNS = ["release", "source_claims", "train_rows", "released", "seconds", "quality_score", "quality_score_null",
           "column_shapes_score", "column_pair_trends_score", "all_dx_prevalence_r2", "dcr_overfitting_protection",
           "dcr_protection_null", "membership_inference_auc", "null_membership_inference_auc_median",
           "exact_match_rate", "verbatim_unique_source_values", "failed_gates"]


def run_release(release_id: str, spec: dict, folder: Path) -> dict:
    import dagster as dg
    import duckdb

    from synth_ehr_assets.definitions import build_definitions

    (folder / "releases" / f"{release_id}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("release", [release_id])
    started = time.perf_counter()
    result = build_definitions().resolve_job_def("release_job").execute_in_process(
        partition_key=release_id, instance=instance, raise_on_error=False
    )
    seconds = time.perf_counter() - started
    row = {"release": release_id, "seconds": seconds, "released": result.success}
    row["failed_gates"] = ", ".join(e.check_name for e in result.get_asset_check_evaluations() if not e.passed)
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as con:
        for report, names in FIGURES.items():
            for name in names:
                value = con.execute(
                    f"select value from synth_ehr.{report}_report where release_id = ? and metric = ? "
                    "and (\"column\" is null or \"column\" = '') limit 1", [release_id, name]
                ).fetchone()
                row[name] = value[0] if value else None
        row["source_claims"] = con.execute(
            "select count(*) from synth_ehr.source_claims where release_id = ?", [release_id]
        ).fetchone()[0]
        row["train_rows"] = con.execute(
            "select count(*) from synth_ehr.encoded_features where release_id = ? and split = 'train'", [release_id]
        ).fetchone()[0]
    share = row.pop("null_share_closer_to_train_median")
    row["dcr_protection_null"] = None if share is None else min(2 * (1 - share), 1.0)
    return row


def one_release(name: str, args) -> dict:
    """Run one release (`mimic` or `reference` with `args.claims`) in this process."""
    folder = Path(tempfile.mkdtemp(prefix=f"synth-ehr-bench-{name}-"))
    for variable, relative in {"SYNTH_EHR_DUCKDB_PATH": "warehouse.duckdb", "SYNTH_EHR_LANCEDB_URI": "lancedb",
                               "SYNTH_EHR_ARTIFACT_DIR": "artifacts", "SYNTH_EHR_RELEASE_DIR": "releases"}.items():
        os.environ[variable] = str(folder / relative)
    os.environ["SYNTH_EHR_MLFLOW_URI"] = f"sqlite:///{folder / 'mlflow.db'}"
    (folder / "releases").mkdir()
    spec = {"rows": args.rows, "seed": args.seed, "codes": {"embed": "used"}, "narratives": {"engine": "design"}}
    if name == "mimic":
        spec["source"] = {"kind": "mimic_iv", "path": args.mimic}
    else:
        spec["source"] = {"kind": "reference", "claims": args.claims}
    return run_release(name, spec, folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mimic", default=str(Path(__file__).resolve().parents[2] / "shared/data/mimic-iv-demo-2.2"))
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--only", choices=["mimic", "reference"], help="run one release and print its JSON row")
    parser.add_argument("--claims", type=int, help="(with --only reference) source claims")
    args = parser.parse_args()
    if args.only:
        print("ROW " + json.dumps(one_release(args.only, args)))
        return

    def child(*extra: str) -> dict:
        command = [sys.executable, __file__, "--mimic", args.mimic, "--rows", str(args.rows), "--seed", str(args.seed)]
        out = subprocess.run([*command, *extra], check=True, capture_output=True, text=True).stdout
        return json.loads(next(line for line in out.splitlines() if line.startswith("ROW "))[4:])

    mimic = child("--only", "mimic")
    reference = child("--only", "reference", "--claims", str(mimic["source_claims"]))
    columns = COLUMNS
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in (mimic, reference):
        cells = [f"{row[c]:.3f}" if isinstance(row[c], float) else str(row[c]) for c in columns]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

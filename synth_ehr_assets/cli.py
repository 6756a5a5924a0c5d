"""`synth-ehr`: manage and run releases without the UI, and synthesize arbitrary tables."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from synth_ehr_assets.core.spec import SpecError, list_specs, load_spec
from synth_ehr_assets.defs.settings import PROJECT_ROOT, resolved_setting


def _instance():
    import dagster as dg

    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT))
    return dg.DagsterInstance.get()


def _spec_path(release_id: str) -> Path:
    return Path(resolved_setting("SYNTH_EHR_RELEASE_DIR")) / f"{release_id}.yaml"


def release_list(_args) -> int:
    instance = _instance()
    partitions = set(instance.get_dynamic_partitions("release"))
    for release_id, path in list_specs(resolved_setting("SYNTH_EHR_RELEASE_DIR")).items():
        try:
            spec = load_spec(path)
            state = f"rows={spec.rows} source={spec.source.kind} spec={spec.fingerprint()}"
        except SpecError as error:
            state = f"INVALID: {error}"
        print(f"{release_id:24} {'partition' if release_id in partitions else 'no partition':13} {state}")
    for orphan in sorted(partitions - set(list_specs(resolved_setting("SYNTH_EHR_RELEASE_DIR")))):
        print(f"{orphan:24} partition     (spec file missing)")
    return 0


def release_add(args) -> int:
    spec = load_spec(_spec_path(args.release_id))
    instance = _instance()
    if instance.has_dynamic_partition("release", spec.release_id):
        print(f"release {spec.release_id} already exists")
    else:
        instance.add_dynamic_partitions("release", [spec.release_id])
        print(f"added release partition {spec.release_id}")
    return 0


def release_run(args) -> int:
    from synth_ehr_assets.definitions import build_definitions
    from synth_ehr_assets.defs.jobs import SPEC_FINGERPRINT_TAG

    spec = load_spec(_spec_path(args.release_id))
    instance = _instance()
    if not instance.has_dynamic_partition("release", spec.release_id):
        instance.add_dynamic_partitions("release", [spec.release_id])
    job = build_definitions().resolve_job_def("release_job")
    started = time.perf_counter()
    result = job.execute_in_process(
        partition_key=spec.release_id,
        instance=instance,
        tags={SPEC_FINGERPRINT_TAG: spec.fingerprint()},
        raise_on_error=False,
    )
    seconds = time.perf_counter() - started
    print(summary(spec.release_id, result, seconds))
    manifest = Path(resolved_setting("SYNTH_EHR_RELEASE_DIR")) / spec.release_id / "manifest.json"
    if result.success and manifest.is_file():
        print(release_card(manifest))
    return 0 if result.success else 1


RELEASE_CARD_FIGURES = {
    "fidelity": ("quality_score", "column_shapes_score", "column_pair_trends_score", "all_dx_prevalence_r2",
                 "principal_dx_top50_overlap", "tstr_auc_inpatient", "trtr_auc_inpatient"),
    "privacy": ("exact_match_rate", "dcr_overfitting_protection", "membership_inference_auc",
                "nndr_synthetic_median", "qi_unique_matching_unique_real_share", "phi_hits"),
}


def release_card(manifest_path: Path) -> str:
    """One screen from a written release's manifest: rows, headline fidelity and privacy figures, gates, card path."""
    manifest = json.loads(manifest_path.read_text())
    rows = ", ".join(f"{name} {count:,}" for name, count in manifest["row_counts"].items())
    lines = ["", f"release {manifest['release_id']}: {rows}"]
    for report, names in RELEASE_CARD_FIGURES.items():
        figures = manifest["metrics"][report]
        shown = [f"{name}={figures[name]:.3f}" for name in names if figures.get(name) is not None]
        lines.append(f"  {report:9} " + "  ".join(shown))
    lines.append("  gates:")
    for gate in manifest["gates"]:
        value = gate["metadata"].get("value")
        figure = f" ({value:.3f} vs {gate['metadata']['threshold']})" if isinstance(value, float) else ""
        lines.append(f"    {'pass' if gate['passed'] else 'FAIL'}  {gate['asset']}.{gate['check']}{figure}")
    lines.append(f"  data card: {manifest_path.parent / 'data_card.html'}")
    return "\n".join(lines)


def summary(release_id: str, result, seconds: float) -> str:
    """One screen: what was materialized, row counts, check outcomes and where the outputs are."""
    lines = [f"release {release_id}: {'SUCCESS' if result.success else 'FAILED'} in {seconds:.0f}s", ""]
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        rows = mat.metadata.get("dagster/row_count")
        lines.append(f"  {mat.asset_key.to_user_string():24} rows={rows.value if rows else '-'}")
    for event in result.get_asset_check_evaluations():
        lines.append(f"  check {event.check_name:34} {'passed' if event.passed else 'FAILED'}")
    for event in result.all_events:
        if event.is_step_failure:
            lines.append(f"  step {event.step_key} failed: {event.event_specific_data.error.message.strip()}")
    lines += ["", f"  DuckDB:   {resolved_setting('SYNTH_EHR_DUCKDB_PATH')} (schema synth_ehr)"]
    lines.append(f"  LanceDB:  {resolved_setting('SYNTH_EHR_LANCEDB_URI')}")
    lines.append(f"  MLflow:   {resolved_setting('SYNTH_EHR_MLFLOW_URI')}")
    bundle = Path(resolved_setting("SYNTH_EHR_RELEASE_DIR")) / release_id
    if (bundle / "data_card.html").exists():
        lines.append(f"  release:  {bundle}  (data card: {bundle / 'data_card.html'})")
    return "\n".join(lines)


def release_show(args) -> int:
    import dagster as dg

    spec = load_spec(_spec_path(args.release_id))
    print(json.dumps(spec.model_dump(mode="json"), indent=2))
    instance = _instance()
    from synth_ehr_assets.definitions import defs

    for key in sorted(defs.resolve_asset_graph().get_all_asset_keys(), key=lambda k: k.to_user_string()):
        status = "never materialized"
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=[spec.release_id]), limit=1
        ).records
        if records:
            status = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(records[0].timestamp))
        print(f"{key.to_user_string():24} {status}")
    return 0


def synthesize(args) -> int:
    from synth_ehr_assets.core.synth.tabular import synthesize_table

    report = synthesize_table(args.train, args.out, args.rows, meta_path=args.meta, seed=args.seed)
    print(json.dumps(report, indent=2, default=str))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="synth-ehr", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    release = commands.add_parser("release", help="manage release partitions").add_subparsers(dest="action", required=True)
    release.add_parser("list", help="spec files and partitions").set_defaults(func=release_list)
    for name, func, text in (
        ("add", release_add, "validate a spec and add its partition"),
        ("run", release_run, "materialize a whole release in this process"),
        ("show", release_show, "print the spec and the latest materialization of each asset"),
    ):
        sub = release.add_parser(name, help=text)
        sub.add_argument("release_id")
        sub.set_defaults(func=func)
    synth = commands.add_parser("synthesize", help="fit the synthesizer on any CSV/Parquet table")
    synth.add_argument("--train", required=True)
    synth.add_argument("--out", required=True)
    synth.add_argument("--rows", type=int, required=True)
    synth.add_argument("--meta")
    synth.add_argument("--seed", type=int, default=0)
    synth.set_defaults(func=synthesize)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (SpecError, FileNotFoundError, ValueError) as error:
        print(f"synth-ehr: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""`synth-ehr`: manage and run releases without the UI, and synthesize arbitrary tables."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path

from synth_ehr_assets.core.spec import SpecError, list_specs, load_spec
from synth_ehr_assets.defs.settings import PROJECT_ROOT, env_or_default


def _instance():
    import dagster as dg

    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT))
    return dg.DagsterInstance.get()


def _spec_path(release_id: str) -> Path:
    return Path(env_or_default("SYNTH_EHR_RELEASE_DIR")) / f"{release_id}.yaml"


def release_list(_args) -> int:
    instance = _instance()
    partitions = set(instance.get_dynamic_partitions("release"))
    for release_id, path in list_specs(env_or_default("SYNTH_EHR_RELEASE_DIR")).items():
        try:
            spec = load_spec(path)
            state = f"rows={spec.rows} source={spec.source.kind} spec={spec.fingerprint()}"
        except SpecError as error:
            state = f"INVALID: {error}"
        print(f"{release_id:24} {'partition' if release_id in partitions else 'no partition':13} {state}")
    for orphan in sorted(partitions - set(list_specs(env_or_default("SYNTH_EHR_RELEASE_DIR")))):
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
    import dagster as dg

    from synth_ehr_assets.core.terminal import TerminalReport
    from synth_ehr_assets.definitions import build_definitions
    from synth_ehr_assets.defs.jobs import SPEC_FINGERPRINT_TAG
    from synth_ehr_assets.defs.progress import run_logger

    spec = load_spec(_spec_path(args.release_id))
    instance = _instance()
    if not instance.has_dynamic_partition("release", spec.release_id):
        instance.add_dynamic_partitions("release", [spec.release_id])
    run_id = str(uuid.uuid4())
    log_path = Path(env_or_default("SYNTH_EHR_ARTIFACT_DIR")) / spec.release_id / "logs" / f"{run_id}.log"
    report = TerminalReport()
    loggers = {"synth_ehr": run_logger(report, log_path), "console": dg.colored_console_logger}
    job = build_definitions().resolve_job_def("release_job").with_logger_defs(loggers)
    console = {"console": {"config": {"log_level": "DEBUG"}}} if args.verbose else {}
    run_config = {"loggers": {"synth_ehr": {}, **console}}
    report.print(f"release {spec.release_id}: {spec.rows:,} synthetic claims from a {spec.source.kind} source "
                 f"(run {run_id})")
    report.print(f"full log: {log_path}")
    started = time.perf_counter()
    if not args.verbose:
        # mlflow logs its sqlite store's set-up ("Creating initial MLflow database tables...") at INFO to stderr
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    with report:
        result = job.execute_in_process(
            partition_key=spec.release_id, instance=instance, run_config=run_config, run_id=run_id,
            tags={SPEC_FINGERPRINT_TAG: spec.fingerprint()}, raise_on_error=False,
        )
    print(summary(spec.release_id, result, time.perf_counter() - started, log_path))
    manifest = Path(env_or_default("SYNTH_EHR_RELEASE_DIR")) / spec.release_id / "manifest.json"
    if result.success and manifest.is_file():
        print(release_card(manifest))
    else:
        print(failure_screen(spec, result, log_path))
    return 0 if result.success else 1


def _chain(error) -> list:
    chain = []
    while error is not None:
        chain.append(error)
        error = error.cause
    return chain


def root_cause(error) -> str:
    """The innermost message of a Dagster error chain (the user code's own exception, not the step wrapper)."""
    chain = _chain(error)
    return chain[-1].message.strip() if chain else "unknown error"


def failure_screen(spec, result, log_path: Path) -> str:
    """Which gate failed, its figure against the threshold, where the details are and what to change in the spec."""
    from synth_ehr_assets.core.gate_advice import advice_lines

    lines, spec_path = [""], _spec_path(spec.release_id)
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed and e.blocking]
    for evaluation in failed:
        meta = {k: v.value for k, v in evaluation.metadata.items()}
        asset = evaluation.asset_key.to_user_string()
        lines.append(f"FAILED gate {evaluation.check_name} on {asset}")
        value, threshold = meta.get("value"), meta.get("threshold")
        if isinstance(value, (int, float)):
            lines.append(f"  figure {value:.4g} against threshold {threshold}")
        shown = {k: v for k, v in meta.items() if k not in ("value", "threshold") and len(str(v)) < 200}
        lines += [f"  {k}: {v}" for k, v in shown.items()]
        lines.append(f"  details: Dagster UI → asset {asset} → Checks → {evaluation.check_name} (partition "
                     f"{spec.release_id}, run {result.run_id}); full log {log_path}")
        lines += [f"  to change: {line}" for line in advice_lines(evaluation.check_name, spec, str(spec_path))]
    for event in result.all_events:
        error = event.event_specific_data.error if event.is_step_failure else None
        # a failed blocking gate also fails its step; the gate is described above
        if error is not None and not any(e.cls_name == "DagsterAssetCheckFailedError" for e in _chain(error)):
            lines.append(f"FAILED step {event.step_key}: {root_cause(event.event_specific_data.error)}")
            lines.append(f"  full log and traceback: {log_path}")
    return "\n".join(lines)


RELEASE_CARD_FIGURES = {
    "fidelity": ("quality_score", "column_shapes_score", "column_pair_trends_score", "all_dx_prevalence_r2",
                 "principal_dx_top50_overlap", "tstr_auc_inpatient", "trtr_auc_inpatient"),
    "privacy": ("exact_match_rate", "dcr_overfitting_protection", "membership_inference_auc",
                "nndr_synthetic_median", "qi_unique_matching_unique_real_share", "phi_hits"),
    "judge": ("mean_plausibility", "mean_relevance", "mean_coherence", "mean_combined_score", "pass_share",
              "low_note_share"),
}


def release_card(manifest_path: Path) -> str:
    """One screen from a written release's manifest: rows, headline fidelity and privacy figures, gates, card path."""
    manifest = json.loads(manifest_path.read_text())
    rows = ", ".join(f"{name} {count:,}" for name, count in manifest["row_counts"].items())
    lines = ["", f"release {manifest['release_id']}: {rows}"]
    for report, names in RELEASE_CARD_FIGURES.items():
        figures = manifest["metrics"].get(report, {})
        shown = [f"{name}={figures[name]:.3f}" for name in names if figures.get(name) is not None]
        if shown:
            lines.append(f"  {report:9} " + "  ".join(shown))
    lines.append("  gates:")
    for gate in manifest["gates"]:
        value = gate["metadata"].get("value")
        figure = f" ({value:.3f} vs {gate['metadata']['threshold']})" if isinstance(value, float) else ""
        lines.append(f"    {'pass' if gate['passed'] else 'FAIL'}  {gate['asset']}.{gate['check']}{figure}")
    lines.append(f"  data card: {manifest_path.parent / 'data_card.html'}")
    return "\n".join(lines)


def summary(release_id: str, result, seconds: float, log_path: Path) -> str:
    """After the per-step lines: outcome, checks that did not pass, and where the outputs are."""
    lines = ["", f"release {release_id}: {'SUCCESS' if result.success else 'FAILED'} in {seconds:.0f}s"]
    checks = result.get_asset_check_evaluations()
    lines.append(f"  checks: {sum(e.passed for e in checks)}/{len(checks)} passed")
    lines += [f"  DuckDB:   {env_or_default('SYNTH_EHR_DUCKDB_PATH')} (schema synth_ehr)",
              f"  LanceDB:  {env_or_default('SYNTH_EHR_LANCEDB_URI')}",
              f"  MLflow:   {env_or_default('SYNTH_EHR_MLFLOW_URI')}",
              f"  log:      {log_path}"]
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


def _release_folder(name: str) -> Path:
    """A release id under the release directory, or a path to a release folder."""
    folder = Path(name)
    return folder if folder.is_dir() else Path(env_or_default("SYNTH_EHR_RELEASE_DIR")) / name


def release_compare(args) -> int:
    from synth_ehr_assets.core.export.compare import compare_releases, format_comparison

    comparison = compare_releases(_release_folder(args.a), _release_folder(args.b))
    print(format_comparison(comparison))
    return 1 if comparison.regressions else 0


def release_verify(args) -> int:
    from synth_ehr_assets.core.export.bundle import MANIFEST_NAME, verify_release

    folder = _release_folder(args.release_id)
    if not (folder / MANIFEST_NAME).is_file():
        raise FileNotFoundError(f"{folder / MANIFEST_NAME} does not exist: has release {args.release_id} been written?")
    problems = verify_release(folder)
    listed = len(json.loads((folder / MANIFEST_NAME).read_text())["files"])
    for problem in problems:
        print(f"  {problem}")
    print(f"{folder}: {'intact' if not problems else f'{len(problems)} problem(s)'}, {listed} files in the manifest")
    return 1 if problems else 0


def synthesize(args) -> int:
    from synth_ehr_assets.core.synth.tabular import synthesize_table

    report = synthesize_table(args.train, args.out, args.rows, meta_path=args.meta, seed=args.seed)
    print(json.dumps(report, indent=2, default=str))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="synth-ehr", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    release = commands.add_parser("release", help="manage release partitions")
    release = release.add_subparsers(dest="action", required=True)
    release.add_parser("list", help="spec files and partitions").set_defaults(func=release_list)
    for name, func, text in (
        ("add", release_add, "validate a spec and add its partition"),
        ("run", release_run, "materialize a whole release in this process"),
        ("show", release_show, "print the spec and the latest materialization of each asset"),
        ("verify", release_verify, "re-check every file of a written release against its manifest"),
    ):
        sub = release.add_parser(name, help=text)
        sub.add_argument("release_id")
        sub.set_defaults(func=func)
        if name == "run":
            sub.add_argument("--verbose", action="store_true", help="also print Dagster's full log on the terminal")
    compare = release.add_parser("compare", help="headline figures and gates of two written releases; exit 1 when "
                                 "a gate passed in A and fails in B")
    compare.add_argument("a", help="release id or release folder (the baseline)")
    compare.add_argument("b", help="release id or release folder (the candidate)")
    compare.set_defaults(func=release_compare)
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

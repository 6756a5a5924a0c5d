"""Release-spec sensor: new or changed `data/releases/*.yaml` become partitions and runs."""

import hashlib
import json
from pathlib import Path

import dagster as dg

from synth_ehr_assets.core.spec import SpecError, list_specs, load_spec
from synth_ehr_assets.defs.jobs import SPEC_FINGERPRINT_TAG, release_job
from synth_ehr_assets.defs.partitions import release_partitions
from synth_ehr_assets.defs.resources import ReleaseSpecs


def run_exists(instance: dg.DagsterInstance, release_id: str, fingerprint: str) -> bool:
    """True when any run (sensor, CLI or UI launch with the tag) already built this exact spec."""
    runs = instance.get_run_records(
        filters=dg.RunsFilter(tags={"dagster/partition": release_id, SPEC_FINGERPRINT_TAG: fingerprint}), limit=1
    )
    return bool(runs)


@dg.sensor(job=release_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def release_spec_sensor(context: dg.SensorEvaluationContext, release_specs: ReleaseSpecs) -> dg.SensorResult:
    """Adds a `release` partition per valid spec file and requests one run per spec content hash."""
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    existing = set(context.instance.get_dynamic_partitions(release_partitions.name))
    new_partitions, requests = [], []
    for release_id, path in list_specs(release_specs.spec_dir).items():
        try:
            spec = load_spec(path)
        except SpecError as error:
            context.log.error(f"skipping {path.name}: {error}")
            continue
        fingerprint = spec.fingerprint()
        if seen.get(release_id) == fingerprint:
            continue
        seen[release_id] = fingerprint
        if release_id not in existing:
            new_partitions.append(release_id)
        if run_exists(context.instance, release_id, fingerprint):
            continue
        requests.append(
            dg.RunRequest(
                run_key=f"{release_id}:{fingerprint}",
                partition_key=release_id,
                tags={SPEC_FINGERPRINT_TAG: fingerprint},
            )
        )
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[release_partitions.build_add_request(new_partitions)] if new_partitions else [],
        cursor=json.dumps(seen, sort_keys=True),
    )


def source_file_signature(path: Path) -> str:
    """Size and modification time of a file, or of every file under a folder (MIMIC-IV tables)."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return ";".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files if p.exists())


@dg.sensor(job=release_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED)
def source_file_sensor(context: dg.SensorEvaluationContext, release_specs: ReleaseSpecs) -> dg.SensorResult:
    """Re-runs a `file` or `mimic_iv` release when its source file(s) change on disk."""
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    partitions = set(context.instance.get_dynamic_partitions(release_partitions.name))
    requests = []
    for release_id, path in list_specs(release_specs.spec_dir).items():
        try:
            spec = load_spec(path)
        except SpecError:
            continue  # the spec sensor reports invalid specs
        if spec.source.kind == "reference" or release_id not in partitions:
            continue
        source_path = spec.resolve_path(spec.source.path)
        if not source_path.exists():
            context.log.warning(f"{release_id}: source {source_path} does not exist")
            continue
        signature = hashlib.sha256(source_file_signature(source_path).encode()).hexdigest()[:16]
        if seen.get(release_id) not in (None, signature):
            requests.append(
                dg.RunRequest(
                    run_key=f"{release_id}:source:{signature}",
                    partition_key=release_id,
                    tags={SPEC_FINGERPRINT_TAG: spec.fingerprint(), "synth_ehr/source_signature": signature},
                )
            )
        seen[release_id] = signature
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(seen, sort_keys=True))

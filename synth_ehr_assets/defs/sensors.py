"""Release-spec sensor: new or changed `data/releases/*.yaml` become partitions and runs."""

from __future__ import annotations

import json

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

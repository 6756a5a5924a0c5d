"""The synth-ehr code location: assets, checks, jobs, sensors, schedules and resources in one place."""

from __future__ import annotations

import dagster as dg

from synth_ehr_assets.defs import codes, evaluation, model, narratives, release, scenarios, source, synthesis
from synth_ehr_assets.defs.automation import release_automation_sensor, with_release_automation
from synth_ehr_assets.defs.executors import selected_executor, with_queue_routing
from synth_ehr_assets.defs.jobs import release_job
from synth_ehr_assets.defs.llm import llm_endpoint_from_env
from synth_ehr_assets.defs.monitoring import drift_checks, drift_monitor_job, nightly_drift_monitor
from synth_ehr_assets.defs.resources import ArtifactStore, ReleaseSpecs, mlflow_tracking, warehouse_io_manager
from synth_ehr_assets.defs.schedules import weekly_release_refresh
from synth_ehr_assets.defs.sensors import release_spec_sensor, source_file_sensor
from synth_ehr_assets.defs.settings import store_setting
from synth_ehr_assets.io.lancedb_io import LanceDBIOManager

ASSET_MODULES = [source, codes, model, synthesis, narratives, evaluation, release, scenarios]


def build_resources() -> dict:
    return {
        "io_manager": warehouse_io_manager(),
        "lancedb_io_manager": LanceDBIOManager(uri=store_setting("SYNTH_EHR_LANCEDB_URI")),
        "release_specs": ReleaseSpecs(spec_dir=store_setting("SYNTH_EHR_RELEASE_DIR")),
        "artifacts": ArtifactStore(root=store_setting("SYNTH_EHR_ARTIFACT_DIR")),
        "mlflow": mlflow_tracking(),
        "llm": llm_endpoint_from_env(),
    }


def build_definitions() -> dg.Definitions:
    """Assemble the code location; store locations are read from the environment at this moment."""
    assets = with_queue_routing(with_release_automation(dg.load_assets_from_modules(ASSET_MODULES)))
    checks = dg.load_asset_checks_from_modules(ASSET_MODULES)
    checks += drift_checks
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=[release_job, drift_monitor_job],
        sensors=[release_spec_sensor, source_file_sensor, release_automation_sensor],
        schedules=[weekly_release_refresh, nightly_drift_monitor],
        executor=selected_executor(),
        resources=build_resources(),
    )


defs = build_definitions()

"""Resources: release specs, the artifact store and the MLflow tracking store."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from synth_ehr_assets.core.spec import ReleaseSpec, SpecError, load_spec
from synth_ehr_assets.defs.jobs import SPEC_FINGERPRINT_TAG
from synth_ehr_assets.defs.settings import env_or_default, store_setting

MLFLOW_EXPERIMENT = "synth-ehr"
REGISTERED_MODEL_PREFIX = "synth-ehr-"
_MLFLOW_BATCH = 1000  # MLflow's limit of metrics per log_batch call


class ReleaseSpecs(dg.ConfigurableResource):
    """Reads and validates `<spec_dir>/<release_id>.yaml`; within a run tagged `synth_ehr/spec_fingerprint`, a
    spec whose fingerprint no longer matches the tag (edited during the run) is refused."""

    spec_dir: str
    _run_fingerprint: str | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        run = context.dagster_run
        self._run_fingerprint = run.tags.get(SPEC_FINGERPRINT_TAG) if run is not None else None

    def load(self, release_id: str) -> ReleaseSpec:
        path = Path(self.spec_dir) / f"{release_id}.yaml"
        spec = load_spec(path)
        if self._run_fingerprint and spec.fingerprint() != self._run_fingerprint:
            raise SpecError(
                f"{path} changed during this run: the run started with spec {self._run_fingerprint}, the file is "
                f"now {spec.fingerprint()}; one release must not mix two specs, so start a new run"
            )
        return spec


class ArtifactStore(dg.ConfigurableResource):
    """Files that are not tables (fitted transformers, model weights, plots), one folder per release and asset."""

    root: str

    def folder(self, release_id: str, asset_name: str) -> Path:
        path = Path(self.root) / release_id / asset_name
        path.mkdir(parents=True, exist_ok=True)
        return path


class MlflowTracking(dg.ConfigurableResource):
    """MLflow tracking on a sqlite store (MLflow 3 refuses plain file stores): one MLflow run per Dagster run
    (tag `dagster_run_id`), one `log_stage` per model asset, one registered model `synth-ehr-<release>`."""

    tracking_uri: str
    artifact_location: str
    experiment_name: str = MLFLOW_EXPERIMENT

    def _client(self):
        import mlflow  # ~2 s to import; kept out of the code location's load

        return mlflow.MlflowClient(tracking_uri=self.tracking_uri)

    def _experiment_id(self, client) -> str:
        found = client.get_experiment_by_name(self.experiment_name)
        if found is not None:
            return found.experiment_id
        # without an explicit location a sqlite store puts artifacts in ./mlruns of whatever folder the run began in
        location = Path(self.artifact_location).resolve()
        location.mkdir(parents=True, exist_ok=True)
        return client.create_experiment(self.experiment_name, artifact_location=location.as_uri())

    def run_for(self, dagster_run_id: str, run_name: str) -> str:
        """The MLflow run of a Dagster run, created on first use; every step of the run (any process) shares it."""
        client = self._client()
        experiment = self._experiment_id(client)
        found = client.search_runs([experiment], filter_string=f"tags.dagster_run_id = '{dagster_run_id}'",
                                   max_results=1)
        if found:
            return found[0].info.run_id
        return client.create_run(experiment, run_name=run_name, tags={"dagster_run_id": dagster_run_id}).info.run_id

    def log_stage(
        self, context: dg.AssetExecutionContext, stage: str, params: dict[str, Any], metrics: dict[str, float],
        epochs: dict[str, list[dict]], folder: Path, tags: dict[str, str] | None = None,
    ) -> str:
        """Params, final metrics, per-epoch figures (`<prefix>_<name>` stepped by epoch, `epochs` maps prefix to
        records) and `folder` as artifacts under `stage`; returns the MLflow run id."""
        from mlflow.entities import Metric, Param, RunTag

        client, run_id = self._client(), self.run_for(context.run_id, context.job_name)
        now = int(time.time() * 1000)
        rows = [Metric(name, float(value), now, 0) for name, value in metrics.items()]
        for prefix, records in epochs.items():
            rows += [Metric(f"{prefix}_{name}", float(value), now, int(record["epoch"]))
                     for record in records for name, value in record.items()
                     if name != "epoch" and isinstance(value, (int, float))]
        client.log_batch(run_id, params=[Param(k, str(v)) for k, v in params.items()],
                         tags=[RunTag(k, v) for k, v in (tags or {}).items()])
        for start in range(0, len(rows), _MLFLOW_BATCH):
            client.log_batch(run_id, metrics=rows[start:start + _MLFLOW_BATCH])
        client.log_artifacts(run_id, str(folder), artifact_path=stage)
        return run_id

    def register(self, release_id: str, run_id: str, artifact_path: str) -> str:
        """A new version of `synth-ehr-<release>` from the run's `artifact_path`; returns `name/version`."""
        client, name = self._client(), f"{REGISTERED_MODEL_PREFIX}{release_id}"
        if not client.search_registered_models(filter_string=f"name = '{name}'"):
            client.create_registered_model(name, description=f"synth-ehr synthesizer of release {release_id}")
        version = client.create_model_version(name, source=f"runs:/{run_id}/{artifact_path}", run_id=run_id)
        return f"{name}/{version.version}"


def mlflow_tracking() -> MlflowTracking:
    """The resource as `definitions.py` configures it: SYNTH_EHR_MLFLOW_URI (EnvVar when set), artifacts under
    the artifact store's `mlflow/` folder."""
    return MlflowTracking(
        tracking_uri=store_setting("SYNTH_EHR_MLFLOW_URI"),
        artifact_location=str(Path(env_or_default("SYNTH_EHR_ARTIFACT_DIR")) / "mlflow"),
    )


WAREHOUSES = ("duckdb", "delta")


def warehouse_io_manager() -> dg.ConfigurableIOManagerFactory:
    """The tables' IO manager chosen by SYNTH_EHR_WAREHOUSE: `duckdb` (one local file, the default) or `delta`
    (Delta Lake tables under SYNTH_EHR_DELTA_URI, a folder every worker mounts)."""
    name = env_or_default("SYNTH_EHR_WAREHOUSE", "duckdb")
    if name == "duckdb":
        from synth_ehr_assets.io.duckdb_io import duckdb_io_manager

        return duckdb_io_manager(store_setting("SYNTH_EHR_DUCKDB_PATH"))
    if name == "delta":
        from synth_ehr_assets.defs.settings import DATA_DIR
        from synth_ehr_assets.io.delta_io import delta_io_manager

        return delta_io_manager(store_setting("SYNTH_EHR_DELTA_URI", str(DATA_DIR / "delta")))
    raise ValueError(f"SYNTH_EHR_WAREHOUSE={name!r} is not one of {', '.join(WAREHOUSES)}")

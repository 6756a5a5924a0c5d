"""Resources: release specs, the artifact store and the MLflow tracking store."""

import os
from pathlib import Path

import dagster as dg

from synth_ehr_assets.core.spec import ReleaseSpec, load_spec
from synth_ehr_assets.defs.settings import STORE_DEFAULTS, resolved_setting

MLFLOW_EXPERIMENT = "synth-ehr"


class ReleaseSpecs(dg.ConfigurableResource):
    """Reads and validates `<spec_dir>/<release_id>.yaml`."""

    spec_dir: str

    def load(self, release_id: str) -> ReleaseSpec:
        return load_spec(Path(self.spec_dir) / f"{release_id}.yaml")


class ArtifactStore(dg.ConfigurableResource):
    """Files that are not tables (fitted transformers, model weights, plots), one folder per release and asset."""

    root: str

    def folder(self, release_id: str, asset_name: str) -> Path:
        path = Path(self.root) / release_id / asset_name
        path.mkdir(parents=True, exist_ok=True)
        return path


@dg.resource(
    config_schema={
        "experiment_name": dg.Field(dg.StringSource, description="MLflow experiment"),
        "mlflow_tracking_uri": dg.Field(dg.StringSource, description="tracking store, e.g. sqlite:///data/mlflow.db"),
        "extra_tags": dg.Field(dg.Permissive(), default_value={}, description="tags added to every MLflow run"),
        "artifact_location": dg.Field(
            dg.StringSource, description="where the experiment keeps run artifacts (checkpoints, curves)"
        ),
    },
    description="dagster-mlflow tracking: one MLflow run per Dagster run, tagged with the Dagster run id.",
)
def mlflow_tracking_resource(context):
    # dagster_mlflow imports mlflow at module level (~3 s); importing here keeps the code location fast to load.
    import mlflow
    from dagster_mlflow.resources import MlFlow

    # A sqlite tracking store would otherwise put artifacts in ./mlruns of whatever folder the run started in.
    config = context.resource_config
    mlflow.set_tracking_uri(config["mlflow_tracking_uri"])
    if mlflow.get_experiment_by_name(config["experiment_name"]) is None:
        location = Path(config["artifact_location"]).resolve()
        location.mkdir(parents=True, exist_ok=True)
        mlflow.create_experiment(config["experiment_name"], artifact_location=location.as_uri())
    tracker = MlFlow(context)
    yield tracker
    tracker.cleanup_on_error()


def mlflow_resource() -> dg.ResourceDefinition:
    """MLflow on a sqlite store (MLflow 3 refuses plain file stores)."""
    name = "SYNTH_EHR_MLFLOW_URI"
    uri = {"env": name} if os.environ.get(name) else STORE_DEFAULTS[name]
    artifacts = str(Path(resolved_setting("SYNTH_EHR_ARTIFACT_DIR")) / "mlflow")
    return mlflow_tracking_resource.configured(
        {"experiment_name": MLFLOW_EXPERIMENT, "mlflow_tracking_uri": uri, "artifact_location": artifacts}
    )

"""Resources: release specs, the artifact store and the MLflow tracking store."""

import os
from pathlib import Path

import dagster as dg

from synth_ehr_assets.core.spec import ReleaseSpec, load_spec
from synth_ehr_assets.defs.settings import STORE_DEFAULTS

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
    },
    description="dagster-mlflow tracking: one MLflow run per Dagster run, tagged with the Dagster run id.",
)
def mlflow_tracking_resource(context):
    # dagster_mlflow imports mlflow at module level (~3 s); importing here keeps the code location fast to load.
    from dagster_mlflow.resources import MlFlow

    tracker = MlFlow(context)
    yield tracker
    tracker.cleanup_on_error()


def mlflow_resource() -> dg.ResourceDefinition:
    """MLflow on a sqlite store (MLflow 3 refuses plain file stores)."""
    name = "SYNTH_EHR_MLFLOW_URI"
    uri = {"env": name} if os.environ.get(name) else STORE_DEFAULTS[name]
    return mlflow_tracking_resource.configured({"experiment_name": MLFLOW_EXPERIMENT, "mlflow_tracking_uri": uri})

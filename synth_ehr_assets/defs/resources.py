"""Resources: release specs, the artifact store and the MLflow tracking store."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from dagster_mlflow import mlflow_tracking

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


def mlflow_resource() -> dg.ResourceDefinition:
    """dagster-mlflow tracking on a sqlite store (MLflow 3 refuses plain file stores)."""
    name = "SYNTH_EHR_MLFLOW_URI"
    uri = {"env": name} if os.environ.get(name) else STORE_DEFAULTS[name]
    return mlflow_tracking.configured({"experiment_name": MLFLOW_EXPERIMENT, "mlflow_tracking_uri": uri})

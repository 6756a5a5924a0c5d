"""Where the stores live. Each path is a `dg.EnvVar` when its variable is set, else a default under `data/`."""

import os
from pathlib import Path

import dagster as dg

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = PROJECT_ROOT / "data"

# variable -> default; documented in README ("Configuration").
STORE_DEFAULTS: dict[str, str] = {
    "SYNTH_EHR_DUCKDB_PATH": str(DATA_DIR / "warehouse.duckdb"),
    "SYNTH_EHR_LANCEDB_URI": str(DATA_DIR / "lancedb"),
    "SYNTH_EHR_MLFLOW_URI": f"sqlite:///{DATA_DIR / 'mlflow.db'}",
    "SYNTH_EHR_ARTIFACT_DIR": str(DATA_DIR / "artifacts"),
    "SYNTH_EHR_RELEASE_DIR": str(DATA_DIR / "releases"),
    "SYNTH_EHR_WEEKLY_RELEASE": "demo",
}


def store_setting(name: str) -> str | dg.EnvVar:
    """The EnvVar itself when the variable is set (so the UI shows where the value came from), else the default."""
    return dg.EnvVar(name) if os.environ.get(name) else STORE_DEFAULTS[name]


def resolved_setting(name: str) -> str:
    return os.environ.get(name) or STORE_DEFAULTS[name]

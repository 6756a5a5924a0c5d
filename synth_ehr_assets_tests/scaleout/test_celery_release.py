"""A tiny release on real Celery workers: Redis broker, Postgres instance storage, the Delta warehouse, one worker
per queue and the narrative client talking to a llama.cpp server running as its own process."""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from pathlib import Path

import pytest

from synth_ehr_assets.defs.settings import PROJECT_ROOT
from synth_ehr_assets_tests.scaleout import cluster
from synth_ehr_assets_tests.test_end_to_end import BLOCKING_GATES, TINY_SPEC

# ~10 min on a busy 2-core box, most of it the 135M model writing and judging three notes on one thread
pytestmark = [pytest.mark.slow, pytest.mark.celery, pytest.mark.timeout(1500)]
RELEASE = "tiny_celery"
WORKERS = {"w-default": "dagster", "w-train": "train", "w-llm": "llm"}  # worker name -> the one queue it serves
# Three notes on a six-epoch model's claims: one claim upcoded by that model is a third of the notes, so the judge
# bars are relaxed as TINY_SPEC relaxes the fidelity ones; the gate still runs and is recorded (its firing is tested
# in core/test_judge.py and on planted notes through calibration).
SPEC = {**TINY_SPEC, "narratives": {"engine": "llm", "sample_size": 3, "calibration_per_kind": 2,
                                    "llm_calibration_cases": 8,
                                    "max_note_regenerations": 0, "max_symptom_retries": 1,
                                    "min_pass_share": 0.6, "max_clean_flag_rate": 0.5}}


def release_env(stores: Path, home: Path) -> dict:
    """What the run and every worker see: the same stores, the Delta warehouse, the Celery executor."""
    return {**os.environ, "DAGSTER_HOME": str(home), "SYNTH_EHR_EXECUTOR": "celery", "SYNTH_EHR_WAREHOUSE": "delta",
            "SYNTH_EHR_DELTA_URI": str(stores / "delta"), "SYNTH_EHR_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1",
            "PYTHONPATH": str(PROJECT_ROOT)}


def materialize_release(release_id: str, config: Path, env: dict) -> subprocess.CompletedProcess:
    """`release add` then every asset of the release through the `dagster` CLI, as an operator would run it."""
    from synth_ehr_assets.definitions import build_definitions

    subprocess.run([sys.executable, "-m", "synth_ehr_assets.cli", "release", "add", release_id], env=env,
                   cwd=PROJECT_ROOT, check=True, capture_output=True)
    graph = build_definitions().resolve_asset_graph()
    selection = ",".join(sorted(key.to_user_string() for key in graph.materializable_asset_keys))
    return subprocess.run(
        [str(cluster.BIN / "dagster"), "asset", "materialize", "-m", "synth_ehr_assets.definitions", "--select",
         selection, "--partition", release_id, "-c", str(config)],
        env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=900,
    )


def step_workers(instance, run_id: str) -> dict[str, str]:
    """Step key -> the Celery worker that ran it, from the run's engine events."""
    from dagster import DagsterEventType

    records = instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT)
    return {
        record.step_key: record.dagster_event.engine_event_data.metadata["Celery worker"].value
        for record in records
        if record.step_key and "Celery worker" in (record.dagster_event.engine_event_data.metadata or {})
    }


def test_a_release_runs_on_celery_workers_routed_by_queue(write_spec, stores, monkeypatch):
    missing = cluster.missing_services()
    if missing:
        pytest.skip("; ".join(missing))
    import dagster as dg

    from synth_ehr_assets.core.export.bundle import verify_release
    from synth_ehr_assets.core.narratives.cache import ResponseCache, default_cache_path
    from synth_ehr_assets.definitions import build_definitions
    from synth_ehr_assets.defs.executors import step_queues
    from synth_ehr_assets.io.delta_io import read_delta_table

    write_spec(RELEASE, SPEC)
    home, logs = stores / "dagster_home", stores / "logs"
    logs.mkdir()
    env = release_env(stores, home)
    for name in ("DAGSTER_HOME", "SYNTH_EHR_EXECUTOR", "SYNTH_EHR_WAREHOUSE", "SYNTH_EHR_DELTA_URI"):
        monkeypatch.setenv(name, env[name])
    with ExitStack() as stack:
        broker = stack.enter_context(cluster.redis_broker(logs))
        postgres = stack.enter_context(cluster.postgres_storage(logs))
        cluster.write_instance(home, postgres)
        base_url, model = stack.enter_context(cluster.llm_service(logs, env))
        keyless = urllib.request.Request(f"{base_url}/chat/completions", method="POST", data=json.dumps(
            {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}).encode())
        with pytest.raises(urllib.error.HTTPError, match="401"):
            urllib.request.urlopen(keyless, timeout=30)  # the service refuses a request without the key
        env.update(SYNTH_EHR_LLM_BASE_URL=base_url, SYNTH_EHR_LLM_MODEL=model, SYNTH_EHR_LLM_API_KEY=cluster.LLM_KEY)
        config = cluster.celery_config(logs, broker)
        stack.enter_context(cluster.celery_workers(logs, config, WORKERS, env))
        started = time.perf_counter()
        run = materialize_release(RELEASE, config, env)
        seconds = time.perf_counter() - started
        assert run.returncode == 0, f"release failed after {seconds:.0f}s:\n{run.stdout[-3000:]}{run.stderr[-3000:]}"

        with dg.DagsterInstance.get() as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            (record,) = instance.get_run_records()
            assert record.dagster_run.status == dg.DagsterRunStatus.SUCCESS
            ran_on = step_workers(instance, record.dagster_run.run_id)
            evaluations = [e.dagster_event.event_specific_data for e in instance.all_logs(
                record.dagster_run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)]
            judged = instance.get_latest_materialization_event(dg.AssetKey("judge_scores"))
    # the LLM judge scored a calibration sample no larger than the spec allows (3 notes leave fewer clean bases)
    assert 0 < judged.asset_materialization.metadata["calibration_llm_cases"].value <= SPEC["narratives"][
        "llm_calibration_cases"]
    queues = step_queues(build_definitions().resolve_job_def("release_job"))
    assert set(queues.values()) == {"train", "llm", "dagster"}
    assert set(ran_on) == set(queues), f"steps not run on a worker: {set(queues) - set(ran_on)}"
    worker_of_queue = {queue: name for name, queue in WORKERS.items()}
    assert {step: worker.split("@")[0] for step, worker in ran_on.items()} == {
        step: worker_of_queue[queue] for step, queue in queues.items()}

    passed = {(e.asset_key.to_user_string(), e.check_name): e.passed for e in evaluations}
    assert BLOCKING_GATES <= set(passed) and all(passed[key] for key in BLOCKING_GATES)
    folder = stores / "releases" / RELEASE
    assert verify_release(folder) == []
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["row_counts"]["claims"] == SPEC["rows"] and manifest["row_counts"]["notes"] == 3
    claims = read_delta_table(str(stores / "delta"), "synthetic_claims", RELEASE)
    assert claims.height == SPEC["rows"]
    notes = read_delta_table(str(stores / "delta"), "provider_notes", RELEASE)
    assert notes.height == 3 and "failed" not in set(notes["status"]), notes["failure_reason"].to_list()
    assert set(notes["model"]) == {model}
    with ResponseCache(default_cache_path(os.environ["SYNTH_EHR_DUCKDB_PATH"])) as cache:
        assert len(cache) >= notes.height  # every request answered by the service, cached for a re-run
    print(f"celery release: {seconds:.1f}s, {len(ran_on)} steps on {sorted(set(ran_on.values()))}")

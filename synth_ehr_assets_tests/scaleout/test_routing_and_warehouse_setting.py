"""Where steps go under Celery and which warehouse the tables use are each decided by one setting."""

import pytest

from synth_ehr_assets.defs.executors import DEFAULT_QUEUE, STEP_QUEUES, step_queues, with_queue_routing


def test_training_and_narrative_steps_get_their_queues_and_the_rest_the_default(stores):
    from synth_ehr_assets.definitions import build_definitions

    queues = step_queues(build_definitions().resolve_job_def("release_job"))
    assert {step for step, queue in queues.items() if queue == "train"} == {
        "encoded_features", "feature_autoencoder", "gan_checkpoint"}
    assert {step for step, queue in queues.items() if queue == "llm"} == {
        "synthetic_symptoms", "provider_notes", "judge_scores"}
    assert {"source_tables", "synthetic_claims", "release"} <= {s for s, q in queues.items() if q == DEFAULT_QUEUE}


def test_a_queue_for_an_asset_that_does_not_exist_is_refused(monkeypatch):
    import dagster as dg

    @dg.asset
    def lonely() -> int:
        return 1

    monkeypatch.setitem(STEP_QUEUES, "renamed_asset", "train")
    with pytest.raises(ValueError, match="renamed_asset"):
        with_queue_routing([lonely])


@pytest.mark.parametrize(("setting", "manager"), [("duckdb", "ReleaseDuckDBIOManager"),
                                                  ("delta", "ReleaseDeltaIOManager")])
def test_the_warehouse_setting_picks_the_io_manager(stores, monkeypatch, setting, manager):
    from synth_ehr_assets.definitions import build_resources

    monkeypatch.setenv("SYNTH_EHR_WAREHOUSE", setting)
    assert type(build_resources()["io_manager"]).__name__ == manager


def test_an_unknown_warehouse_names_the_choices(monkeypatch):
    from synth_ehr_assets.defs.resources import warehouse_io_manager

    monkeypatch.setenv("SYNTH_EHR_WAREHOUSE", "parquet")
    with pytest.raises(ValueError, match="duckdb, delta"):
        warehouse_io_manager()


def test_celery_instance_config_loads_with_postgres_storage(monkeypatch):
    from dagster._core.instance.config import dagster_instance_config

    from synth_ehr_assets.defs.settings import PROJECT_ROOT

    for name in ("DAGSTER_PG_HOST", "DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD"):
        monkeypatch.setenv(name, "example")
    config, _ = dagster_instance_config(str(PROJECT_ROOT / "deploy" / "celery"))
    assert config["storage"]["postgres"]["postgres_db"]["db_name"] == "dagster"
    assert config["concurrency"]["pools"]["default_limit"] == 1

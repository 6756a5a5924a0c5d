"""The Helm values and the pods' config map in deploy/k8s agree with the instance config, the run config and the
code: the same namespace, config maps, secrets, shared volume, Postgres database and pools; every variable the
config map sets is one the code reads; with that environment `release_job` runs on the k8s executor, writes the
Delta warehouse on the shared volume and accepts the run config."""

from pathlib import Path

import dagster as dg
import pytest
import yaml

from synth_ehr_assets.defs.settings import PROJECT_ROOT

K8S = PROJECT_ROOT / "deploy" / "k8s"
# Fields Dagster's chart (1.13) accepts in the blocks used here; a misspelt key would be ignored by Helm.
USER_DEPLOYMENT_FIELDS = {"name", "image", "port", "dagsterApiGrpcArgs", "codeServerArgs", "env", "envConfigMaps",
                          "envSecrets", "volumeMounts", "volumes", "resources", "nodeSelector", "labels",
                          "annotations", "affinity", "tolerations", "includeConfigInLaunchedRuns"}
K8S_LAUNCHER_FIELDS = {"image", "imagePullPolicy", "jobNamespace", "loadInclusterConfig", "kubeconfigFile",
                       "envConfigMaps", "envSecrets", "envVars", "volumeMounts", "volumes", "labels",
                       "failPodOnRunFailure", "runK8sConfig"}
POSTGRES_FIELDS = {"enabled", "image", "postgresqlHost", "postgresqlUsername", "postgresqlPassword",
                   "postgresqlDatabase", "postgresqlParams", "postgresqlScheme", "service"}


def _yaml(name: str) -> dict:
    return yaml.safe_load((K8S / name).read_text())


def _names(refs: list[dict]) -> list[str]:
    return [ref["name"] for ref in refs]


@pytest.fixture(scope="module")
def deploy() -> dict:
    return {"values": _yaml("values.yaml"), "env": _yaml("env.yaml"), "instance": _yaml("dagster.yaml"),
            "run": _yaml("run_config.yaml")}


def test_values_use_only_chart_fields_and_match_the_instance_config(deploy):
    values, launcher = deploy["values"], deploy["instance"]["run_launcher"]["config"]
    (code,) = values["dagster-user-deployments"]["deployments"]
    k8s = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert set(code) <= USER_DEPLOYMENT_FIELDS and set(k8s) <= K8S_LAUNCHER_FIELDS
    assert set(values["postgresql"]) <= POSTGRES_FIELDS and values["runLauncher"]["type"] == "K8sRunLauncher"
    assert code["dagsterApiGrpcArgs"] == ["-m", "synth_ehr_assets.definitions"]

    assert k8s["jobNamespace"] == launcher["job_namespace"] == deploy["run"]["execution"]["config"]["job_namespace"]
    assert k8s["jobNamespace"] == deploy["env"]["metadata"]["namespace"]
    for refs in (code, k8s):
        assert _names(refs["envConfigMaps"]) == launcher["env_config_maps"] == [deploy["env"]["metadata"]["name"]]
        assert _names(refs["envSecrets"]) == launcher["env_secrets"]
        assert refs["volumes"] == launcher["volumes"] and refs["volumeMounts"] == launcher["volume_mounts"]
    account = values["serviceAccount"]["name"]
    assert account == values["global"]["serviceAccountName"] == launcher["service_account_name"]
    assert values["global"]["dagsterInstanceConfigMap"] == launcher["instance_config_map"]

    postgres, storage = values["postgresql"], deploy["instance"]["storage"]["postgres"]["postgres_db"]
    assert not postgres["enabled"]  # external instance storage, not the chart's bundled database
    assert (postgres["postgresqlDatabase"], postgres["service"]["port"]) == (storage["db_name"], storage["port"])
    queued = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    concurrency = deploy["instance"]["concurrency"]
    assert queued["maxConcurrentRuns"] == concurrency["runs"]["max_concurrent_runs"]
    assert values["concurrency"]["pools"] == {"defaultLimit": concurrency["pools"]["default_limit"],
                                              "granularity": concurrency["pools"]["granularity"]}


def test_every_variable_of_the_config_map_is_read_by_the_code(deploy):
    source = "\n".join(p.read_text() for p in (PROJECT_ROOT / "synth_ehr_assets").rglob("*.py"))
    unread = [name for name in deploy["env"]["data"] if f'"{name}"' not in source]
    assert not unread, f"the config map sets variables nothing reads: {unread}"


def test_with_the_config_map_the_release_job_runs_on_k8s_over_the_shared_delta_warehouse(deploy, monkeypatch):
    for name, value in deploy["env"]["data"].items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SYNTH_EHR_LLM_API_KEY", "from-the-secret")
    from synth_ehr_assets.definitions import build_definitions, build_resources

    mount = Path(deploy["values"]["runLauncher"]["config"]["k8sRunLauncher"]["volumeMounts"][0]["mountPath"])
    stores = [v for k, v in deploy["env"]["data"].items() if k.endswith(("_URI", "_DIR", "_PATH"))]
    assert all(mount.as_posix() in value for value in stores), stores  # every store on the shared volume
    warehouse = build_resources()["io_manager"]
    assert type(warehouse).__name__ == "ReleaseDeltaIOManager"
    job = build_definitions().resolve_job_def("release_job")
    assert job.executor_def.name == "k8s"
    config = dg.validate_run_config(job, deploy["run"])
    assert config["resources"]["llm"]["config"]["base_url"] == deploy["env"]["data"]["SYNTH_EHR_LLM_BASE_URL"]

"""Small releases (four by default; the end-to-end test's tiny spec) on the in-process, multiprocess and Celery
(two workers, each serving every queue) executors: wall time and orchestration overhead per step.

Every executor uses the same Postgres instance storage and Delta warehouse, so only the executor differs; the
releases run one after another through `dagster asset materialize`, as an operator would start them. Per-step
overhead is (release wall time - the steps' own compute time) / steps; the graph is nearly a chain (the warehouse
pool admits one table step at a time), so that gap is what launching, queueing and result passing cost.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/scaleout.py [--releases 4] [--executors in_process,multiprocess,celery]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synth_ehr_assets_tests.conftest import STORE_VARIABLES  # noqa: E402
from synth_ehr_assets_tests.scaleout import cluster  # noqa: E402
from synth_ehr_assets_tests.scaleout.test_celery_release import materialize_release, release_env  # noqa: E402
from synth_ehr_assets_tests.test_end_to_end import TINY_SPEC  # noqa: E402

CELERY_WORKERS = {"w-1": "dagster,train,llm", "w-2": "dagster,train,llm"}


def _step_times(instance, run_id: str) -> dict[str, float]:
    """Step key -> seconds from its STEP_START to its STEP_SUCCESS (the step's own work)."""
    import dagster as dg

    starts, seconds = {}, {}
    for record in instance.all_logs(run_id, of_type={dg.DagsterEventType.STEP_START,
                                                     dg.DagsterEventType.STEP_SUCCESS}):
        if record.dagster_event.event_type == dg.DagsterEventType.STEP_START:
            starts[record.step_key] = record.timestamp
        else:
            seconds[record.step_key] = record.timestamp - starts[record.step_key]
    return seconds


def run_executor(executor: str, folder: Path, releases: int) -> dict:
    import dagster as dg

    stores, home = folder / executor, folder / executor / "dagster_home"
    (stores / "releases").mkdir(parents=True)
    env = release_env(stores, home)
    env.update({name: str(stores / relative) for name, relative in STORE_VARIABLES.items()},
               SYNTH_EHR_MLFLOW_URI=f"sqlite:///{stores / 'mlflow.db'}", SYNTH_EHR_EXECUTOR=executor)
    with ExitStack() as stack:
        broker = stack.enter_context(cluster.redis_broker(stores))
        cluster.write_instance(home, stack.enter_context(cluster.postgres_storage(stores)))
        config = cluster.celery_config(stores, broker)
        if executor == "celery":
            stack.enter_context(cluster.celery_workers(stores, config, CELERY_WORKERS, env))
        else:
            config = stores / "no_config.yaml"
            config.write_text("{}\n")
        walls = []
        for index in range(releases):
            release_id = f"bench_{executor}_{index}"
            # the end-to-end test's tiny release (1,500 source claims, 300 released, design narratives)
            (stores / "releases" / f"{release_id}.yaml").write_text(yaml.safe_dump(TINY_SPEC, sort_keys=False))
            started = time.perf_counter()
            run = materialize_release(release_id, config, env)
            walls.append(time.perf_counter() - started)
            if run.returncode != 0:
                raise RuntimeError(f"{executor} {release_id} failed:\n{run.stdout[-2000:]}{run.stderr[-2000:]}")
        os.environ["DAGSTER_HOME"] = str(home)
        with dg.DagsterInstance.get() as instance:
            steps = [_step_times(instance, r.dagster_run.run_id) for r in instance.get_run_records()]
    compute = sum(sum(s.values()) for s in steps)
    count = sum(len(s) for s in steps)
    return {"executor": executor, "releases": releases, "wall": sum(walls), "per_release": sum(walls) / releases,
            "steps": count, "compute": compute, "overhead_per_step": (sum(walls) - compute) / count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--releases", type=int, default=4)
    parser.add_argument("--executors", default="in_process,multiprocess,celery")
    args = parser.parse_args()
    missing = cluster.missing_services()
    if missing:
        raise SystemExit("cannot run: " + "; ".join(missing))
    os.environ.setdefault("SYNTH_EHR_TORCH_THREADS", "1")
    rows = []
    with tempfile.TemporaryDirectory(prefix="synth-ehr-scaleout-") as folder:
        for executor in args.executors.split(","):
            rows.append(run_executor(executor, Path(folder), args.releases))
            print(rows[-1], file=sys.stderr, flush=True)
    print("| executor | releases | wall s | s per release | steps | step compute s | overhead s per step |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['executor']} | {r['releases']} | {r['wall']:.1f} | {r['per_release']:.1f} | {r['steps']} | "
              f"{r['compute']:.1f} | {r['overhead_per_step']:.2f} |")


if __name__ == "__main__":
    main()

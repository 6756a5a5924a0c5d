"""Executor chosen by SYNTH_EHR_EXECUTOR: in-process/multiprocess locally, Kubernetes or Celery when scaled out,
and the Celery queue each step goes to (`dagster-celery/queue` op tag), set here for the whole graph."""

import copy

import dagster as dg

from synth_ehr_assets.defs.settings import env_or_default

EXECUTORS = ("multiprocess", "in_process", "k8s", "celery")

QUEUE_TAG = "dagster-celery/queue"  # read by dagster-celery's execution loop when it submits a step
DEFAULT_QUEUE = "dagster"  # dagster-celery's task_default_queue: every step without a queue tag
# Steps that need a trainer (on a cluster the GPU pool) or the LLM endpoint; all other steps use DEFAULT_QUEUE.
STEP_QUEUES: dict[str, str] = {
    "encoded_features": "train",
    "feature_autoencoder": "train",
    "gan_checkpoint": "train",
    "synthetic_symptoms": "llm",
    "provider_notes": "llm",
    "judge_scores": "llm",
}


def selected_executor() -> dg.ExecutorDefinition:
    name = env_or_default("SYNTH_EHR_EXECUTOR", "multiprocess")
    if name == "multiprocess":
        return dg.multiprocess_executor
    if name == "in_process":
        return dg.in_process_executor
    if name == "k8s":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor
    if name == "celery":
        from dagster_celery import celery_executor

        return celery_executor
    raise ValueError(f"SYNTH_EHR_EXECUTOR={name!r} is not one of {', '.join(EXECUTORS)}")


def with_queue_routing(assets: list[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    """The assets with the `dagster-celery/queue` tag of STEP_QUEUES on their op; other executors ignore it.

    Dagster copies op tags (not asset tags) onto execution steps and offers no public way to add op tags to a
    built asset, so the op is copied with its tags extended; every asset file keeps its plain `@dg.asset`.
    """
    unknown = set(STEP_QUEUES) - {key.to_user_string() for a in assets for key in a.keys}
    if unknown:
        raise ValueError(f"STEP_QUEUES names assets that do not exist: {sorted(unknown)}")
    routed = []
    for asset in assets:
        queues = {STEP_QUEUES.get(key.to_user_string()) for key in asset.keys} - {None}
        if not queues:
            routed.append(asset)
            continue
        if len(queues) > 1:
            raise ValueError(f"{asset.node_def.name} computes assets bound for several queues: {sorted(queues)}")
        op = copy.copy(asset.node_def)
        op._tags = {**asset.node_def.tags, QUEUE_TAG: queues.pop()}
        routed.append(dg.AssetsDefinition.dagster_internal_init(**{**asset.get_attributes_dict(), "node_def": op}))
    return routed


def step_queues(job: dg.JobDefinition) -> dict[str, str]:
    """Step key -> the queue dagster-celery sends it to, as the job's execution plan says."""
    from dagster._core.execution.api import create_execution_plan

    plan = create_execution_plan(job)
    return {step.key: step.tags.get(QUEUE_TAG, DEFAULT_QUEUE) for step in plan.steps}

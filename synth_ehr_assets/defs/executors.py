"""Executor chosen by SYNTH_EHR_EXECUTOR: in-process/multiprocess locally, Kubernetes or Celery when scaled out."""

import dagster as dg

from synth_ehr_assets.defs.settings import env_or_default

EXECUTORS = ("multiprocess", "in_process", "k8s", "celery")


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

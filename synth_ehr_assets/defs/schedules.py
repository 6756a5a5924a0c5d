"""Weekly release refresh; the nightly drift monitor lives with the evaluation checks."""

import dagster as dg

from synth_ehr_assets.core.spec import SpecError
from synth_ehr_assets.defs.jobs import SPEC_FINGERPRINT_TAG, release_job
from synth_ehr_assets.defs.partitions import release_partitions
from synth_ehr_assets.defs.resources import ReleaseSpecs
from synth_ehr_assets.defs.settings import env_or_default


@dg.schedule(
    job=release_job,
    cron_schedule="0 3 * * 1",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def weekly_release_refresh(context: dg.ScheduleEvaluationContext, release_specs: ReleaseSpecs):
    """Mondays 03:00 UTC: re-materialize the release named by SYNTH_EHR_WEEKLY_RELEASE (default `demo`)."""
    release_id = env_or_default("SYNTH_EHR_WEEKLY_RELEASE")
    try:
        spec = release_specs.load(release_id)
    except SpecError as error:
        return dg.SkipReason(f"weekly refresh skipped: {error}")
    if not context.instance.has_dynamic_partition(release_partitions.name, release_id):
        return dg.SkipReason(f"release {release_id} has no partition yet (add it with `synth-ehr release add`)")
    return dg.RunRequest(
        run_key=f"{release_id}:{context.scheduled_execution_time:%Y-%m-%d}",
        partition_key=release_id,
        tags={SPEC_FINGERPRINT_TAG: spec.fingerprint()},
    )

"""Drift monitor: the newest release's fidelity and privacy figures against a baseline of the same kind, either
that release's own previous materialization (the weekly refresh) or the release its spec names in
`drift.compare_to`. Two unrelated releases (a 3,000-claim reference run after the demo) are never compared."""

import datetime as dt

import dagster as dg

from synth_ehr_assets.core.monitoring import DriftThresholds, compare_figures, drift_table
from synth_ehr_assets.core.spec import SpecError
from synth_ehr_assets.defs.resources import ReleaseSpecs
from synth_ehr_assets.defs.settings import env_or_default

MONITORED_ASSETS = ("fidelity_report", "privacy_report")


def drift_thresholds() -> DriftThresholds:
    """SYNTH_EHR_DRIFT_RELATIVE / SYNTH_EHR_DRIFT_ABSOLUTE override the defaults (10% and 0.02)."""
    default = DriftThresholds()
    return DriftThresholds(
        relative=float(env_or_default("SYNTH_EHR_DRIFT_RELATIVE", str(default.relative))),
        absolute=float(env_or_default("SYNTH_EHR_DRIFT_ABSOLUTE", str(default.absolute))),
    )


TIMINGS = ("seconds",)  # how long a step took moves between identical runs: not a figure of the release


def figures(record) -> dict[str, float]:
    return {
        key: float(value.value)
        for key, value in record.asset_materialization.metadata.items()
        if isinstance(value, dg.FloatMetadataValue) and value.value is not None and key not in TIMINGS
    }


def describe(record) -> str:
    when = dt.datetime.fromtimestamp(record.timestamp, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"{record.asset_materialization.partition} (run {record.run_id[:8]}, {when})"


def _materializations(instance: dg.DagsterInstance, asset: str, release: str | None = None, limit: int = 1):
    partitions = [release] if release else None
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=partitions), limit=limit
    ).records
    return [r for r in records if r.asset_materialization and r.asset_materialization.partition]


def _compare_to(release_specs: ReleaseSpecs, release: str) -> str | None:
    try:
        return release_specs.load(release).drift.compare_to
    except SpecError:  # spec file gone or invalid: only the release's own history is left to compare with
        return None


def drift_pair(instance: dg.DagsterInstance, asset: str, release_specs: ReleaseSpecs, release: str | None = None):
    """(current, baseline, rule) for `release` (default: the newest materialized one); baseline is None when
    there is none yet."""
    newest = _materializations(instance, asset, release)
    if not newest:
        return None, None, "no materialization yet"
    current, release = newest[0], newest[0].asset_materialization.partition
    target = _compare_to(release_specs, release)
    if target and target != release:
        found = _materializations(instance, asset, target)
        return current, (found[0] if found else None), f"drift.compare_to: {target} in the spec of {release}"
    own = _materializations(instance, asset, release, limit=2)
    return current, (own[1] if len(own) > 1 else None), f"previous materialization of {release}"


def _drift_check(asset: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset,
        name=f"{asset.split('_')[0]}_drift",
        blocking=False,
        description=f"The newest release's {asset} figures against its previous materialization, or against the "
                    "release named by its spec's drift.compare_to; fails (WARN) on drift.",
    )
    def drift_check(context: dg.AssetCheckExecutionContext, release_specs: ReleaseSpecs) -> dg.AssetCheckResult:
        thresholds = drift_thresholds()
        # inside a release run, the run's own release; in the nightly monitor, the newest one
        release = context.run.tags.get("dagster/partition")
        current, baseline, rule = drift_pair(context.instance, asset, release_specs, release)
        if baseline is None:
            named = describe(current) if current else "none"
            return dg.AssetCheckResult(passed=True, metadata={
                "current": named, "baseline_rule": rule, "note": f"no baseline to compare with ({rule})",
            })
        changes, drifted = compare_figures(figures(baseline), figures(current), thresholds)
        if drifted:
            context.log.warning(f"{asset}: {len(drifted)} figure(s) drifted from {describe(baseline)} to "
                                f"{describe(current)}")
        return dg.AssetCheckResult(
            passed=not drifted,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "current": describe(current),
                "baseline": describe(baseline),
                "baseline_rule": rule,
                "current_release": current.asset_materialization.partition,
                "baseline_release": baseline.asset_materialization.partition,
                "figures_compared": len(changes),
                "figures_drifted": ", ".join(change.figure for change in drifted) or "none",
                "relative_threshold": thresholds.relative,
                "absolute_threshold": thresholds.absolute,
                "changes": dg.MetadataValue.md(drift_table(changes, thresholds)),
            },
        )

    return drift_check


drift_checks = [_drift_check(asset) for asset in MONITORED_ASSETS]

drift_monitor_job = dg.define_asset_job(
    "drift_monitor_job",
    selection=dg.AssetSelection.checks(*drift_checks),
    description="Compare the newest release's fidelity and privacy figures with its baseline (see drift checks).",
)

nightly_drift_monitor = dg.ScheduleDefinition(
    name="nightly_drift_monitor",
    job=drift_monitor_job,
    cron_schedule="30 2 * * *",
    execution_timezone="UTC",
    # Read-only and cheap, so it runs as soon as the daemon does; a drift shows as a failed WARN check.
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="02:30 UTC: flag fidelity/privacy figures that moved beyond the drift thresholds.",
)

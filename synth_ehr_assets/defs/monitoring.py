"""Nightly drift monitor: the newest release's fidelity and privacy figures against the release before it."""

import os

import dagster as dg

from synth_ehr_assets.core.monitoring import DriftThresholds, compare_figures, drift_table

MONITORED_ASSETS = ("fidelity_report", "privacy_report")


def drift_thresholds() -> DriftThresholds:
    """SYNTH_EHR_DRIFT_RELATIVE / SYNTH_EHR_DRIFT_ABSOLUTE override the defaults (10% and 0.02)."""
    default = DriftThresholds()
    return DriftThresholds(
        relative=float(os.environ.get("SYNTH_EHR_DRIFT_RELATIVE", default.relative)),
        absolute=float(os.environ.get("SYNTH_EHR_DRIFT_ABSOLUTE", default.absolute)),
    )


def latest_figures_per_release(instance: dg.DagsterInstance, asset: str, releases: int = 2) -> list[tuple[str, dict]]:
    """[(release_id, {figure: value})] for the most recently materialized releases, newest first."""
    found: list[tuple[str, dict]] = []
    records = instance.fetch_materializations(dg.AssetKey(asset), limit=500).records
    for record in sorted(records, key=lambda r: r.timestamp, reverse=True):
        materialization = record.asset_materialization
        release = materialization.partition if materialization else None
        if release is None or any(release == seen for seen, _ in found):
            continue
        figures = {
            key: float(value.value)
            for key, value in materialization.metadata.items()
            if isinstance(value, dg.FloatMetadataValue) and value.value is not None
        }
        found.append((release, figures))
        if len(found) == releases:
            break
    return found


def _drift_check(asset: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset,
        name=f"{asset.split('_')[0]}_drift",
        blocking=False,
        description=f"Compares the newest release's {asset} figures with the previous release's; fails on drift.",
    )
    def drift_check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        thresholds = drift_thresholds()
        releases = latest_figures_per_release(context.instance, asset)
        if len(releases) < 2:
            return dg.AssetCheckResult(
                passed=True, metadata={"note": f"fewer than two releases have a {asset} yet; nothing to compare"}
            )
        (current_id, current), (previous_id, previous) = releases
        changes, drifted = compare_figures(previous, current, thresholds)
        if drifted:
            context.log.warning(f"{asset}: {len(drifted)} figure(s) drifted from {previous_id} to {current_id}")
        return dg.AssetCheckResult(
            passed=not drifted,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "current_release": current_id,
                "previous_release": previous_id,
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
    description="Compare the two newest releases' fidelity and privacy figures.",
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

"""The nightly drift monitor compares the two newest releases' report figures on a real instance."""

import dagster as dg
import pytest

from synth_ehr_assets.core.monitoring import DriftThresholds, compare_figures
from synth_ehr_assets.defs.monitoring import drift_checks, drift_monitor_job, nightly_drift_monitor
from synth_ehr_assets.defs.partitions import release_partitions

FIGURES = {
    "steady": {"quality_score": 0.86, "dcr_overfitting_protection": 0.97},
    "steady_again": {"quality_score": 0.85, "dcr_overfitting_protection": 0.96},
    "degraded": {"quality_score": 0.61, "dcr_overfitting_protection": 0.96},
}


def _report(name: str) -> dg.AssetsDefinition:
    @dg.asset(name=name, partitions_def=release_partitions)
    def report(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        figures = FIGURES[context.partition_key]
        return dg.MaterializeResult(metadata={key: dg.MetadataValue.float(v) for key, v in figures.items()})

    return report


def _run_monitor(*releases: str) -> dg.AssetCheckEvaluation:
    defs = dg.Definitions(
        assets=[_report("fidelity_report"), _report("privacy_report")],
        asset_checks=drift_checks,
        jobs=[drift_monitor_job],
        schedules=[nightly_drift_monitor],
    )
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("release", list(FIGURES))
        for release in releases:
            dg.materialize([defs.get_assets_def(n) for n in ("fidelity_report", "privacy_report")], partition_key=release, instance=instance)
        result = defs.resolve_job_def("drift_monitor_job").execute_in_process(instance=instance)
        return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_small_moves_pass():
    evaluation = _run_monitor("steady", "steady_again")["fidelity_drift"]
    assert evaluation.passed
    assert evaluation.metadata["figures_compared"].value == 2
    assert evaluation.metadata["previous_release"].value == "steady"


def test_a_figure_beyond_threshold_fails_and_is_named():
    evaluation = _run_monitor("steady", "degraded")["fidelity_drift"]
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.metadata["figures_drifted"].value == "quality_score"
    assert evaluation.metadata["current_release"].value == "degraded"


def test_single_release_has_nothing_to_compare():
    evaluations = _run_monitor("steady")
    assert evaluations["fidelity_drift"].passed
    assert "fewer than two" in evaluations["privacy_drift"].metadata["note"].value


@pytest.mark.parametrize(
    ("previous", "current", "drifted"),
    [(0.9, 0.89, False), (0.9, 0.7, True), (0.001, 0.003, False), (100.0, 115.0, True), (float("nan"), 1.0, True)],
)
def test_compare_figures_needs_both_relative_and_absolute_move(previous, current, drifted):
    _, moved = compare_figures({"x": previous}, {"x": current}, DriftThresholds(relative=0.1, absolute=0.02))
    assert bool(moved) is drifted

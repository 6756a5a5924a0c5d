"""The drift monitor compares like with like: a release with its own previous materialization, or with the release
its spec names in `drift.compare_to`; never with whichever other release ran last."""

import dagster as dg
import pytest

from synth_ehr_assets.core.monitoring import DriftThresholds, compare_figures
from synth_ehr_assets.defs.monitoring import drift_checks, drift_monitor_job, nightly_drift_monitor
from synth_ehr_assets.defs.partitions import release_partitions
from synth_ehr_assets.defs.resources import ReleaseSpecs

STEADY = {"quality_score": 0.86, "dcr_overfitting_protection": 0.97}
STEADY_AGAIN = {"quality_score": 0.85, "dcr_overfitting_protection": 0.96}
DEGRADED = {"quality_score": 0.61, "dcr_overfitting_protection": 0.96}


def _report(name: str, figures: dict) -> dg.AssetsDefinition:
    @dg.asset(name=name, partitions_def=release_partitions)
    def report(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={key: dg.MetadataValue.float(v) for key, v in figures.items()})

    return report


def _run_monitor(tmp_path, runs: list[tuple[str, dict]], specs: dict[str, str] | None = None) -> dict:
    """Materialize (release, figures) in order, then run the nightly monitor; specs maps release -> YAML text."""
    for release, text in (specs or {}).items():
        (tmp_path / f"{release}.yaml").write_text(text)
    resources = {"release_specs": ReleaseSpecs(spec_dir=str(tmp_path))}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("release", sorted({release for release, _ in runs}))
        for release, figures in runs:
            assets = [_report(n, figures) for n in ("fidelity_report", "privacy_report")]
            dg.materialize(assets, partition_key=release, instance=instance, resources=resources)
        defs = dg.Definitions(
            assets=[_report(n, {}) for n in ("fidelity_report", "privacy_report")], asset_checks=drift_checks,
            jobs=[drift_monitor_job], schedules=[nightly_drift_monitor], resources=resources,
        )
        result = defs.resolve_job_def("drift_monitor_job").execute_in_process(instance=instance)
        return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_a_refresh_with_small_moves_passes_against_its_previous_materialization(tmp_path):
    evaluation = _run_monitor(tmp_path, [("weekly", STEADY), ("weekly", STEADY_AGAIN)])["fidelity_drift"]
    assert evaluation.passed
    assert evaluation.metadata["figures_compared"].value == 2
    assert evaluation.metadata["baseline_rule"].value == "previous materialization of weekly"
    assert evaluation.metadata["baseline"].value.startswith("weekly (run ")


def test_how_long_the_step_took_is_not_a_figure_that_drifts(tmp_path):
    slow = _run_monitor(tmp_path, [("weekly", {**STEADY, "seconds": 3.7}), ("weekly", {**STEADY, "seconds": 4.6})])
    assert slow["fidelity_drift"].passed and slow["fidelity_drift"].metadata["figures_compared"].value == 2


def test_a_refresh_beyond_threshold_fails_and_names_the_figure(tmp_path):
    evaluation = _run_monitor(tmp_path, [("weekly", STEADY), ("weekly", DEGRADED)])["fidelity_drift"]
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.metadata["figures_drifted"].value == "quality_score"
    assert evaluation.metadata["current_release"].value == "weekly"


def test_an_unrelated_release_run_after_another_is_not_compared_with_it(tmp_path):
    evaluations = _run_monitor(tmp_path, [("demo", STEADY), ("reference_3k", DEGRADED)])
    assert all(e.passed for e in evaluations.values())
    note = evaluations["privacy_drift"].metadata["note"].value
    assert note == "no baseline to compare with (previous materialization of reference_3k)"


def test_compare_to_in_the_spec_names_the_baseline_release(tmp_path):
    specs = {"candidate": "drift:\n  compare_to: demo\n"}
    evaluation = _run_monitor(tmp_path, [("demo", STEADY), ("other", STEADY), ("candidate", DEGRADED)], specs)
    fidelity = evaluation["fidelity_drift"]
    assert not fidelity.passed and fidelity.metadata["baseline_release"].value == "demo"
    assert fidelity.metadata["baseline_rule"].value == "drift.compare_to: demo in the spec of candidate"


@pytest.mark.parametrize(
    ("previous", "current", "drifted"),
    [(0.9, 0.89, False), (0.9, 0.7, True), (0.001, 0.003, False), (100.0, 115.0, True), (float("nan"), 1.0, True)],
)
def test_compare_figures_needs_both_relative_and_absolute_move(previous, current, drifted):
    _, moved = compare_figures({"x": previous}, {"x": current}, DriftThresholds(relative=0.1, absolute=0.02))
    assert bool(moved) is drifted

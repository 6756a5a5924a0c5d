"""The operator's view: step lines, bars and checks from a real Dagster run, the full log file, the failed-gate
screen, `release compare` / `release verify`, and a spec edited during a run."""

import io
import json
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import polars as pl
import pytest
from rich.console import Console

from synth_ehr_assets.cli import failure_screen, main, root_cause
from synth_ehr_assets.core.gate_advice import GATE_ADVICE
from synth_ehr_assets.core.spec import GateThresholds, parse_spec
from synth_ehr_assets.core.terminal import TerminalReport
from synth_ehr_assets.defs.jobs import SPEC_FINGERPRINT_TAG
from synth_ehr_assets.defs.progress import run_logger, step_progress
from synth_ehr_assets.defs.resources import ReleaseSpecs


@dg.asset(check_specs=[dg.AssetCheckSpec("fidelity_quality_score", asset="scores", blocking=True)])
def scores(context: dg.AssetExecutionContext):
    progress = step_progress(context, "GAN epochs")
    for epoch in range(1, 4):
        progress(epoch, 3, loss=1.0 / epoch)
    yield dg.Output(pl.DataFrame({"x": [1, 2]}), metadata={"dagster/row_count": 2, "final_loss": 0.25})
    yield dg.AssetCheckResult(check_name="fidelity_quality_score", passed=False,
                              metadata={"value": 0.41, "threshold": 0.8, "detail": "column shapes 0.6"})


@dg.asset(deps=[scores])
def downstream() -> None:
    return None


def _run(tmp_path: Path):
    out = io.StringIO()
    report = TerminalReport(Console(file=out, width=200, force_terminal=False))
    log_path = tmp_path / "logs" / "run.log"
    defs = dg.Definitions(assets=[scores, downstream], jobs=[dg.define_asset_job("release_job")])
    job = defs.resolve_job_def("release_job").with_logger_defs({"synth_ehr": run_logger(report, log_path)})
    with dg.instance_for_test() as instance, report:
        result = job.execute_in_process(instance=instance, run_config={"loggers": {"synth_ehr": {}}},
                                        raise_on_error=False)
    return result, out.getvalue(), log_path


def test_a_run_prints_one_line_per_step_with_rows_and_gates_and_logs_everything_to_a_file(tmp_path):
    result, printed, log_path = _run(tmp_path)
    lines = printed.splitlines()
    assert "▶ scores" in lines
    finished = next(line for line in lines if line.startswith("✗ scores"))
    assert finished.endswith("2 rows  (final_loss 0.25)")
    assert "    ✗ gate fidelity_quality_score 0.41 (threshold 0.8)" in lines
    assert any(line.startswith("- downstream") and "skipped" in line for line in lines) or "downstream" not in printed
    assert "DagsterAssetCheckFailedError" not in printed  # the gate line already says it
    log = log_path.read_text()
    assert "GAN epochs: 3/3 loss=0.3333" in log and "STEP_START" in log and "DEBUG" in log


def test_the_failure_screen_names_gate_figure_threshold_details_and_the_spec_field(tmp_path):
    result, _, log_path = _run(tmp_path)
    spec = parse_spec({"gates": {"min_quality_score": 0.8}}, "tinycli")
    screen = failure_screen(spec, result, log_path)
    assert "FAILED gate fidelity_quality_score on scores" in screen
    assert "figure 0.41 against threshold 0.8" in screen
    assert f"full log {log_path}" in screen and "Checks → fidelity_quality_score" in screen
    assert "gates.min_quality_score (now 0.8)" in screen and "synthesizer.gan_epochs" in screen


def test_gate_advice_names_real_checks_and_real_threshold_fields():
    from synth_ehr_assets.definitions import build_definitions

    checks = {key.name for key in build_definitions().resolve_asset_graph().asset_check_keys}
    assert set(GATE_ADVICE) <= checks
    fields = {name for advice in GATE_ADVICE.values() for name in advice.threshold_fields}
    assert fields <= set(GateThresholds.model_fields)


def _manifest(folder: Path, release_id: str, quality: float, mia_passed: bool) -> Path:
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({
        "release_id": release_id,
        "metrics": {"fidelity": {"quality_score": quality}, "privacy": {"membership_inference_auc": 0.52},
                    "judge": {"pass_share": 1.0}},
        "gates": [{"asset": "privacy_report", "check": "privacy_membership_inference", "passed": mia_passed}],
    }))
    return folder


def test_compare_shows_every_figure_with_its_change_and_fails_on_a_gate_regression(tmp_path, capsys):
    a = _manifest(tmp_path / "a", "base", 0.86, True)
    b = _manifest(tmp_path / "b", "cand", 0.81, False)
    assert main(["release", "compare", str(a), str(b)]) == 1
    printed = capsys.readouterr().out
    assert any(l.split() == ["quality_score", "0.86", "0.81", "-0.05"] for l in printed.splitlines())
    assert "pass_share" in printed and "<- regression" in printed
    assert "1 gate(s) passed in base and fail in cand: privacy_report.privacy_membership_inference" in printed
    assert main(["release", "compare", str(b), str(a)]) == 0


def test_verify_passes_an_intact_release_and_names_a_changed_file(tmp_path, capsys):
    from synth_ehr_assets.core.export.bundle import write_release
    from synth_ehr_assets.core.reference import generate_reference_claims

    claims = generate_reference_claims(40, seed=3, release_id="ver")
    manifest = {"spec": {}, "seed": 3, "source_fingerprint": "s", "code_set_version": "c", "embedding_model": "e",
                "models": {}, "metrics": {}, "gates": []}
    folder = write_release(tmp_path, "ver", {"claims": claims}, manifest, {})
    assert main(["release", "verify", str(folder)]) == 0
    assert "intact" in capsys.readouterr().out
    (folder / "tables" / "claims.csv").write_text("tampered\n")
    assert main(["release", "verify", str(folder)]) == 1
    assert "tables/claims.csv: sha256" in capsys.readouterr().out


@pytest.mark.parametrize("edited", [False, True])
def test_a_spec_edited_during_a_run_is_refused(tmp_path, edited):
    (tmp_path / "r1.yaml").write_text("rows: 100\n")

    @dg.asset
    def reads_spec(release_specs: ReleaseSpecs) -> None:
        release_specs.load("r1")

    fingerprint = ReleaseSpecs(spec_dir=str(tmp_path)).load("r1").fingerprint()
    if edited:
        (tmp_path / "r1.yaml").write_text("rows: 200\n")
    result = dg.materialize([reads_spec], resources={"release_specs": ReleaseSpecs(spec_dir=str(tmp_path))},
                            tags={SPEC_FINGERPRINT_TAG: fingerprint}, raise_on_error=False)
    assert result.success is not edited
    if edited:
        failure = next(e for e in result.all_events if e.is_step_failure)
        assert "r1.yaml changed during this run" in root_cause(failure.event_specific_data.error)


def test_mlflow_tracking_logs_a_stage_and_registers_a_version(tmp_path):
    import mlflow

    from synth_ehr_assets.defs.resources import MlflowTracking

    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "model.json").write_text("{}")
    tracking = MlflowTracking(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
                              artifact_location=str(tmp_path / "artifacts"))
    context = SimpleNamespace(run_id="dagster-run-1", job_name="release_job")
    epochs = {"ae": [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.25}]}
    run_id = tracking.log_stage(context, "stage", {"seed": 7}, {"ae_final_loss": 0.25}, epochs, tmp_path / "weights")
    assert tracking.log_stage(context, "stage2", {}, {}, {}, tmp_path / "weights") == run_id  # one run per Dagster run
    assert tracking.register("rel", run_id, "stage") == "synth-ehr-rel/1"
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    history = client.get_metric_history(run_id, "ae_loss")
    assert [(m.step, m.value) for m in history] == [(1, 0.5), (2, 0.25)]
    assert client.get_run(run_id).data.params["seed"] == "7"

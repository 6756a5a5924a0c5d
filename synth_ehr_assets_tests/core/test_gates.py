"""Report gates pass on an independent sample and fail, naming figures or rows, on planted failures."""

from __future__ import annotations

import polars as pl
import pytest

from synth_ehr_assets.core.evaluation import gates
from synth_ehr_assets.core.evaluation.figures import figures_frame, headline
from synth_ehr_assets.core.evaluation.fidelity import fidelity_figures, fidelity_report
from synth_ehr_assets.core.evaluation.privacy import privacy_figures, privacy_report
from synth_ehr_assets.core.reference import generate_reference_claims
from synth_ehr_assets.core.spec import GateThresholds

DEFAULTS = GateThresholds()
SMALL = {"max_rows": 1200, "dcr_rows": 1200, "sdmetrics_library_rows": 100}


@pytest.fixture(scope="module")
def population() -> dict[str, pl.DataFrame]:
    real = generate_reference_claims(1600, seed=1, release_id="gates").sample(fraction=1.0, shuffle=True, seed=0)
    return {
        "train": real.head(1200),
        "holdout": real.tail(400),
        "synthetic": generate_reference_claims(1200, seed=2, release_id="gates"),
    }


@pytest.fixture(scope="module")
def privacy(population) -> dict[str, pl.DataFrame]:
    train, holdout = population["train"], population["holdout"]
    return {
        "fresh": privacy_figures("gates", privacy_report(train, holdout, population["synthetic"], 7, **SMALL)),
        "copied": privacy_figures("gates", privacy_report(train, holdout, train, 7, **SMALL)),
    }


def test_privacy_gates_pass_an_independent_sample(privacy):
    assert gates.dcr_overfitting_gate(privacy["fresh"], DEFAULTS).passed
    assert gates.membership_inference_gate(privacy["fresh"], DEFAULTS).passed


def test_privacy_gates_fail_a_copy_of_train_and_name_the_copied_rows(privacy, population):
    dcr = gates.dcr_overfitting_gate(privacy["copied"], DEFAULTS)
    mia = gates.membership_inference_gate(privacy["copied"], DEFAULTS)
    assert not dcr.passed and not mia.passed
    assert mia.value > DEFAULTS.max_membership_inference_auc
    assert 0 < len(mia.failing) <= gates.SHOWN and set(mia.failing.values()) == {0.0}
    synthetic_ids = {pair.split("->")[0] for pair in mia.failing}
    assert synthetic_ids <= set(population["train"]["claim_id"])


def test_quality_gate_fails_above_the_score_and_lists_the_weakest_figures(population):
    train, holdout, synthetic = population["train"], population["holdout"], population["synthetic"]
    figures = fidelity_figures("gates", fidelity_report(train, holdout, synthetic, 3, max_rows=600))
    score = headline(figures)["quality_score"]
    assert gates.quality_gate(figures, GateThresholds(min_quality_score=score)).passed
    result = gates.quality_gate(figures, GateThresholds(min_quality_score=min(1.0, score + 0.01)))
    assert not result.passed and result.value == score
    shapes = [name for name in result.failing if name.startswith("shape ")]
    pairs = [name for name in result.failing if name.startswith("pair ")]
    assert shapes and pairs
    assert list(result.failing.values())[: len(shapes)] == sorted(result.failing[name] for name in shapes)


def test_a_nan_figure_fails_its_gate_and_a_missing_one_names_itself():
    nan_quality = figures_frame(
        "gates", "fidelity",
        {"quality_score": float("nan"), "column_shapes_score": 0.9, "column_pair_trends_score": float("nan")}, [],
    )
    assert not gates.quality_gate(nan_quality, DEFAULTS).passed
    with pytest.raises(ValueError, match="membership_inference_auc"):
        gates.membership_inference_gate(figures_frame("gates", "privacy", {"quality_score": 1.0}, []), DEFAULTS)

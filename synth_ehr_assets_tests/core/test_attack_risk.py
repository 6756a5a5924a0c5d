"""Anonymeter attack risks on real synthesizer output: a fitted model's rows pass the gate; the same table with
copies of training rows planted in it is blocked, naming the attacks that succeed."""

from __future__ import annotations

import polars as pl
import pytest

from synth_ehr_assets.core import schema
from synth_ehr_assets.core.evaluation.attack_risk import ATTACKS, attack_bound, attack_risk_gate, attack_risks
from synth_ehr_assets.core.evaluation.figures import figures_frame
from synth_ehr_assets.core.spec import GateThresholds
from synth_ehr_assets_tests.core.test_gates_on_real_output import fitted_claims_model

DEFAULTS = GateThresholds()
PLANTED = 150


@pytest.fixture(scope="module")
def synthesized() -> dict[str, pl.DataFrame]:
    from synth_ehr_assets.core.synth.claims import CONDITION_COLUMN, claims_frame

    _, train, holdout, _, model = fitted_claims_model(3000, 11, 800, epochs=(3, 3), probe_rows=100)
    sampled = model.sample(1000, seed=5).with_columns(pl.col(CONDITION_COLUMN).cast(pl.String))
    synthetic = schema.conform(claims_frame(sampled))
    planted = pl.concat([synthetic.head(synthetic.height - PLANTED), train.head(PLANTED).select(synthetic.columns)])
    return {"train": train, "holdout": holdout, "synthetic": synthetic, "planted": planted}


def _figures(risks: dict[str, float]) -> pl.DataFrame:
    return figures_frame("attack", "privacy", risks, [])


@pytest.fixture(scope="module")
def risks(synthesized) -> dict[str, dict[str, float]]:
    train, holdout = synthesized["train"], synthesized["holdout"]
    return {name: attack_risks(train, holdout, synthesized[name], seed=3, attack_rows=800)
            for name in ("synthetic", "planted")}


def test_every_attack_reports_a_risk_inside_its_interval(risks):
    for name in ATTACKS:
        low, value, high = (risks["synthetic"][f"{kind}.{name}"] for kind in
                            ("attack_risk_ci_low", "attack_risk", "attack_risk_ci_high"))
        assert 0 <= low <= value <= high <= 1
    assert risks["synthetic"]["attack_rows"] == 800


def test_the_gate_passes_the_synthesizer_output(risks):
    result = attack_risk_gate(_figures(risks["synthetic"]), DEFAULTS)
    assert result.passed, result.detail


def test_the_gate_blocks_planted_training_rows_and_names_the_attacks(risks):
    result = attack_risk_gate(_figures(risks["planted"]), DEFAULTS)
    assert not result.passed and result.value > result.threshold
    # which attacks name the planted rows depends on the synthetic rows around them; linkability always does
    assert "linkability" in result.failing and len(result.failing) >= 2
    assert risks["planted"]["attack_risk.linkability"] > risks["synthetic"]["attack_risk_ci_high.linkability"]


def test_the_bound_widens_only_where_the_interval_cannot_resolve_the_threshold():
    assert attack_bound(0.01, DEFAULTS) == DEFAULTS.max_attack_risk
    assert attack_bound(0.1, DEFAULTS) == pytest.approx(DEFAULTS.attack_risk_noise_factor * 0.1)


def test_the_same_seed_gives_the_same_risks(synthesized, risks):
    again = attack_risks(synthesized["train"], synthesized["holdout"], synthesized["synthetic"], seed=3,
                         attack_rows=800)
    assert again == risks["synthetic"] and again["singling_out_univariate_queries"] > 0


def test_a_wide_interval_clipped_at_zero_does_not_pass_by_construction():
    """The widened bound uses anonymeter's unclipped half-width: a risk whose point estimate sits more than one
    half-width above 0 fails even when the interval is wide."""
    figures = {"attack_rows": 500.0}
    for name in ATTACKS:
        figures |= {f"attack_risk.{name}": 0.0, f"attack_risk_ci_low.{name}": 0.0, f"attack_risk_ci_high.{name}": 0.01,
                    f"attack_risk_half_width.{name}": 0.01}
    figures |= {"attack_risk.inference_sensitive_dx": 0.15, "attack_risk_ci_low.inference_sensitive_dx": 0.03,
                "attack_risk_ci_high.inference_sensitive_dx": 0.27, "attack_risk_half_width.inference_sensitive_dx": 0.12}
    result = attack_risk_gate(_figures(figures), DEFAULTS)
    assert not result.passed and set(result.failing) == {"inference_sensitive_dx"}
    assert result.threshold == pytest.approx(0.24)
    figures["attack_risk.inference_sensitive_dx"], figures["attack_risk_ci_high.inference_sensitive_dx"] = 0.1, 0.22
    assert attack_risk_gate(_figures(figures), DEFAULTS).passed

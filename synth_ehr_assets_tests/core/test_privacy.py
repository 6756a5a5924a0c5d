"""Privacy report: an independent sample reveals nothing; copies of training rows are caught by every figure."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from synth_ehr_assets.core.evaluation.distances import membership_inference_auc, nndr
from synth_ehr_assets.core.evaluation.privacy import exact_matches, phi_summary, privacy_figures, privacy_report
from synth_ehr_assets.core.spec import PrivacyConfig
from synth_ehr_assets.core.reference import generate_reference_claims

SEED = 5
SMALL = {"max_rows": 2000, "dcr_rows": 1500, "sdmetrics_library_rows": 150}


@pytest.fixture(scope="module")
def population() -> dict[str, pl.DataFrame]:
    real = generate_reference_claims(2000, seed=1, release_id="privacy").sample(fraction=1.0, shuffle=True, seed=0)
    return {
        "train": real.head(1500),
        "holdout": real.tail(500),
        "fresh": generate_reference_claims(1500, seed=2, release_id="privacy"),
    }


@pytest.fixture(scope="module")
def phi_hits(population) -> pl.DataFrame:
    return pl.DataFrame({"claim_id": population["fresh"]["claim_id"].head(3), "phi_hits": [0, 2, 0]})


@pytest.fixture(scope="module")
def fresh_report(population, phi_hits) -> dict:
    return privacy_report(
        population["train"], population["holdout"], population["fresh"], SEED, phi_hits=phi_hits, **SMALL
    )


@pytest.fixture(scope="module")
def copied_report(population) -> dict:
    return privacy_report(population["train"], population["holdout"], population["train"], SEED, **SMALL)


def test_independent_sample_shows_no_memorisation(fresh_report):
    assert fresh_report["exact_matches"] == 0
    assert fresh_report["membership_inference_auc"] < 0.6
    assert fresh_report["dcr_overfitting_protection"] >= 0.9
    assert fresh_report["dcr_zero_share"] < 0.05
    assert 0.4 < fresh_report["share_closer_to_train"] < 0.6


def test_synthetic_equal_to_train_is_caught_by_every_figure(copied_report, fresh_report):
    assert copied_report["exact_match_rate"] == 1.0
    assert copied_report["membership_inference_auc"] > 0.9
    assert copied_report["dcr_zero_share"] == 1.0
    assert copied_report["dcr_synthetic_to_train_median"] == 0.0
    assert copied_report["nndr_synthetic_median"] < fresh_report["nndr_synthetic_median"]
    assert copied_report["dcr_overfitting_protection"] < 0.9
    assert copied_report["qi_unique_matching_unique_real_share"] == pytest.approx(copied_report["qi_unique_share_real"])
    unique_pointers = "qi_unique_matching_unique_real_share"
    assert copied_report[unique_pointers] > 5 * fresh_report[unique_pointers]


def test_planted_copies_are_counted_and_named(population):
    planted = population["train"].sample(7, seed=3)
    synthetic = pl.concat([population["fresh"], planted])
    matches = exact_matches(synthetic, population["train"], PrivacyConfig())
    assert matches.height == 7
    assert set(matches["claim_id"]) == set(planted["claim_id"])


def test_closest_rows_table_points_at_the_copied_training_rows(copied_report):
    closest = copied_report["tables"]["closest_synthetic_rows"]
    assert (closest["dcr"] == 0).all()
    assert (closest["claim_id"] == closest["nearest_train_claim_id"]).mean() > 0.5


def test_membership_inference_auc_reads_distances_the_right_way():
    close, far = np.zeros(50), np.ones(50)
    assert membership_inference_auc(close, far) == 1.0
    assert membership_inference_auc(far, close) == 0.0


def test_nndr_of_a_duplicate_is_zero_and_of_a_tie_is_one():
    assert nndr(np.array([[0.0, 2.0], [1.0, 1.0], [0.0, 0.0]])).tolist() == [0.0, 1.0, 1.0]


def test_phi_scan_results_appear_in_the_report_and_figures(fresh_report, phi_hits):
    assert fresh_report["phi_hits"] == 2 and fresh_report["phi_notes_scanned"] == 3
    assert fresh_report["phi_notes_with_hits_share"] == pytest.approx(1 / 3)
    figures = privacy_figures("privacy", fresh_report)
    named = figures.filter(pl.col("metric") == "phi_hits", pl.col("column").is_not_null())
    assert named.select("column", "value").rows() == [(phi_hits["claim_id"][1], 2.0)]


def test_phi_scan_table_without_counts_is_a_clear_error():
    with pytest.raises(ValueError, match="phi_hits"):
        phi_summary(pl.DataFrame({"claim_id": ["a"]}))


def test_copies_released_with_generalised_quasi_identifiers_still_count(population):
    from synth_ehr_assets.core.synth.privacy_filters import generalise

    privacy = PrivacyConfig(age_band_years=5, date_granularity="month")
    planted = generalise(population["train"].head(5), privacy)
    synthetic = pl.concat([generalise(population["fresh"], privacy), planted])
    matches = exact_matches(synthetic, population["train"], privacy)
    assert set(planted["claim_id"]) <= set(matches["claim_id"])
    assert exact_matches(synthetic, population["train"], PrivacyConfig()).height < matches.height


def test_vectorised_dcr_equals_the_sdmetrics_library(population):
    from sdmetrics.single_table.privacy.dcr_utils import calculate_dcr

    from synth_ehr_assets.core.evaluation.sdmetrics_bridge import (
        TABLE_NAME, mixed_dcr, sdmetrics_frame, sdmetrics_metadata,
    )

    queries = sdmetrics_frame(population["fresh"].head(60))
    reference = sdmetrics_frame(population["train"].head(80))
    reference.loc[3, "px_1"] = None
    queries.loc[5, "charge_amount"] = float("nan")
    library = calculate_dcr(queries, reference, sdmetrics_metadata()["tables"][TABLE_NAME]).to_numpy()
    np.testing.assert_allclose(mixed_dcr(queries, reference, chunk=16), library, atol=1e-12)

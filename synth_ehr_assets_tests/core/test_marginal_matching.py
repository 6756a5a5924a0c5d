"""Marginal matching: which surviving rows a sampling round keeps pulls row-level marginals toward training,
without editing a row and without moving rows between principal codes; the context lift ties procedures to the
row's age, payer and provider; inpatient charges follow DRG and stay."""

from __future__ import annotations

import numpy as np
import polars as pl

from synth_ehr_assets.core.synth.code_prior import ContextLift
from synth_ehr_assets.core.synth.marginal_matching import MarginalMatcher
from synth_ehr_assets.core.synth.setting_draws import InpatientDetails

from synth_ehr_assets_tests.core.test_synth_claims import small_claims


def _skewed(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame({
        "dx_1": rng.choice(["E119", "I10"], n),
        "region": rng.choice(["north", "south"], n, p=[0.8, 0.2]),
        "payer": rng.choice(["medicare", "commercial"], n, p=[0.5, 0.5]),
        "age": rng.integers(20, 90, n),
        "charge_amount": rng.lognormal(5, 1, n),
    })


def test_first_rows_after_ordering_match_training_shares_within_every_principal():
    train = _skewed(6000, 0).with_columns(region=pl.Series(np.random.default_rng(1).choice(["north", "south"], 6000)))
    candidates = _skewed(6000, 2)  # the GAN's error: 80% north where training has 50%
    matcher = MarginalMatcher(train, ["region", "payer+age", "charge_amount", "payer+dx_1:1", "not_a_column"])
    assert matcher.columns == ["region", "payer+age", "charge_amount", "payer+dx_1:1"]
    assert set(matcher.targets["payer+dx_1:1"]) == {"medicare|E", "medicare|I", "commercial|E", "commercial|I", "∗"}
    ordered = matcher.ordered(candidates, np.random.default_rng(3), "dx_1", {"E119": 1000, "I10": 1000})
    assert ordered.sort(ordered.columns).equals(candidates.sort(candidates.columns))  # kept or not, never edited
    kept = ordered.filter(pl.int_range(pl.len()).over("dx_1") < 1000)
    assert kept["dx_1"].value_counts().sort("dx_1")["count"].to_list() == [1000, 1000]
    first = candidates.filter(pl.int_range(pl.len()).over("dx_1") < 1000)
    north = lambda frame: (frame["region"] == "north").mean()
    assert abs(north(first) - 0.8) < 0.05 and abs(north(kept) - 0.5) < 0.05
    weights = matcher.weights(candidates)
    assert abs(weights.mean() - 1) < 1e-9 and weights.min() > 0


def test_without_columns_or_on_a_small_source_the_order_is_left_as_it_came():
    candidates = _skewed(500, 4)
    for matcher in (MarginalMatcher(_skewed(6000, 5), []), MarginalMatcher(candidates, ["region"])):
        assert not matcher.columns
        assert matcher.ordered(candidates, np.random.default_rng(0)).equals(candidates)


def test_context_lift_favours_codes_billed_at_the_rows_age_band_within_the_principals_category():
    n = 2000
    rng = np.random.default_rng(5)
    age = rng.integers(0, 80, n)
    px = np.where(age < 18, "99392", "99396")  # preventive code by age band
    train = pl.DataFrame({
        "dx_1": ["Z0000"] * n, "claim_type": ["professional"] * n, "age": age, "payer": ["commercial"] * n,
        "px_1": px, "px_2": [None] * n, "px_3": [None] * n,
    })
    lift = ContextLift(train, ["99392", "99396"], ("px_1", "px_2", "px_3"), ("age_band", "payer"))
    rows = lift.rows(pl.DataFrame({"dx_1": ["Z0000", "Z0000"], "age": [6, 50], "payer": ["commercial", "commercial"]}))
    assert rows[0, 0] > 0.5 > rows[0, 1] and rows[1, 1] > 0 > rows[1, 0]
    unseen = lift.rows(pl.DataFrame({"dx_1": ["A000"], "age": [6], "payer": ["self_pay"]}))
    assert np.allclose(unseen, 0)  # a category (or level) training never had adds no lift


def test_inpatient_charges_grow_with_the_stay_and_amounts_keep_their_order():
    train = small_claims(3000, seed=6)
    inpatient = train.filter(pl.col("claim_type") == "inpatient")
    details = InpatientDetails(train)
    drawn = details.apply(train, np.random.default_rng(0)).filter(pl.col("claim_type") == "inpatient")
    assert drawn.height == inpatient.height
    assert (drawn["paid_amount"] <= drawn["allowed_amount"]).all() and (drawn["allowed_amount"] <= drawn["charge_amount"]).all()
    assert ((drawn["charge_amount"] * 100).round(6) % 1 == 0).all()
    _, _, slope, _ = details.charge_model
    real_corr = inpatient.select(pl.corr(pl.col("los_days").log(), pl.col("charge_amount").log())).item()
    drawn_corr = drawn.select(pl.corr(pl.col("los_days").log(), pl.col("charge_amount").log())).item()
    assert (slope > 0) == (real_corr > 0) and abs(drawn_corr - real_corr) < 0.25


def test_preselection_keeps_each_principals_fraction_of_rows_by_the_matched_draw():
    from synth_ehr_assets.core.synth.marginal_matching import PreselectingDecoder

    train = _skewed(6000, 0).with_columns(region=pl.Series(np.random.default_rng(1).choice(["north", "south"], 6000)))
    candidates = _skewed(6000, 2)
    decoder = PreselectingDecoder(lambda *a: "decoded", MarginalMatcher(train, ["region"]), {"E119": 0.25, "I10": 1.0},
                                  np.random.default_rng(4))
    keep = decoder.keep_rows(candidates)
    kept = candidates[keep]
    counts = dict(kept["dx_1"].value_counts().iter_rows())
    total = dict(candidates["dx_1"].value_counts().iter_rows())
    assert counts["I10"] == total["I10"] and counts["E119"] == int(np.ceil(0.25 * total["E119"]))
    assert abs((kept.filter(pl.col("dx_1") == "E119")["region"] == "north").mean() - 0.5) < 0.06
    assert (np.diff(keep) > 0).all() and decoder("dx_2") == "decoded"  # table order kept; decoding delegated

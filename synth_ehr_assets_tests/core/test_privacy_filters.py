"""Privacy filters: planted copies are caught, near duplicates dropped, QIs generalised, ids fresh and seeded."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from synth_ehr_assets.core import schema
from synth_ehr_assets.core.spec import PrivacyConfig
from synth_ehr_assets.core.synth.privacy_filters import (
    exact_copy_mask,
    generalise,
    mint_ids,
    near_duplicate_mask,
    nearest_distances,
)


def claims(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    dx = ["E119", "I10", "E785", "J449", "N1830", "I5023"]
    return schema.conform(
        pl.DataFrame(
            {
                "claim_id": [f"src{i}" for i in range(n)],
                "patient_id": [f"pat{i}" for i in range(n)],
                "claim_type": "professional",
                "service_date": [dt.date(2024, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 365, n)],
                "age": rng.integers(18, 95, n),
                "sex": rng.choice(["F", "M"], n),
                "region": rng.choice(list(schema.REGIONS), n),
                "payer": "medicare",
                "dx_1": rng.choice(dx[:3], n),
                "dx_2": rng.choice(dx[3:], n),
                "px_1": "99213",
            }
        )
    )


def test_planted_copies_are_caught_even_with_codes_reordered_and_ids_changed():
    source = claims(500, seed=1)
    fresh = claims(300, seed=2)
    planted = source.sample(20, seed=3).with_columns(
        pl.col("dx_1").alias("dx_2"),
        pl.col("dx_2").alias("dx_1"),
        pl.lit("new").alias("claim_id"),
        pl.lit(7.0).alias("paid_amount"),
    )
    synthetic = pl.concat([fresh, planted])
    mask = exact_copy_mask(synthetic, source, PrivacyConfig())
    assert mask.tail(20).all()
    expected_accidental = fresh.join(source, on=[*schema.QUASI_IDENTIFIERS, "dx_1", "dx_2"], how="semi").height
    assert int(mask.head(300).sum()) == expected_accidental


def test_a_changed_code_or_quasi_identifier_is_not_a_copy():
    source = claims(50, seed=1)
    changed_code = source.with_columns(pl.lit("Z0000").alias("dx_2"))
    changed_age = source.with_columns(pl.col("age") + 1)
    assert not exact_copy_mask(changed_code, source, PrivacyConfig()).any()
    assert not exact_copy_mask(changed_age, source, PrivacyConfig()).any()


def test_generalised_quasi_identifiers_still_match_their_source_person():
    source = claims(50, seed=1)
    privacy = PrivacyConfig(age_band_years=5, date_granularity="month")
    nearby = source.with_columns((pl.col("age") // 5 * 5).cast(pl.Int32), pl.col("service_date").dt.truncate("1mo"))
    assert exact_copy_mask(nearby, source, privacy).all()
    assert not exact_copy_mask(nearby.filter(pl.col("age") % 5 != 0), source, PrivacyConfig()).any()


def test_generalise_bands_ages_and_moves_dates_to_the_first_of_the_month():
    frame = claims(100, seed=4)
    out = generalise(frame, PrivacyConfig(age_band_years=10, date_granularity="month"))
    assert (out["age"] % 10 == 0).all() and (out["age"] <= frame["age"]).all()
    assert (out["service_date"].dt.day() == 1).all()
    assert out.schema == frame.schema
    assert generalise(frame, PrivacyConfig()).equals(frame)


def test_near_duplicates_within_the_threshold_are_dropped_and_others_kept():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(2000, 40)).astype(np.float32)
    copies = train[:50] + rng.normal(scale=0.01, size=(50, 40)).astype(np.float32)
    far = rng.normal(size=(50, 40)).astype(np.float32) + 5
    synthetic = np.vstack([copies, far])
    mask = near_duplicate_mask(synthetic, train, threshold=0.1)
    assert mask[:50].all() and not mask[50:].any()
    assert not near_duplicate_mask(synthetic, train, threshold=0).any()
    brute = np.sqrt(((synthetic[:, None, :] - train[None]) ** 2).sum(-1)).min(1) / np.sqrt(40)
    assert np.allclose(nearest_distances(synthetic, train), brute, atol=1e-4)


def test_minted_ids_are_distinct_seeded_and_never_reuse_a_source_id():
    taken = pl.Series([f"C{i:014d}" for i in range(1000)])
    first = mint_ids(5000, "C", np.random.default_rng(9), taken)
    again = mint_ids(5000, "C", np.random.default_rng(9), taken)
    assert first.equals(again)
    assert first.n_unique() == 5000
    assert not first.is_in(taken.implode()).any()
    assert mint_ids(5000, "C", np.random.default_rng(10), taken).ne(first).any()


def test_minting_redraws_collisions_until_every_id_is_free(monkeypatch):
    from synth_ehr_assets.core.synth import privacy_filters

    monkeypatch.setattr(privacy_filters, "ID_DIGITS", 1)  # only 10 possible ids: collisions are certain
    taken = pl.Series([f"P{d}" for d in range(0, 10, 2)])
    minted = mint_ids(5, "P", np.random.default_rng(1), taken)
    assert sorted(minted.to_list()) == [f"P{d}" for d in range(1, 10, 2)]


def test_code_sets_match_whatever_the_slot_order_and_repeats():
    from synth_ehr_assets.core.synth.privacy_filters import copy_keys

    row = claims(1, seed=6)
    shuffled = row.with_columns(
        pl.col("dx_2").alias("dx_1"), pl.col("dx_1").alias("dx_2"), pl.col("dx_1").alias("dx_3")
    )
    other = row.with_columns(pl.lit("R51").alias("dx_3"))
    keys = pl.concat([copy_keys(frame) for frame in (row, shuffled, other)])
    assert keys["dx_set"][0] == keys["dx_set"][1] != keys["dx_set"][2]

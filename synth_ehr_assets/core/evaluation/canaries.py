"""Canaries: unique, clinically valid claims planted in the training split, then looked for in the release.

`make_canaries` draws reference-population claims (valid codes, edits and amounts by construction) from a pool
seeded apart from the source and keeps `k` with distinct principal codes, rarest first: principal code rarest in the
source, then principal category rarest at their age decade, and a (dx_1, dx_2) pair the source never shows; they
get `CANARY…` ids. `canary_report` says how many appear in the
release, exactly (quasi-identifiers + code sets) or within the near-duplicate radius (the 1st percentile of the
real holdout's distance to the nearest synthetic claim: an unseen real claim lies that close 1% of the time), and
their membership-inference rank (share of holdout claims farther from the release than the canary; 1 = the canary
stands out as a member). A release in which any canary appears is blocked (`canary_gate`).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from synth_ehr_assets.core.evaluation import distances
from synth_ehr_assets.core.evaluation.features import ClaimEncoder
from synth_ehr_assets.core.evaluation.figures import detail, require
from synth_ehr_assets.core.spec import PrivacyConfig

CANARY_PREFIX = "CANARY"
RADIUS_QUANTILE = 0.01
_POOL_SEED_OFFSET = 104_729


def _combos(claims: pl.DataFrame) -> pl.DataFrame:
    return claims.select(
        pl.col("dx_1").str.slice(0, 3).alias("category"), (pl.col("age") // 10).alias("decade"),
        pl.col("dx_1"), pl.col("dx_2"),
    )


def make_canaries(source: pl.DataFrame, k: int, seed: int, release_id: str) -> pl.DataFrame:
    """`k` canary claims in the canonical schema, rare against `source` and unique in it (seeded)."""
    from synth_ehr_assets.core.reference import generate_reference_claims

    if k == 0:
        return source.clear()
    pool = generate_reference_claims(max(4000, 400 * k), seed=seed + _POOL_SEED_OFFSET, release_id=release_id)
    seen = _combos(source)
    age_counts = seen.group_by("category", "decade").len("age_count")
    code_counts = seen.group_by("dx_1").len("code_count")
    pairs = seen.drop_nulls("dx_2").select("dx_1", "dx_2").unique().with_columns(pair_seen=pl.lit(True))
    ranked = (
        pl.concat([pool, _combos(pool).select(pl.all().name.prefix("_"))], how="horizontal")
        .filter(pl.col("dx_2").is_not_null())
        .join(age_counts, left_on=["_category", "_decade"], right_on=["category", "decade"], how="left")
        .join(pairs, left_on=["_dx_1", "_dx_2"], right_on=["dx_1", "dx_2"], how="left")
        .join(code_counts, left_on="_dx_1", right_on="dx_1", how="left")
        .filter(pl.col("pair_seen").is_null())
        .with_columns(pl.col("age_count", "code_count").fill_null(0), _draw=pl.int_range(pl.len()).shuffle(seed=seed))
        .unique(["_dx_1"], keep="first", maintain_order=True)
        .sort(["code_count", "age_count", "_draw"])
        .head(k)
    )
    if ranked.height < k:
        raise ValueError(f"privacy.canaries: only {ranked.height} canary claims unique against the source, {k} asked")
    ids = [f"{CANARY_PREFIX}{i:04d}" for i in range(k)]
    return ranked.select(source.columns).cast(dict(source.schema)).with_columns(
        claim_id=pl.Series(ids), patient_id=pl.Series([f"{CANARY_PREFIX}P{i:04d}" for i in range(k)]),
        release_id=pl.lit(release_id),
    )


def canary_report(canaries: pl.DataFrame, real_train: pl.DataFrame, real_holdout: pl.DataFrame,
                  synthetic: pl.DataFrame, privacy: PrivacyConfig) -> tuple[dict[str, float], list[tuple]]:
    """Headline figures and per-canary detail rows (`canary_distance`, `canary_mia_rank`, `canary_in_release`)."""
    from synth_ehr_assets.core.synth.privacy_filters import exact_copy_mask

    if canaries.height == 0:
        return {"canaries_planted": 0.0, "canaries_in_release": 0.0}, []
    encoder = ClaimEncoder.fit(real_train)
    synth_x = encoder.transform(synthetic)
    canary_d = distances.nearest(encoder.transform(canaries), synth_x, k=1)[0][:, 0]
    holdout_d = distances.nearest(encoder.transform(real_holdout), synth_x, k=1)[0][:, 0]
    radius = float(np.quantile(holdout_d, RADIUS_QUANTILE))
    exact = exact_copy_mask(canaries, synthetic, privacy).to_numpy()
    found = exact | (canary_d <= radius)
    rank = np.array([float(np.mean(holdout_d > d)) for d in canary_d])
    ids = canaries["claim_id"].to_list()
    figures = {
        "canaries_planted": float(canaries.height),
        "canaries_in_release": float(found.sum()),
        "canaries_in_release_exact": float(exact.sum()),
        "canary_radius": radius,
        "canary_distance_min": float(canary_d.min()),
        "canary_mia_rank_mean": float(rank.mean()),
        "canary_mia_rank_max": float(rank.max()),
    }
    rows = [("canary_distance", i, float(d)) for i, d in zip(ids, canary_d)]
    rows += [("canary_mia_rank", i, float(r)) for i, r in zip(ids, rank)]
    rows += [("canary_in_release", i, 1.0) for i, hit in zip(ids, found) if hit]
    return figures, rows


def canary_gate(privacy: pl.DataFrame):
    """No planted canary in the release (value = canaries found, threshold 0); a failure names each canary."""
    from synth_ehr_assets.core.evaluation.gates import GateResult

    planted, found = require(privacy, "canaries_planted"), require(privacy, "canaries_in_release")
    if planted == 0:
        return GateResult("canaries", True, 0.0, 0.0, "no canaries planted (privacy.canaries: 0)")
    distance = dict(detail(privacy, "canary_distance").iter_rows())
    failing = {c: distance[c] for c in detail(privacy, "canary_in_release")["column"].to_list()}
    text = (f"{int(found)} of {int(planted)} canaries in the release ({int(require(privacy, 'canaries_in_release_exact'))}"
            f" exact, radius {require(privacy, 'canary_radius'):.3f}); nearest canary at "
            f"{require(privacy, 'canary_distance_min'):.3f}, membership rank mean "
            f"{require(privacy, 'canary_mia_rank_mean'):.2f}, max {require(privacy, 'canary_mia_rank_max'):.2f}")
    return GateResult("canaries", found == 0, found, 0.0, text, failing)

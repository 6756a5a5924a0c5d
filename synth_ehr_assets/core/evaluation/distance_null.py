"""The real-holdout null of the DCR and membership-inference gates: what real claims no model ever saw score.

Each draw splits the real holdout in two by patient (queries, reference) and takes as many train rows, then
scores the queries as if they were the release: the share closer to the train sample than to the holdout
reference (the DCR overfitting figure) and the AUC of the distance attack (train rows as members, the holdout
reference as non-members). Fresh real patients memorise nothing, so the spread of these figures over the draws
is the sampling noise the gates must tolerate at that size; `privacy_gate_bounds` scales it to the gate's size.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from synth_ehr_assets.core.evaluation import distances
from synth_ehr_assets.core.evaluation.features import ClaimEncoder, held_out_by_patient
from synth_ehr_assets.core.evaluation.sdmetrics_bridge import mixed_dcr, sdmetrics_frame, subsample

NULL_DRAWS = 20
NULL_MAX_ROWS = 1000
MIN_NULL_ROWS = 10
DCR_BOUND_FLOOR = 0.5  # sampling noise never excuses three synthetic rows in four sitting closer to train
AUC_BOUND_CAP = 0.75
Z95 = 1.645


def _two_parts(holdout: pl.DataFrame, rng: np.random.Generator) -> tuple[pl.DataFrame, pl.DataFrame, bool]:
    """The holdout cut in two halves of its patients (of its rows when it has a single patient)."""
    if holdout["patient_id"].n_unique() >= 2:
        patients = holdout["patient_id"].unique().sort()
        chosen = patients.gather(rng.permutation(len(patients))[: len(patients) // 2])
        mask = holdout["patient_id"].is_in(chosen.implode()).to_numpy()
        return holdout.filter(mask), holdout.filter(~mask), True
    mask = rng.permutation(holdout.height) < holdout.height // 2
    return holdout.filter(mask), holdout.filter(~mask), False


def distance_null(
    real_train: pl.DataFrame, real_holdout: pl.DataFrame, seed: int,
    draws: int = NULL_DRAWS, max_rows: int = NULL_MAX_ROWS,
) -> dict[str, float]:
    """Null figures over `draws` seeded resplits of the holdout (at most `max_rows` rows per part).

    Empty (no figures: the defaults hold) when the split is not by patient (a holdout row then has siblings in
    train, so real holdout rows are no stand-in for unseen people) or the holdout is too small to cut into two
    parts of `MIN_NULL_ROWS` rows.
    """
    if not held_out_by_patient(real_train, real_holdout):
        return {}
    rng = np.random.default_rng(seed)
    encoder = ClaimEncoder.fit(real_train)
    shares, aucs, sizes, query_sizes, by_patient = [], [], [], [], True
    for draw in range(draws):
        queries, reference, grouped = _two_parts(real_holdout, rng)
        rows = min(reference.height, real_train.height, max_rows)
        if min(rows, queries.height) < MIN_NULL_ROWS:
            return {}
        by_patient &= grouped
        queries = subsample(queries, max_rows, seed + 3 * draw)
        reference = subsample(reference, rows, seed + 3 * draw + 1)
        members = subsample(real_train, rows, seed + 3 * draw + 2)
        query_view = sdmetrics_frame(queries)
        to_train = mixed_dcr(query_view, sdmetrics_frame(members))
        to_reference = mixed_dcr(query_view, sdmetrics_frame(reference))
        shares.append(distances.closer_to_train_share(to_train, to_reference))
        query_x = encoder.transform(queries)
        members_near, _ = distances.nearest(encoder.transform(members), query_x, k=1)
        others_near, _ = distances.nearest(encoder.transform(reference), query_x, k=1)
        aucs.append(distances.membership_inference_auc(members_near[:, 0], others_near[:, 0]))
        sizes.append(rows)
        query_sizes.append(queries.height)
    return {
        "null_share_closer_to_train_median": float(np.median(shares)),
        "null_share_closer_to_train_p95": float(np.quantile(shares, 0.95)),
        "null_membership_inference_auc_median": float(np.median(aucs)),
        "null_membership_inference_auc_p95": float(np.quantile(aucs, 0.95)),
        "null_rows": float(min(sizes)),
        "null_query_rows": float(min(query_sizes)),
        "null_draws": float(draws),
        "null_by_patient": float(by_patient),
    }


def scaled_spread(null_p95: float, null_median: float, null_rows: float, gate_rows: float) -> float:
    """The null's 95th-percentile excess over its median at `null_rows`, scaled to `gate_rows` (noise ∝ 1/√rows)."""
    if not all(math.isfinite(v) for v in (null_p95, null_median, null_rows, gate_rows)) or gate_rows <= 0:
        return math.nan
    return max(null_p95 - null_median, 0.0) * math.sqrt(null_rows / gate_rows)


def _combined(null_spread: float, release_noise: float) -> float:
    """The noise of (release figure - null level): the null's spread and the release's own, in quadrature."""
    return math.hypot(null_spread, release_noise)


def privacy_gate_bounds(figures: dict[str, float], default_min_dcr: float, default_max_auc: float,
                        factor: float) -> dict[str, float]:
    """The DCR and membership bounds a release is held to, and their derivation (figures for the check's metadata).

    DCR protection ≥ min(default, null level - factor × noise): the null level is 2 × (1 - the null's median share
    closer to train), capped at 1; the noise is 2 × the 95th-percentile sampling excess of that share at the
    gate's size (the smaller of its synthetic queries and its reference rows), the null's spread scaled from its
    size combined in quadrature with the release's own binomial noise. The attack AUC ≤ max(default, null median
    + factor × its noise, likewise). Noise never takes them
    past `DCR_BOUND_FLOOR` / `AUC_BOUND_CAP`. Without null figures (a holdout too small to cut) the defaults hold.
    """
    share_median = figures.get("null_share_closer_to_train_median", math.nan)
    auc_median = figures.get("null_membership_inference_auc_median", math.nan)
    dcr_rows = min(figures.get("dcr_rows", math.nan), figures.get("dcr_reference_rows", math.inf))
    mia_rows = figures.get("membership_rows", math.nan)
    share_noise = _combined(
        scaled_spread(figures.get("null_share_closer_to_train_p95", math.nan), share_median,
                      figures.get("null_query_rows", math.nan), dcr_rows),
        Z95 * 0.5 / math.sqrt(dcr_rows) if dcr_rows > 0 else math.nan,
    )
    auc_noise = _combined(
        scaled_spread(figures.get("null_membership_inference_auc_p95", math.nan), auc_median,
                      figures.get("null_rows", math.nan), mia_rows),
        Z95 * math.sqrt((2 * mia_rows + 1) / (12 * mia_rows**2)) if mia_rows > 0 else math.nan,
    )
    null_protection = min(2.0 * (1.0 - share_median), 1.0)
    min_dcr, max_auc = default_min_dcr, default_max_auc
    if math.isfinite(null_protection) and math.isfinite(share_noise):
        min_dcr = min(default_min_dcr, max(null_protection - factor * 2.0 * share_noise, DCR_BOUND_FLOOR))
    if math.isfinite(auc_median) and math.isfinite(auc_noise):
        max_auc = max(default_max_auc, min(auc_median + factor * auc_noise, AUC_BOUND_CAP))
    return {
        "min_dcr_overfitting_protection": min_dcr, "null_dcr_overfitting_protection": null_protection,
        "null_dcr_noise_at_gate_size": 2.0 * share_noise, "max_membership_inference_auc": max_auc,
        "null_membership_inference_auc": auc_median, "null_auc_noise_at_gate_size": auc_noise,
        "null_query_rows": figures.get("null_query_rows", math.nan), "null_rows": figures.get("null_rows", math.nan),
        "dcr_gate_rows": dcr_rows,
        "membership_gate_rows": mia_rows, "factor": factor,
    }

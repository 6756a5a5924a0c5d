"""Nearest-neighbour distances in the shared claim encoding (own DCR, NNDR and membership-inference figures)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors


def nearest(query: np.ndarray, reference: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distances and indices of the `k` nearest reference rows for every query row."""
    k = min(k, len(reference))
    index = NearestNeighbors(n_neighbors=k, algorithm="brute", metric="euclidean").fit(reference)
    distances, indices = index.kneighbors(query)
    return distances, indices


def nndr(distances: np.ndarray) -> np.ndarray:
    """Nearest-neighbour distance ratio d1/d2 per row (1 where both are 0: a point among duplicates)."""
    if distances.shape[1] < 2:
        return np.ones(len(distances))
    first, second = distances[:, 0], distances[:, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(second > 0, first / second, 1.0)
    return ratio


def closer_to_train_share(to_train: np.ndarray, to_holdout: np.ndarray) -> float:
    """Share of synthetic rows strictly closer to an equal-sized train sample than to the holdout."""
    return float(np.mean(to_train < to_holdout))


def membership_inference_auc(member_distances: np.ndarray, non_member_distances: np.ndarray) -> float:
    """AUC of the attack "a real row is a training member when a synthetic row lies close to it".

    0.5 means the synthetic data tells members and non-members apart no better than a coin.
    """
    labels = np.concatenate([np.ones(len(member_distances)), np.zeros(len(non_member_distances))])
    scores = -np.concatenate([member_distances, non_member_distances])
    return float(roc_auc_score(labels, scores))

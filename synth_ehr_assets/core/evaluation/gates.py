"""Gates on the evaluation reports (DESIGN §2): quality, DCR overfitting protection, membership inference.

Each gate reads a report's figures table (see `figures.py`) and the release's thresholds, and returns a
`GateResult` that names the figures or rows behind a failure. The Dagster layer turns it into a blocking check.
(Code validity, age/sex edits and exact copies are gated on `synthetic_claims`; PHI and judge on `judge_scores`.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import polars as pl

from synth_ehr_assets.core.evaluation.figures import detail, require
from synth_ehr_assets.core.spec import GateThresholds

SHOWN = 10


@dataclass(frozen=True)
class GateResult:
    """Outcome of one gate: the measured value against its threshold, and what failed (figure or row -> value)."""

    name: str
    passed: bool
    value: float
    threshold: float
    detail: str
    failing: dict[str, float] = field(default_factory=dict)


def _at_least(value: float, threshold: float) -> bool:
    return not math.isnan(value) and value >= threshold


def _at_most(value: float, threshold: float) -> bool:
    return not math.isnan(value) and value <= threshold


def _lowest(rows: pl.DataFrame, n: int = SHOWN) -> dict[str, float]:
    ranked = rows.drop_nans("value").sort(["value", "column"]).head(n)
    return dict(zip(ranked["column"].to_list(), ranked["value"].to_list()))


def quality_gate(fidelity: pl.DataFrame, gates: GateThresholds) -> GateResult:
    """sdmetrics quality score at or above `min_quality_score`; a failure lists the weakest shapes and pairs."""
    value = require(fidelity, "quality_score")
    passed = _at_least(value, gates.min_quality_score)
    shapes, pairs = require(fidelity, "column_shapes_score"), require(fidelity, "column_pair_trends_score")
    text = (
        f"quality {value:.3f} (threshold {gates.min_quality_score}): "
        f"column shapes {shapes:.3f}, pair trends {pairs:.3f}"
    )
    failing = {}
    if not passed:
        failing = {f"shape {k}": v for k, v in _lowest(detail(fidelity, "column_shape"), 5).items()}
        failing |= {f"pair {k}": v for k, v in _lowest(detail(fidelity, "column_pair_trend"), 5).items()}
    return GateResult("quality_score", passed, value, gates.min_quality_score, text, failing)


def _closest_rows(privacy: pl.DataFrame) -> dict[str, float]:
    """The synthetic rows nearest to a training row (`synthetic claim->train claim`: distance)."""
    return _lowest(detail(privacy, "closest_synthetic_dcr"))


def dcr_overfitting_gate(privacy: pl.DataFrame, gates: GateThresholds) -> GateResult:
    """sdmetrics DCROverfittingProtection at or above `min_dcr_overfitting_protection`."""
    value = require(privacy, "dcr_overfitting_protection")
    passed = _at_least(value, gates.min_dcr_overfitting_protection)
    text = (
        f"protection {value:.3f} (threshold {gates.min_dcr_overfitting_protection}): "
        f"{require(privacy, 'share_closer_to_train_sdm'):.1%} of sampled synthetic rows are closer to train than to "
        f"holdout (50% expected without memorisation)"
    )
    return GateResult(
        "dcr_overfitting_protection", passed, value, gates.min_dcr_overfitting_protection, text,
        {} if passed else _closest_rows(privacy),
    )


def membership_inference_gate(privacy: pl.DataFrame, gates: GateThresholds) -> GateResult:
    """Distance-attack AUC (train members vs holdout) at or below `max_membership_inference_auc`."""
    value = require(privacy, "membership_inference_auc")
    passed = _at_most(value, gates.max_membership_inference_auc)
    text = (
        f"attack AUC {value:.3f} (threshold {gates.max_membership_inference_auc}, 0.5 = no signal); median DCR "
        f"synthetic->train {require(privacy, 'dcr_synthetic_to_train_median'):.3f} vs holdout->train "
        f"{require(privacy, 'dcr_holdout_to_train_median'):.3f}"
    )
    return GateResult(
        "membership_inference_auc", passed, value, gates.max_membership_inference_auc, text,
        {} if passed else _closest_rows(privacy),
    )

"""Gates on the evaluation reports (DESIGN §2): quality, code structure, DCR overfitting protection, membership
inference.

Each gate reads a report's figures table (see `figures.py`) and the release's thresholds, and returns a
`GateResult` that names the figures or rows behind a failure. The Dagster layer turns it into a blocking check.
Code structure is gated on the fidelity report too; code validity, age/sex edits and source copies are gated on
`synthetic_claims` (`table_gates.py`), PHI and judge on `judge_scores`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import polars as pl

from synth_ehr_assets.core.evaluation.code_structure import NULL_PREFIX, SYNTHETIC_PREFIX
from synth_ehr_assets.core.evaluation.distance_null import privacy_gate_bounds
from synth_ehr_assets.core.evaluation.figures import detail, headline, require
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
    derivation: dict[str, float] = field(default_factory=dict)  # how a size-dependent threshold was reached


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
    null = headline(fidelity).get("quality_score_null")
    text = (
        f"quality {value:.3f} (threshold {gates.min_quality_score}"
        f"{'' if null is None else f'; real holdout {null:.3f}'}): column shapes {shapes:.3f}, pair trends {pairs:.3f}"
    )
    failing = {}
    if not passed:
        failing = {f"shape {k}": v for k, v in _lowest(detail(fidelity, "column_shape"), 5).items()}
        failing |= {f"pair {k}": v for k, v in _lowest(detail(fidelity, "column_pair_trend"), 5).items()}
    return GateResult("quality_score", passed, value, gates.min_quality_score, text, failing)


def _closest_rows(privacy: pl.DataFrame) -> dict[str, float]:
    """The synthetic rows nearest to a training row (`synthetic claim->train claim`: distance)."""
    return _lowest(detail(privacy, "closest_synthetic_dcr"))


def _privacy_bounds(privacy: pl.DataFrame, gates: GateThresholds) -> dict[str, float]:
    return privacy_gate_bounds(headline(privacy), gates.min_dcr_overfitting_protection,
                               gates.max_membership_inference_auc, gates.distance_null_factor)


def dcr_overfitting_gate(privacy: pl.DataFrame, gates: GateThresholds) -> GateResult:
    """DCR overfitting protection at or above `min_dcr_overfitting_protection`, or below it by no more than the
    real-holdout null's own sampling noise at this size allows (`distance_null.privacy_gate_bounds`)."""
    value = require(privacy, "dcr_overfitting_protection")
    bounds = _privacy_bounds(privacy, gates)
    threshold = bounds["min_dcr_overfitting_protection"]
    passed = _at_least(value, threshold)
    text = (
        f"protection {value:.3f} (threshold {threshold:.3f}; default {gates.min_dcr_overfitting_protection}, real "
        f"holdout null {bounds['null_dcr_overfitting_protection']:.3f} ± {bounds['null_dcr_noise_at_gate_size']:.3f} "
        f"at {bounds['dcr_gate_rows']:.0f} rows): {require(privacy, 'share_closer_to_train_sdm'):.1%} of sampled "
        f"synthetic rows are closer to train than to holdout (50% expected without memorisation)"
    )
    return GateResult(
        "dcr_overfitting_protection", passed, value, threshold, text, {} if passed else _closest_rows(privacy), bounds,
    )


def membership_inference_gate(privacy: pl.DataFrame, gates: GateThresholds) -> GateResult:
    """Distance-attack AUC (train members vs holdout) at or below `max_membership_inference_auc`, or above it by
    no more than the real-holdout null's sampling noise at this size allows."""
    value = require(privacy, "membership_inference_auc")
    bounds = _privacy_bounds(privacy, gates)
    threshold = bounds["max_membership_inference_auc"]
    passed = _at_most(value, threshold)
    text = (
        f"attack AUC {value:.3f} (threshold {threshold:.3f}; default {gates.max_membership_inference_auc}, real "
        f"holdout null {bounds['null_membership_inference_auc']:.3f} + {bounds['null_auc_noise_at_gate_size']:.3f} "
        f"at {bounds['membership_gate_rows']:.0f} rows; 0.5 = no signal); median DCR synthetic->train "
        f"{require(privacy, 'dcr_synthetic_to_train_median'):.3f} vs holdout->train "
        f"{require(privacy, 'dcr_holdout_to_train_median'):.3f}"
    )
    return GateResult(
        "membership_inference_auc", passed, value, threshold, text, {} if passed else _closest_rows(privacy), bounds,
    )


CODE_STRUCTURE_LABELS = {
    "all_dx_prevalence_r2": "all-diagnosis prevalence R²",
    "cooccurrence_r2": "diagnosis-pair co-occurrence R²",
    "max_overrepresentation": "largest over-representation (codes ≥ 0.5% of claims)",
    "unsupported_dx1_age_share": "rows with an unseen (dx_1 category, age decade)",
    "unsupported_dx1_sex_share": "rows with an unseen (dx_1 category, sex)",
    "unsupported_dx1_claim_type_share": "rows with an unseen (dx_1, claim type)",
    "unsupported_px_dx1_share": "rows with a procedure unseen with its dx_1 category",
    "claim_type_joint_deviation": "largest relative gap: inpatient share, stay and charge quantiles per claim type",
}


JOINT_BOUND_CAP = 0.5  # sampling noise never excuses a setting figure off by half (a missing setting is 1.0)


def _code_structure_bound(name: str, null: float, noise: float, gates: GateThresholds) -> tuple[str, float] | None:
    """(">=" or "<=", bound) of a gated code-structure figure; None for a figure that is only reported."""
    if name.startswith("unsupported_"):
        return "<=", _relative_to_null(null, gates.max_unsupported_share_factor, gates.min_unsupported_share_floor)
    if name == "claim_type_joint_deviation":
        widened = min(gates.claim_type_joint_noise_factor * noise, JOINT_BOUND_CAP)
        return "<=", max(gates.max_claim_type_joint_deviation, widened)
    factor = gates.null_deviation_factor
    if name in ("all_dx_prevalence_r2", "cooccurrence_r2"):
        default = gates.min_all_dx_prevalence_r2 if name == "all_dx_prevalence_r2" else gates.min_cooccurrence_r2
        return ">=", 1 - _relative_to_null(1 - null, factor, 1 - default)
    if name == "max_overrepresentation":
        return "<=", 1 + _relative_to_null(null - 1, factor, gates.max_overrepresentation - 1)
    return None


def _relative_to_null(null: float, factor: float, floor: float) -> float:
    """max(factor × the holdout's value, floor): a real sample's own deviation is not held against a synthetic one."""
    return math.nan if math.isnan(null) else max(factor * null, floor)


def code_structure_rows(figures: dict[str, float], gates: GateThresholds) -> list[dict]:
    """One row per code-structure figure (headline names `code_structure.*` / `code_structure_null.*`): synthetic
    value, holdout null, and for gated figures the bound and whether the synthetic value keeps it."""
    rows = []
    for metric, value in figures.items():
        if not metric.startswith(SYNTHETIC_PREFIX):
            continue
        name = metric.removeprefix(SYNTHETIC_PREFIX)
        null = figures.get(f"{NULL_PREFIX}{name}", math.nan)
        bound = _code_structure_bound(name, null, figures.get(f"{SYNTHETIC_PREFIX}claim_type_joint_noise", 0.0), gates)
        row = {"figure": name, "label": CODE_STRUCTURE_LABELS.get(name, name), "synthetic": value, "null": null,
               "operator": None, "threshold": None, "passed": None}
        if bound is not None:
            operator, threshold = bound
            keeps = _at_least(value, threshold) if operator == ">=" else _at_most(value, threshold)
            row |= {"operator": operator, "threshold": threshold, "passed": keeps}
        rows.append(row)
    return rows


def bound_text(row: dict) -> str | None:
    """A code-structure row's bound as text (`≥ 0.9`), None for a figure that is only reported."""
    if row["operator"] is None:
        return None
    return f"{'≥' if row['operator'] == '>=' else '≤'} {row['threshold']:.4g}"


def code_structure_gate(fidelity: pl.DataFrame, gates: GateThresholds) -> GateResult:
    """Every gated code-structure figure inside its bound (value = figures outside, threshold 0). Each bound is
    the spec's default unless the real holdout itself misses it by a margin: R² ≥ min(default, 1 - factor ×
    (1 - null R²)), over-representation - 1 ≤ max(default - 1, factor × (null - 1)), unsupported shares ≤ max(factor × null,
    floor), the setting gap ≤ max(default, factor × its sampling noise at the synthetic table's size).
    A failure names each figure (the setting gap also its worst setting figure)."""
    for name in CODE_STRUCTURE_LABELS:
        require(fidelity, f"{SYNTHETIC_PREFIX}{name}")
    rows = [row for row in code_structure_rows(headline(fidelity), gates) if row["operator"] is not None]
    failing = {row["figure"]: row["synthetic"] for row in rows if not row["passed"]}
    if "claim_type_joint_deviation" in failing:
        gaps = detail(fidelity, f"{SYNTHETIC_PREFIX}claim_type_gap").sort("value", descending=True, nulls_last=True)
        failing[f"claim_type_joint_deviation: {gaps['column'][0]}"] = failing.pop("claim_type_joint_deviation")
    text = "; ".join(
        f"{row['figure']} {row['synthetic']:.4g} ({row['operator']} {row['threshold']:.4g}, null {row['null']:.4g})"
        for row in rows
    )
    return GateResult("code_structure", not failing, float(len(failing)), 0.0, text, failing)

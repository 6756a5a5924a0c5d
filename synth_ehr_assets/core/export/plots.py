"""Matplotlib figures for the reports and the data card, returned as PNG bytes."""

from __future__ import annotations

import io

import numpy as np
import polars as pl

REAL_COLOR = "#4c72b0"
SYNTHETIC_COLOR = "#dd8452"
_CATEGORICAL_PANELS = ("claim_type", "payer", "sex")
JUDGE_SCORE_COLUMNS = ("plausibility", "relevance", "coherence")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=90, metadata={"Software": None})
    _pyplot().close(figure)
    return buffer.getvalue()


def _numeric_panel(axis, real: np.ndarray, synthetic: np.ndarray, title: str) -> None:
    values = np.concatenate([real, synthetic])
    if len(values) == 0:
        axis.set_title(f"{title} (no values)")
        return
    bins = np.histogram_bin_edges(values, bins=30)
    for sample, color, label in ((real, REAL_COLOR, "real"), (synthetic, SYNTHETIC_COLOR, "synthetic")):
        if len(sample):  # a density of no values divides by zero
            axis.hist(sample, bins=bins, density=True, alpha=0.55, color=color, label=label)
    axis.set_title(title)
    axis.legend(fontsize=7)


def _categorical_panel(axis, real: pl.Series, synthetic: pl.Series, title: str) -> None:
    real_share = real.fill_null("(missing)").value_counts(normalize=True, name="share")
    synthetic_share = synthetic.fill_null("(missing)").value_counts(normalize=True, name="share")
    levels = sorted(set(real_share[real.name].to_list()) | set(synthetic_share[synthetic.name].to_list()))
    lookup_real = dict(zip(real_share[real.name].to_list(), real_share["share"].to_list()))
    lookup_synthetic = dict(zip(synthetic_share[synthetic.name].to_list(), synthetic_share["share"].to_list()))
    positions = np.arange(len(levels))
    real_heights = [lookup_real.get(v, 0.0) for v in levels]
    synthetic_heights = [lookup_synthetic.get(v, 0.0) for v in levels]
    axis.bar(positions - 0.2, real_heights, 0.4, color=REAL_COLOR, label="real")
    axis.bar(positions + 0.2, synthetic_heights, 0.4, color=SYNTHETIC_COLOR, label="synthetic")
    axis.set_xticks(positions, levels, rotation=30, ha="right", fontsize=7)
    axis.set_title(title)
    axis.legend(fontsize=7)


def distributions_png(real: pl.DataFrame, synthetic: pl.DataFrame) -> bytes:
    """Real vs synthetic: age, length of stay (inpatient), log10 charge, and three categorical columns."""
    plt = _pyplot()
    figure, axes = plt.subplots(2, 3, figsize=(12, 6.5))

    def numeric(frame: pl.DataFrame, column: str, inpatient_only: bool = False) -> np.ndarray:
        if inpatient_only:
            frame = frame.filter(pl.col("claim_type") == "inpatient")
        return frame[column].cast(pl.Float64).drop_nulls().to_numpy()

    _numeric_panel(axes[0, 0], numeric(real, "age"), numeric(synthetic, "age"), "age")
    _numeric_panel(
        axes[0, 1], numeric(real, "los_days", True), numeric(synthetic, "los_days", True), "length of stay (inpatient)"
    )
    real_charge, synthetic_charge = numeric(real, "charge_amount"), numeric(synthetic, "charge_amount")
    _numeric_panel(
        axes[0, 2], np.log10(np.clip(real_charge, 1, None)), np.log10(np.clip(synthetic_charge, 1, None)),
        "log10 charge amount",
    )
    for axis, column in zip(axes[1], _CATEGORICAL_PANELS):
        _categorical_panel(axis, real[column], synthetic[column], column)
    return _png(figure)


def prevalence_scatter_png(principal: pl.DataFrame, any_slot: pl.DataFrame) -> bytes:
    """Code prevalence real vs synthetic (log-log, with the identity line), principal and any-slot."""
    plt = _pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.8))
    for axis, table, title in ((axes[0], principal, "principal diagnosis"), (axes[1], any_slot, "any diagnosis slot")):
        real = table["real_prevalence"].to_numpy()
        synthetic = table["synthetic_prevalence"].to_numpy()
        floor = max(min(np.min(real[real > 0], initial=1e-4), np.min(synthetic[synthetic > 0], initial=1e-4)) / 2, 1e-6)
        points = np.clip(real, floor, None), np.clip(synthetic, floor, None)
        axis.scatter(*points, s=10, alpha=0.6, color=SYNTHETIC_COLOR)
        axis.plot([floor, 1], [floor, 1], color="grey", linewidth=1)
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("real prevalence")
        axis.set_ylabel("synthetic prevalence")
        axis.set_title(f"code prevalence: {title}")
    return _png(figure)


def dcr_histogram_png(dcr_distances: pl.DataFrame) -> bytes:
    """Distance to the closest training row: synthetic rows vs real holdout rows (the no-memorisation baseline)."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(7, 4))
    synthetic = dcr_distances.filter(pl.col("pair") == "synthetic_to_train")["distance"].to_numpy()
    holdout = dcr_distances.filter(pl.col("pair") == "holdout_to_train")["distance"].to_numpy()
    bins = np.histogram_bin_edges(np.concatenate([synthetic, holdout]), bins=40)
    samples = ((holdout, REAL_COLOR, "real holdout → train"), (synthetic, SYNTHETIC_COLOR, "synthetic → train"))
    for sample, color, label in samples:
        if len(sample):
            axis.hist(sample, bins=bins, density=True, alpha=0.55, color=color, label=label)
    axis.set_xlabel("distance to closest training record (encoded features)")
    axis.set_title("DCR")
    axis.legend(fontsize=8)
    return _png(figure)


def judge_histogram_png(judge_scores: pl.DataFrame, score_columns: tuple[str, ...] = JUDGE_SCORE_COLUMNS) -> bytes:
    """Counts of judge scores 1-5 per criterion."""
    plt = _pyplot()
    present = [c for c in score_columns if c in judge_scores.columns]
    figure, axis = plt.subplots(figsize=(7, 4))
    width = 0.8 / max(len(present), 1)
    for i, column in enumerate(present):
        values = np.rint(judge_scores[column].drop_nulls().cast(pl.Float64).to_numpy())
        counts = [int(np.sum(values == score)) for score in range(1, 6)]
        axis.bar(np.arange(1, 6) + (i - (len(present) - 1) / 2) * width, counts, width, label=column)
    axis.set_xticks(range(1, 6))
    axis.set_xlabel("judge score")
    axis.set_ylabel("notes")
    axis.set_title("judge scores per note")
    axis.legend(fontsize=8)
    return _png(figure)

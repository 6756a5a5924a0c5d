"""The small-source privacy check: below `synthesizer.small_source_rows` training rows, synthetic rows must sit
no closer to the training rows than fresh real rows do, or nothing is released.

Two paths hold it: `synthesize` (`check_small_source_privacy`, scored below) and the release, where
`small_source_gate` holds the privacy report's DCR overfitting protection to the real-holdout null level itself,
without the noise allowance the DCR gate grants larger sources (`distance_null.privacy_gate_bounds`).

Scoring (sdmetrics' DCR overfitting protection, min(1, 2 × share of queries not strictly closer to train than to
the validation rows), with sdmetrics' distance: per numeric column |a - b| / range, 0/1 per category, averaged):
the holdout is split in two halves; half A are the real queries, half B the validation rows for both scores.
Real rows of half A were never trained on, so their score is what an ideal generator reaches on this source.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from synth_ehr_assets.core.synth.config import SynthesizerConfig
from synth_ehr_assets.core.synth.synthesizer import split_three

if TYPE_CHECKING:
    from synth_ehr_assets.core.evaluation.gates import GateResult

MAX_QUERIES = 2000


class SmallSourceError(ValueError):
    """A small source whose synthetic rows sit closer to its training rows than real unseen rows do."""


def small_source_note(source_rows: int, train_rows: int, small_source_rows: int) -> dict[str, str]:
    """For a source below `small_source_rows` training rows: its size and what to change ({} otherwise); each line
    short enough for the CLI's failure screen."""
    if train_rows >= small_source_rows:
        return {}
    return {
        "source_size": f"{source_rows:,} source claims, {train_rows:,} training rows: a small source (below "
                       f"synthesizer.small_source_rows = {small_source_rows:,})",
        "to_change": f"supply at least {small_source_rows:,} training rows (a larger extract or a longer period), or "
                     "coarsen privacy.age_band_years / date_granularity",
    }


def small_source_gate(figures: dict[str, float], source_rows: int, train_rows: int, small_source_rows: int,
                      gates) -> GateResult:
    """Below `small_source_rows` training rows, DCR overfitting protection at or above the real holdout's own
    (the null level, `privacy_gate_bounds`), with no allowance for noise; larger sources pass here and are held
    to the DCR gate's bound. `figures`: the privacy report's headline figures; `gates`: the release's thresholds."""
    from synth_ehr_assets.core.evaluation.distance_null import privacy_gate_bounds
    from synth_ehr_assets.core.evaluation.gates import GateResult

    value = figures.get("dcr_overfitting_protection", math.nan)
    bounds = privacy_gate_bounds(figures, gates.min_dcr_overfitting_protection, gates.max_membership_inference_auc,
                                 gates.distance_null_factor)
    null = bounds["null_dcr_overfitting_protection"]
    derivation = {"source_rows": float(source_rows), "train_rows": float(train_rows),
                  "small_source_rows": float(small_source_rows), "null_dcr_overfitting_protection": null}
    note = small_source_note(source_rows, train_rows, small_source_rows)
    if not note:
        return GateResult("small_source_dcr", True, value, 0.0, f"not a small source ({train_rows:,} training rows "
                          f">= synthesizer.small_source_rows = {small_source_rows:,}): the DCR gate's bound applies",
                          derivation=derivation)
    threshold = null if math.isfinite(null) else gates.min_dcr_overfitting_protection  # no null: the default
    passed = not math.isnan(value) and value >= threshold
    text = (f"DCR overfitting protection {value:.3f} against {threshold:.3f} for real unseen patients scored the "
            f"same way (real holdout null)")
    if not passed:
        text += (f": the synthetic rows sit closer to the training rows than a fresh sample would; "
                 f"{note['source_size']}; {note['to_change']}")
    return GateResult("small_source_dcr", passed, value, threshold, text,
                      {} if passed else {"dcr_overfitting_protection": value}, derivation)


def _numbers(frame: pl.DataFrame, columns: list[str]) -> np.ndarray:
    parts = []
    for name in columns:
        series = frame[name]
        if series.dtype == pl.Date:
            series = series.cast(pl.Int32)
        elif series.dtype.is_temporal():
            series = series.dt.epoch("s")
        parts.append(series.cast(pl.Float64).to_numpy())
    return np.column_stack(parts) if parts else np.zeros((frame.height, 0))


def nearest_distances(queries: pl.DataFrame, reference: pl.DataFrame, kinds: dict[str, str]) -> np.ndarray:
    """Per query row, sdmetrics' mixed distance to the closest reference row."""
    numeric = [name for name, kind in kinds.items() if kind == "numerical"]
    other = [name for name in kinds if name not in numeric]
    q_num, r_num = _numbers(queries, numeric), _numbers(reference, numeric)
    with np.errstate(invalid="ignore"):
        ranges = np.nanmax(r_num, axis=0) - np.nanmin(r_num, axis=0) if len(r_num) else np.zeros(len(numeric))
    codes = [
        pl.concat([queries[c].cast(pl.String), reference[c].cast(pl.String)]).fill_null("\0").rank("dense").to_numpy()
        for c in other
    ]
    q_cat = np.column_stack([c[: queries.height] for c in codes]) if codes else np.zeros((queries.height, 0))
    r_cat = np.column_stack([c[queries.height :] for c in codes]) if codes else np.zeros((reference.height, 0))
    out = np.empty(queries.height)
    for start in range(0, queries.height, 256):
        a, b = q_num[start : start + 256, None, :], r_num[None, :, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            diff = np.abs(a - b)
            scaled = np.where(ranges == 0, (diff > 0) * 1.0, np.minimum(diff / ranges, 1.0))
        scaled = np.where(np.isnan(a) | np.isnan(b), np.where(np.isnan(a) & np.isnan(b), 0.0, 1.0), scaled)
        mismatched = (q_cat[start : start + 256, None, :] != r_cat[None, :, :]).sum(2)
        out[start : start + 256] = ((scaled.sum(2) + mismatched) / max(len(kinds), 1)).min(1)
    return out


def overfitting_protection(queries, train, validation, kinds: dict[str, str]) -> float:
    closer = nearest_distances(queries, train, kinds) < nearest_distances(queries, validation, kinds)
    return min(1.0, 2.0 * (1.0 - float(np.mean(closer))))


def check_small_source_privacy(
    table: pl.DataFrame, synthetic: pl.DataFrame, kinds: dict[str, str], config: SynthesizerConfig, seed: int
) -> dict:
    """Score a small source's synthetic rows against fresh real rows (module docstring); raise when worse.

    Returns {} for a source at or above `config.small_source_rows` training rows, else the two scores.
    """
    train_rows, _, holdout_rows = split_three(table.height, config, seed)  # the synthesizer's split
    if len(train_rows) >= config.small_source_rows or len(holdout_rows) < 4:
        return {}
    order = np.random.default_rng(seed + 5).permutation(holdout_rows)
    queries, validation = table[np.sort(order[: len(order) // 2])], table[np.sort(order[len(order) // 2 :])]
    train = table[train_rows]
    sample = synthetic.sample(min(MAX_QUERIES, synthetic.height), seed=seed) if synthetic.height else synthetic
    scores = {
        "train_rows": len(train_rows),
        "synthetic_protection": overfitting_protection(sample, train, validation, kinds),
        "real_holdout_protection": overfitting_protection(queries, train, validation, kinds),
    }
    if scores["synthetic_protection"] < scores["real_holdout_protection"]:
        raise SmallSourceError(
            f"small source: {table.height:,} rows ({len(train_rows):,} training rows, below "
            f"synthesizer.small_source_rows = {config.small_source_rows:,}); the synthetic rows' DCR overfitting "
            f"protection is {scores['synthetic_protection']:.3f}, below {scores['real_holdout_protection']:.3f} "
            "for real unseen rows scored the same way, so they copy the training rows more than a fresh sample "
            f"would; nothing was written. Supply at least {config.small_source_rows:,} training rows, or drop or "
            "coarsen detailed columns (codes beyond the principal, exact dates, amounts)"
        )
    return scores

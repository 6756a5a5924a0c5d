"""Machine-learning utility: train on synthetic, test on real (TSTR) next to train on real, test on real (TRTR)."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import polars as pl
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from synth_ehr_assets.core.evaluation.features import ClaimEncoder
from synth_ehr_assets.core.evaluation.sdmetrics_bridge import subsample
from synth_ehr_assets.core.schema import DX_COLUMNS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UtilityTarget:
    """A claim-level label and the encoded features hidden from its model (they would give the answer away)."""

    name: str
    label: pl.Expr
    hidden_features: tuple[str, ...]
    description: str


def _any_dx(prefixes: tuple[str, ...]) -> pl.Expr:
    return pl.any_horizontal(pl.col(c).str.starts_with(p).fill_null(False) for c in DX_COLUMNS for p in prefixes)


def _dx_target(name: str, prefixes: tuple[str, ...]) -> UtilityTarget:
    hidden = tuple(f"dx:{prefix}" for prefix in prefixes)
    return UtilityTarget(name, _any_dx(prefixes), hidden, f"any diagnosis {','.join(prefixes)}")


UTILITY_TARGETS: tuple[UtilityTarget, ...] = (
    # Setting from demographics, payer, specialty and diagnoses (stay length, money and procedures hidden).
    UtilityTarget(
        "inpatient",
        pl.col("claim_type") == "inpatient",
        ("claim_type=", "los_days", "log_", "px:", "px_count"),
        "claim_type = inpatient",
    ),
    _dx_target("diabetes", ("E08", "E09", "E10", "E11", "E13")),
    _dx_target("heart_failure", ("I50",)),
)


def target_labels(claims: pl.DataFrame, target: UtilityTarget) -> np.ndarray:
    return claims.select(target.label.fill_null(False).cast(pl.Int8)).to_series().to_numpy()


def _auc(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray, seed: int) -> float:
    if len(np.unique(train_y)) < 2 or len(np.unique(test_y)) < 2:
        return math.nan
    # A linear model: fast, deterministic and thread-light; the comparison is TSTR vs TRTR, not the model.
    model = LogisticRegression(max_iter=1000, random_state=seed)
    model.fit(train_x, train_y)
    return float(roc_auc_score(test_y, model.predict_proba(test_x)[:, 1]))


def tstr_report(
    real_train: pl.DataFrame, real_holdout: pl.DataFrame, synthetic: pl.DataFrame, seed: int, max_rows: int
) -> tuple[dict[str, float], pl.DataFrame]:
    """ROC AUC on the real holdout of models trained on synthetic vs on real rows, per target.

    Both training sets are cut to the same size so the comparison is about the data, not its amount.
    A target absent from a training set (one class only) scores NaN and is logged.
    """
    started = time.perf_counter()
    rows = min(max_rows, real_train.height, synthetic.height)
    train = subsample(real_train, rows, seed)
    synth = subsample(synthetic, rows, seed + 1)
    encoder = ClaimEncoder.fit(real_train)
    names = encoder.feature_names
    frames = {"train": train, "synth": synth, "holdout": real_holdout}
    features = {part: encoder.transform(frame) for part, frame in frames.items()}
    metrics: dict[str, float] = {}
    records = []
    for target in UTILITY_TARGETS:
        keep = [i for i, name in enumerate(names) if not name.startswith(target.hidden_features)]
        x = {part: matrix[:, keep] for part, matrix in features.items()}
        y = {part: target_labels(frame, target) for part, frame in frames.items()}
        trtr = _auc(x["train"], y["train"], x["holdout"], y["holdout"], seed)
        tstr = _auc(x["synth"], y["synth"], x["holdout"], y["holdout"], seed)
        if math.isnan(tstr) or math.isnan(trtr):
            logger.warning(
                "utility target %s has one class only (real prevalence %.4f, synthetic %.4f): AUC is NaN",
                target.name, y["train"].mean(), y["synth"].mean(),
            )
        metrics[f"tstr_auc_{target.name}"] = tstr
        metrics[f"trtr_auc_{target.name}"] = trtr
        metrics[f"tstr_trtr_ratio_{target.name}"] = tstr / trtr if trtr and not math.isnan(trtr) else math.nan
        records.append(
            {
                "target": target.name,
                "definition": target.description,
                "real_prevalence": float(y["train"].mean()),
                "synthetic_prevalence": float(y["synth"].mean()),
                "trtr_auc": trtr,
                "tstr_auc": tstr,
            }
        )
    logger.info("TSTR/TRTR on %d training rows per side in %.1fs", rows, time.perf_counter() - started)
    return metrics, pl.DataFrame(records)

"""Numeric encoding of claims shared by the distance-based privacy metrics and the TSTR models.

The encoder is fitted on the real training rows only, so real, holdout and synthetic rows land in one space:
standardised numerics (money on a log scale), one-hot categoricals, and multi-hot diagnosis categories
(first three characters) and procedure codes for the most frequent values in training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from synth_ehr_assets.core.schema import CATEGORICAL_COLUMNS, DX_COLUMNS, PX_COLUMNS

DX_CATEGORY_LIMIT = 64
PX_CODE_LIMIT = 32
_MONEY_COLUMNS = ("charge_amount", "allowed_amount", "paid_amount")
_CLIP = 6.0


def _numeric_frame(claims: pl.DataFrame) -> pl.DataFrame:
    """Derived numeric view of a claims table: raw counts, log money, day number of the service date."""
    return claims.select(
        pl.col("age").cast(pl.Float64),
        pl.col("los_days").cast(pl.Float64),
        *[pl.col(c).cast(pl.Float64).clip(lower_bound=0).log1p().alias(f"log_{c}") for c in _MONEY_COLUMNS],
        pl.col("service_date").cast(pl.Int32).cast(pl.Float64).alias("service_day"),
        pl.sum_horizontal(pl.col(c).is_not_null() for c in DX_COLUMNS).cast(pl.Float64).alias("dx_count"),
        pl.sum_horizontal(pl.col(c).is_not_null() for c in PX_COLUMNS).cast(pl.Float64).alias("px_count"),
    )


def _dx_categories(claims: pl.DataFrame) -> pl.Series:
    """One list of distinct three-character diagnosis categories per claim."""
    return claims.select(
        pl.concat_list(pl.col(c).str.slice(0, 3) for c in DX_COLUMNS).list.drop_nulls().list.unique().alias("cats")
    ).to_series()


def _px_codes(claims: pl.DataFrame) -> pl.Series:
    return claims.select(
        pl.concat_list(pl.col(c) for c in PX_COLUMNS).list.drop_nulls().list.unique().alias("codes")
    ).to_series()


def _most_frequent(lists: pl.Series, limit: int) -> list[str]:
    counts = lists.explode().drop_nulls().value_counts(sort=True)
    name = counts.columns[0]
    ranked = counts.sort(["count", name], descending=[True, False])
    return ranked[name].head(limit).to_list()


def _multi_hot(lists: pl.Series, vocabulary: list[str]) -> np.ndarray:
    matrix = np.zeros((len(lists), len(vocabulary)), dtype=np.float64)
    position = {value: i for i, value in enumerate(vocabulary)}
    for row, values in enumerate(lists.to_list()):
        for value in values or ():
            column = position.get(value)
            if column is not None:
                matrix[row, column] = 1.0
    return matrix


@dataclass(frozen=True)
class ClaimEncoder:
    """Fitted encoding of claims into a dense float matrix; `feature_names` labels its columns."""

    numeric_names: tuple[str, ...]
    numeric_means: tuple[float, ...]
    numeric_stds: tuple[float, ...]
    categories: dict[str, tuple[str, ...]]
    dx_vocabulary: tuple[str, ...]
    px_vocabulary: tuple[str, ...]

    @classmethod
    def fit(cls, claims: pl.DataFrame) -> "ClaimEncoder":
        """Learn scaling, category levels and code vocabularies from real training rows."""
        if claims.height == 0:
            raise ValueError("cannot fit the claim encoder on an empty table: expected real training rows")
        numeric = _numeric_frame(claims)
        means = tuple(float(numeric[c].mean() or 0.0) for c in numeric.columns)
        stds = tuple(float(numeric[c].std() or 0.0) or 1.0 for c in numeric.columns)
        categories = {
            c: tuple(sorted(v for v in claims[c].unique().to_list() if v is not None)) for c in CATEGORICAL_COLUMNS
        }
        return cls(
            numeric_names=tuple(numeric.columns),
            numeric_means=means,
            numeric_stds=stds,
            categories=categories,
            dx_vocabulary=tuple(_most_frequent(_dx_categories(claims), DX_CATEGORY_LIMIT)),
            px_vocabulary=tuple(_most_frequent(_px_codes(claims), PX_CODE_LIMIT)),
        )

    @property
    def feature_names(self) -> list[str]:
        names = list(self.numeric_names)
        for column, levels in self.categories.items():
            names.extend(f"{column}={level}" for level in levels)
        names.extend(f"dx:{category}" for category in self.dx_vocabulary)
        names.extend(f"px:{code}" for code in self.px_vocabulary)
        return names

    def transform(self, claims: pl.DataFrame) -> np.ndarray:
        """Encode rows; missing numerics sit at the training mean, unseen categories encode as all zeros."""
        numeric = _numeric_frame(claims).to_numpy().astype(np.float64)
        numeric = (numeric - np.array(self.numeric_means)) / np.array(self.numeric_stds)
        blocks = [np.clip(np.nan_to_num(numeric, nan=0.0), -_CLIP, _CLIP)]
        for column, levels in self.categories.items():
            values = claims[column].to_numpy()
            blocks.append((values[:, None] == np.array(levels, dtype=object)[None, :]).astype(np.float64))
        blocks.append(_multi_hot(_dx_categories(claims), list(self.dx_vocabulary)))
        blocks.append(_multi_hot(_px_codes(claims), list(self.px_vocabulary)))
        return np.hstack(blocks)


def held_out_by_patient(real_train: pl.DataFrame, real_holdout: pl.DataFrame) -> bool:
    """True when both sides carry patient_id and no holdout patient has a claim in train."""
    if "patient_id" not in real_train.columns or "patient_id" not in real_holdout.columns:
        return False
    return not real_holdout["patient_id"].is_in(real_train["patient_id"].implode()).any()


def train_holdout(source: pl.DataFrame, splits: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Source rows split as the synthesizer split them (`splits`: claim_id, split = "train" | "holdout")."""
    missing = {"claim_id", "split"} - set(splits.columns)
    if missing:
        raise ValueError(f"split table lacks column(s) {sorted(missing)}; expected claim_id and split per source claim")
    joined = source.join(splits.select("claim_id", "split"), on="claim_id", how="inner")
    train = joined.filter(pl.col("split") == "train").drop("split")
    holdout = joined.filter(pl.col("split") == "holdout").drop("split")
    if train.height == 0 or holdout.height == 0:
        raise ValueError(
            f"split table gives {train.height} train and {holdout.height} holdout rows for {source.height} source "
            "claims: both are needed (is encoded_features from the same release?)"
        )
    return train, holdout

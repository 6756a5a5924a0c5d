"""Adapters between canonical claims (polars) and the sdmetrics 0.32 quality report and DCR privacy metrics.

sdmetrics sees a compact view of each claim: the categoricals, the numerics, the service date, the
three-character principal-diagnosis category, the first procedure and the diagnosis count. Full codes are
scored separately (code-prevalence R²) because an exact-code shape on a few thousand rows is mostly noise.
"""

from __future__ import annotations

import logging
import time
import warnings
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import pandas as pd
import polars as pl

from synth_ehr_assets.core.schema import CATEGORICAL_COLUMNS, DX_COLUMNS, NUMERIC_COLUMNS

logger = logging.getLogger(__name__)

TABLE_NAME = "claims"
_EXTRA_CATEGORICAL = ("principal_dx_category", "px_1")
_EXTRA_NUMERIC = ("dx_count",)


def sdmetrics_metadata() -> dict:
    """sdmetrics metadata (unified, single-table form) for `sdmetrics_frame` output."""
    columns = {c: {"sdtype": "categorical"} for c in (*CATEGORICAL_COLUMNS, *_EXTRA_CATEGORICAL)}
    columns.update({c: {"sdtype": "numerical"} for c in (*NUMERIC_COLUMNS, *_EXTRA_NUMERIC)})
    columns["service_date"] = {"sdtype": "datetime", "datetime_format": "%Y-%m-%d"}
    return {"tables": {TABLE_NAME: {"columns": columns}}}


def sdmetrics_frame(claims: pl.DataFrame) -> pd.DataFrame:
    """The compact pandas view of claims that sdmetrics scores."""
    view = claims.select(
        *CATEGORICAL_COLUMNS,
        pl.col("dx_1").str.slice(0, 3).alias("principal_dx_category"),
        "px_1",
        *[pl.col(c).cast(pl.Float64) for c in NUMERIC_COLUMNS],
        pl.sum_horizontal(pl.col(c).is_not_null() for c in DX_COLUMNS).cast(pl.Float64).alias("dx_count"),
        "service_date",
    ).to_pandas()
    view["service_date"] = pd.to_datetime(view["service_date"])
    return view


def subsample(claims: pl.DataFrame, max_rows: int, seed: int) -> pl.DataFrame:
    """At most `max_rows` rows drawn without replacement from a seed (the table itself when small enough)."""
    if claims.height <= max_rows:
        return claims
    return claims.sample(n=max_rows, seed=seed, shuffle=False)


def patient_order(claims: pl.DataFrame, seed: int) -> pl.DataFrame:
    """The claims with whole patients in seeded random order (claims of one patient together, by claim_id);
    rows in seeded random order when there is no patient_id."""
    if "patient_id" not in claims.columns:
        return claims.sample(fraction=1.0, shuffle=True, seed=seed)
    patients = claims["patient_id"].unique().sort()
    order = patients.gather(np.random.default_rng(seed).permutation(len(patients)))
    ranks = pl.DataFrame({"patient_id": order, "_rank": np.arange(len(order))})
    return claims.join(ranks, on="patient_id").sort("_rank", "claim_id").drop("_rank")


def subsample_patients(claims: pl.DataFrame, max_rows: int, seed: int) -> pl.DataFrame:
    """At most `max_rows` rows made of whole patients drawn in seeded order (the last one cut to fit).

    A sample of a large split then keeps the claims-per-patient structure of a smaller split used whole (a row
    sample of train holds ~1 claim per patient where a holdout sample holds ~3), so two samples compared by an
    attack (`attack_risk.matched_targets`) differ in membership, not in how their rows cluster.
    """
    if claims.height <= max_rows:
        return claims
    return patient_order(claims, seed).head(max_rows)


@contextmanager
def _quiet_and_seeded(seed: int) -> Iterator[None]:
    """sdmetrics draws from numpy's global generator and warns freely: seed it and restore it afterwards."""
    state = np.random.get_state()
    np.random.seed(seed % 2**32)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        np.random.set_state(state)


def quality_report(real: pl.DataFrame, synthetic: pl.DataFrame, seed: int) -> dict:
    """sdmetrics QualityReport: overall score, property scores and the per-column / per-pair details."""
    from sdmetrics.reports import QualityReport

    started = time.perf_counter()
    report = QualityReport()
    with _quiet_and_seeded(seed):
        report.generate(
            {TABLE_NAME: sdmetrics_frame(real)}, {TABLE_NAME: sdmetrics_frame(synthetic)},
            sdmetrics_metadata(), verbose=False,
        )
    properties = report.get_properties().set_index("Property")["Score"]
    shapes = report.get_details("Column Shapes", table_name=TABLE_NAME)
    pairs = report.get_details("Column Pair Trends", table_name=TABLE_NAME)
    logger.info(
        "sdmetrics quality %.3f on %d real / %d synthetic rows in %.1fs",
        report.get_score(), real.height, synthetic.height, time.perf_counter() - started,
    )
    return {
        "quality_score": float(report.get_score()),
        "column_shapes_score": float(properties["Column Shapes"]),
        "column_pair_trends_score": float(properties["Column Pair Trends"]),
        "column_shapes": pl.from_pandas(shapes[["Column", "Metric", "Score"]]).rename(str.lower),
        "column_pair_trends": pl.from_pandas(pairs[["Column 1", "Column 2", "Metric", "Score"]]).rename(
            lambda name: name.lower().replace(" ", "_")
        ),
    }


def _dcr_columns(frames: list[pd.DataFrame]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per frame: a float matrix of numeric/datetime columns (seconds) and an int matrix of category codes
    (factorised jointly across frames so equal values share a code; missing values share code -1)."""
    columns = sdmetrics_metadata()["tables"][TABLE_NAME]["columns"]
    numeric = [c for c, m in columns.items() if m["sdtype"] in ("numerical", "datetime")]
    categorical = [c for c, m in columns.items() if m["sdtype"] == "categorical"]

    def as_float(frame: pd.DataFrame, column: str) -> np.ndarray:
        values = frame[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            seconds = values.astype("datetime64[s]").astype("int64").astype(float)
            return np.where(values.isna(), np.nan, seconds)
        return values.astype(float).to_numpy()

    numbers = [np.column_stack([as_float(f, c) for c in numeric]) for f in frames]
    codes = []
    for column in categorical:
        joint, _ = pd.factorize(pd.concat([f[column] for f in frames], ignore_index=True), use_na_sentinel=True)
        codes.append(np.split(joint, np.cumsum([len(f) for f in frames])[:-1]))
    categories = [np.column_stack([per_column[i] for per_column in codes]) for i in range(len(frames))]
    return numbers, categories


def mixed_dcr(queries: pd.DataFrame, reference: pd.DataFrame, chunk: int = 256) -> np.ndarray:
    """sdmetrics' distance to closest record, vectorised: per column |a-b| / range of the reference (capped at 1,
    0/1 for a constant column, 1 when exactly one side is missing), category mismatch 0/1; mean over columns,
    minimum over reference rows. Same numbers as `sdmetrics...dcr_utils.calculate_dcr`, without pandas cross joins."""
    (q_num, r_num), (q_cat, r_cat) = _dcr_columns([queries, reference])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ranges = np.nanmax(r_num, axis=0) - np.nanmin(r_num, axis=0)
    width = q_num.shape[1] + q_cat.shape[1]
    result = np.empty(len(q_num))
    for start in range(0, len(q_num), chunk):
        a, b = q_num[start : start + chunk, None, :], r_num[None, :, :]
        diff = np.abs(a - b)
        with np.errstate(invalid="ignore", divide="ignore"):
            scaled = np.where(ranges == 0, (diff > 0).astype(float), np.minimum(diff / ranges, 1.0))
        missing = np.isnan(a) | np.isnan(b)
        scaled = np.where(missing, np.where(np.isnan(a) & np.isnan(b), 0.0, 1.0), scaled)
        mismatched = (q_cat[start : start + chunk, None, :] != r_cat[None, :, :]).sum(axis=2)
        result[start : start + chunk] = ((scaled.sum(axis=2) + mismatched) / width).min(axis=1)
    return result


def dcr_protection(
    real_train: pl.DataFrame,
    real_holdout: pl.DataFrame,
    synthetic: pl.DataFrame,
    seed: int,
    rows: int,
    library_rows: int,
) -> dict[str, float]:
    """sdmetrics DCROverfittingProtection and DCRBaselineProtection.

    The overfitting score (the gate) uses sdmetrics' formula, min(1, 2 x share of synthetic rows strictly closer
    to train than to holdout), over `rows` synthetic queries against equal train and holdout samples of up to
    `rows`, with the vectorised DCR above: at a few hundred queries the share's sampling noise alone moves the
    score by ±0.05 around the 0.9 gate. The sdmetrics library itself (pandas cross joins, ~20 µs per pair) runs
    both metrics on `library_rows`-row samples, reported alongside as a cross-check.
    """
    from sdmetrics.single_table import DCRBaselineProtection, DCROverfittingProtection

    started = time.perf_counter()
    size = min(rows, real_train.height, real_holdout.height)
    train = sdmetrics_frame(subsample(real_train, size, seed))
    holdout = sdmetrics_frame(subsample(real_holdout, size, seed + 1))
    synth = sdmetrics_frame(subsample(synthetic, rows, seed + 2))
    to_train, to_holdout = mixed_dcr(synth, train), mixed_dcr(synth, holdout)
    closer = float(np.mean(to_train < to_holdout))

    small = min(library_rows, size, len(synth))
    lib_train, lib_holdout, lib_synth = (f.sample(n=small, random_state=seed) for f in (train, holdout, synth))
    metadata = sdmetrics_metadata()["tables"][TABLE_NAME]
    # sdmetrics draws the random baseline from `cls._seed` (None = unseeded): a subclass pins it to the release.
    seeded_baseline = type("SeededDCRBaselineProtection", (DCRBaselineProtection,), {"_seed": seed})
    with _quiet_and_seeded(seed):
        baseline = seeded_baseline.compute_breakdown(lib_train, lib_synth, metadata, TABLE_NAME)
        overfitting = DCROverfittingProtection.compute_breakdown(
            lib_train, lib_synth, lib_holdout, metadata, TABLE_NAME
        )
    logger.info(
        "DCR protection: %d synthetic rows vs %d train / %d holdout rows (sdmetrics library on %d) in %.1fs",
        len(synth), size, size, small, time.perf_counter() - started,
    )
    return {
        "dcr_overfitting_protection": min(2.0 * (1.0 - closer), 1.0),
        "share_closer_to_train_sdm": closer,
        "dcr_median_synthetic_to_train_sdm": float(np.median(to_train)),
        "dcr_median_synthetic_to_holdout_sdm": float(np.median(to_holdout)),
        "dcr_overfitting_protection_sdmetrics_sample": float(overfitting["score"]),
        "dcr_baseline_protection": float(baseline["score"]),
        "dcr_median_random_to_train_sdm": float(baseline["median_DCR_to_real_data"]["random_data_baseline"]),
        "dcr_rows": float(len(synth)),
        "dcr_reference_rows": float(size),
        "sdmetrics_library_rows": float(small),
    }

"""Fidelity report: how closely the synthetic claims follow the real training claims (DESIGN §8), including the
code-structure figures (`code_structure.py`) of the synthetic claims next to the real holdout's.

`fidelity_report` returns a flat mapping of named floats (for DuckDB and asset metadata) plus a `tables`
entry of polars frames (for the data card).
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np
import polars as pl
from scipy.stats import wasserstein_distance
from sklearn.metrics import r2_score

from synth_ehr_assets.core.evaluation.code_structure import (
    code_structure_detail,
    code_structure_headline,
    code_structure_report,
)
from synth_ehr_assets.core.evaluation.figures import figures_frame
from synth_ehr_assets.core.evaluation.journeys import journey_report
from synth_ehr_assets.core.evaluation.sdmetrics_bridge import quality_report, subsample
from synth_ehr_assets.core.evaluation.utility import tstr_report
from synth_ehr_assets.core.schema import DX_COLUMNS, NUMERIC_COLUMNS, PX_COLUMNS

logger = logging.getLogger(__name__)

LOG_SCALE_COLUMNS = ("charge_amount", "allowed_amount", "paid_amount")
CHARGE_QUANTILES = (0.5, 0.9, 0.99)
TOP_K = 50
PREVALENCE_TABLE_CODES = 300
_PERCENTILES = np.linspace(0.01, 0.99, 99)


def _values(claims: pl.DataFrame, column: str) -> np.ndarray:
    series = claims[column].cast(pl.Float64).drop_nulls().drop_nans()
    if column in LOG_SCALE_COLUMNS:
        series = series.clip(lower_bound=0).log1p()
    return series.to_numpy()


def numeric_distances(real: pl.DataFrame, synthetic: pl.DataFrame) -> pl.DataFrame:
    """Per numeric column: quantile RMSE and earth mover's distance on values standardised by the real rows.

    Money columns are compared on a log scale so the heavy tail does not swamp the body of the distribution.
    """
    records = []
    for column in NUMERIC_COLUMNS:
        real_values, synthetic_values = _values(real, column), _values(synthetic, column)
        if len(real_values) == 0 or len(synthetic_values) == 0:
            records.append({"column": column, "rmse": math.nan, "emd": math.nan})
            continue
        scale = float(real_values.std()) or 1.0
        real_scaled = (real_values - real_values.mean()) / scale
        synthetic_scaled = (synthetic_values - real_values.mean()) / scale
        gap = np.quantile(real_scaled, _PERCENTILES) - np.quantile(synthetic_scaled, _PERCENTILES)
        records.append(
            {
                "column": column,
                "rmse": float(np.sqrt(np.mean(gap**2))),
                "emd": float(wasserstein_distance(real_scaled, synthetic_scaled)),
            }
        )
    return pl.DataFrame(records, schema={"column": pl.String, "rmse": pl.Float64, "emd": pl.Float64})


def _correlation_frame(claims: pl.DataFrame) -> pl.DataFrame:
    return claims.select(
        *[
            (pl.col(c).cast(pl.Float64).log1p() if c in LOG_SCALE_COLUMNS else pl.col(c).cast(pl.Float64))
            for c in NUMERIC_COLUMNS
        ],
        pl.sum_horizontal(pl.col(c).is_not_null() for c in DX_COLUMNS).cast(pl.Float64).alias("dx_count"),
        pl.sum_horizontal(pl.col(c).is_not_null() for c in PX_COLUMNS).cast(pl.Float64).alias("px_count"),
    ).fill_null(0.0)


def correlation_difference(real: pl.DataFrame, synthetic: pl.DataFrame) -> pl.DataFrame:
    """Pearson correlation of every numeric pair in real vs synthetic rows (constant columns count as 0)."""
    real_frame, synthetic_frame = _correlation_frame(real), _correlation_frame(synthetic)
    names = real_frame.columns
    with np.errstate(invalid="ignore", divide="ignore"):
        real_corr = np.nan_to_num(np.corrcoef(real_frame.to_numpy(), rowvar=False))
        synthetic_corr = np.nan_to_num(np.corrcoef(synthetic_frame.to_numpy(), rowvar=False))
    records = [
        {
            "column_1": names[i],
            "column_2": names[j],
            "real": float(real_corr[i, j]),
            "synthetic": float(synthetic_corr[i, j]),
            "difference": float(abs(real_corr[i, j] - synthetic_corr[i, j])),
        }
        for i in range(len(names))
        for j in range(i + 1, len(names))
    ]
    return pl.DataFrame(records)


def code_prevalence(claims: pl.DataFrame, principal_only: bool) -> pl.DataFrame:
    """Share of claims carrying each diagnosis code (as dx_1, or in any slot counted once per claim)."""
    columns = ["dx_1"] if principal_only else DX_COLUMNS
    codes = claims.select(pl.concat_list(columns).list.drop_nulls().list.unique().alias("code")).explode("code")
    counts = codes.drop_nulls().group_by("code").len()
    return counts.select("code", (pl.col("len") / max(claims.height, 1)).alias("prevalence"))


def prevalence_agreement(
    real: pl.DataFrame, synthetic: pl.DataFrame, principal_only: bool
) -> tuple[float, float, pl.DataFrame]:
    """R² of synthetic against real code prevalence (over codes seen on either side) and top-K overlap."""
    joined = (
        code_prevalence(real, principal_only)
        .join(code_prevalence(synthetic, principal_only), on="code", how="full", coalesce=True, suffix="_synthetic")
        .rename({"prevalence": "real_prevalence", "prevalence_synthetic": "synthetic_prevalence"})
        .fill_null(0.0)
        .sort(["real_prevalence", "synthetic_prevalence", "code"], descending=[True, True, False])
    )
    if joined.height < 2:
        return math.nan, math.nan, joined
    r2 = float(r2_score(joined["real_prevalence"].to_numpy(), joined["synthetic_prevalence"].to_numpy()))
    top_real = set(joined.head(TOP_K)["code"].to_list())
    top_synthetic = set(
        joined.sort(["synthetic_prevalence", "code"], descending=[True, False]).head(TOP_K)["code"].to_list()
    )
    overlap = len(top_real & top_synthetic) / min(TOP_K, joined.height)
    return r2, overlap, joined


def charge_quantiles(real: pl.DataFrame, synthetic: pl.DataFrame) -> pl.DataFrame:
    records = []
    for q in CHARGE_QUANTILES:
        real_value = real["charge_amount"].quantile(q, interpolation="linear")
        synthetic_value = synthetic["charge_amount"].quantile(q, interpolation="linear")
        records.append({"quantile": f"p{round(q * 100)}", "real": real_value, "synthetic": synthetic_value})
    return pl.DataFrame(records, schema={"quantile": pl.String, "real": pl.Float64, "synthetic": pl.Float64})


def _require_rows(**frames: pl.DataFrame) -> None:
    for name, frame in frames.items():
        if frame.height == 0:
            raise ValueError(f"fidelity_report: table '{name}' is empty; expected claims in the canonical schema")


def fidelity_report(
    real_train: pl.DataFrame,
    real_holdout: pl.DataFrame,
    synthetic: pl.DataFrame,
    seed: int,
    max_rows: int = 5000,
    designed: tuple[str, ...] = (),
) -> dict:
    """Every fidelity figure of DESIGN §8 for one release (`designed`: coverage-target code prefixes, see
    `code_structure_figures`).

    sdmetrics and TSTR run on seeded subsamples of at most `max_rows` rows; the cheap statistics use every row.
    The quality scores are also measured for the real holdout against train (`*_null`), the level a real sample of
    that size reaches.
    """
    _require_rows(real_train=real_train, real_holdout=real_holdout, synthetic=synthetic)
    started = time.perf_counter()
    train_sample = subsample(real_train, max_rows, seed)
    quality = quality_report(train_sample, subsample(synthetic, max_rows, seed + 1), seed)
    null_quality = quality_report(train_sample, subsample(real_holdout, max_rows, seed + 2), seed)  # the null
    numeric = numeric_distances(real_train, synthetic)
    correlations = correlation_difference(real_train, synthetic)
    principal_r2, principal_top, principal_table = prevalence_agreement(real_train, synthetic, principal_only=True)
    all_r2, all_top, all_table = prevalence_agreement(real_train, synthetic, principal_only=False)
    charges = charge_quantiles(real_train, synthetic)
    utility, utility_table = tstr_report(real_train, real_holdout, synthetic, seed, max_rows)
    structure = code_structure_report(real_train, real_holdout, synthetic, seed=seed, designed=designed)
    journeys = journey_report(real_train, real_holdout, synthetic, seed) if "patient_id" in synthetic.columns else None

    report: dict = {
        "quality_score": quality["quality_score"],
        "column_shapes_score": quality["column_shapes_score"],
        "column_pair_trends_score": quality["column_pair_trends_score"],
        "quality_score_null": null_quality["quality_score"],
        "column_shapes_score_null": null_quality["column_shapes_score"],
        "column_pair_trends_score_null": null_quality["column_pair_trends_score"],
        **{f"rmse_{r['column']}": r["rmse"] for r in numeric.iter_rows(named=True)},
        **{f"emd_{r['column']}": r["emd"] for r in numeric.iter_rows(named=True)},
        "correlation_difference_mean": float(correlations["difference"].mean()),
        "correlation_difference_max": float(correlations["difference"].max()),
        "principal_dx_prevalence_r2": principal_r2,
        f"principal_dx_top{TOP_K}_overlap": principal_top,
        "all_dx_prevalence_r2": all_r2,
        f"all_dx_top{TOP_K}_overlap": all_top,
        **{f"charge_{r['quantile']}_real": r["real"] for r in charges.iter_rows(named=True)},
        **{f"charge_{r['quantile']}_synthetic": r["synthetic"] for r in charges.iter_rows(named=True)},
        **utility,
        "real_train_rows": float(real_train.height),
        "real_holdout_rows": float(real_holdout.height),
        "synthetic_rows": float(synthetic.height),
        **code_structure_headline(structure),
        **({f"journey{'' if side == 'synthetic' else '_null'}.{name}": value for side in ("synthetic", "holdout")
            for name, value in journeys[side].items()} if journeys else {}),
    }
    report["tables"] = {
        "column_shapes": quality["column_shapes"],
        "column_pair_trends": quality["column_pair_trends"],
        "numeric_distances": numeric,
        "correlations": correlations,
        "principal_dx_prevalence": principal_table.head(PREVALENCE_TABLE_CODES),
        "all_dx_prevalence": all_table.head(PREVALENCE_TABLE_CODES),
        "charge_quantiles": charges,
        "utility": utility_table,
        "code_structure": structure,
    }
    logger.info(
        "fidelity: quality %.3f (null %.3f), principal dx R² %.3f, all dx R² %.3f, co-occurrence R² %.3f (null %.3f) in %.1fs",
        report["quality_score"], report["quality_score_null"], principal_r2, all_r2, structure["synthetic"]["cooccurrence_r2"],
        structure["holdout"]["cooccurrence_r2"], time.perf_counter() - started,
    )
    return report


def fidelity_figures(release_id: str, report: dict) -> pl.DataFrame:
    """The report as long rows: headline figures, then column shapes, pair trends, correlation differences and
    the code-structure detail (ranked over/under-represented codes, per-setting gaps)."""
    tables = report["tables"]
    detail = [("column_shape", r["column"], r["score"]) for r in tables["column_shapes"].iter_rows(named=True)]
    detail += [
        ("column_pair_trend", f"{r['column_1']}|{r['column_2']}", r["score"])
        for r in tables["column_pair_trends"].iter_rows(named=True)
    ]
    detail += [
        ("correlation_difference", f"{r['column_1']}|{r['column_2']}", r["difference"])
        for r in tables["correlations"].iter_rows(named=True)
    ]
    detail += code_structure_detail(tables["code_structure"])
    headline = {k: v for k, v in report.items() if k != "tables"}
    return figures_frame(release_id, "fidelity", headline, detail)

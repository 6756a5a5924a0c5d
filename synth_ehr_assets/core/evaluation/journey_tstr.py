"""Longitudinal TSTR (issue 15 item 3): predict an inpatient admission in the next `HORIZON_DAYS` from a patient's
claims so far, trained on synthetic patients (TSTR) or on the real training patients (TRTR), tested on the real
holdout patients.

Every claim of a table is an index point, when the table still runs `HORIZON_DAYS` after it (later points are
censored). Its features come from that claim and the patient's earlier ones only: age, sex, payer, the claim's
setting and stay, claims / inpatient / outpatient claims so far, days since the first and the previous claim and
since the last admission (capped at `HORIZON_DAYS` × 4), and, for the `CONDITIONS` chronic CMS-HCC conditions most
common in train (`journeys.chronic_condition_map`), whether the patient has been coded with each. The label: a
later inpatient claim of the patient dated 1 to `HORIZON_DAYS` days after the index claim. Both training sets are
cut to the same size; the model is the claim-level TSTR's logistic regression on standardised features.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from synth_ehr_assets.core.schema import DX_COLUMNS

HORIZON_DAYS = 180
CONDITIONS = 20
MAX_EXAMPLES = 20_000
_CAP = HORIZON_DAYS * 4


def top_conditions(train: pl.DataFrame, k: int = CONDITIONS) -> list[str]:
    """The `k` chronic conditions on the most training patients."""
    return _conditions(train).group_by("condition").agg(n=pl.col("patient_id").n_unique()).sort(
        ["n", "condition"], descending=[True, False]).head(k)["condition"].to_list()


def _conditions(claims: pl.DataFrame) -> pl.DataFrame:
    from synth_ehr_assets.core.evaluation.journeys import chronic_condition_map

    columns = [c for c in DX_COLUMNS if c in claims.columns]
    rows = claims if "_row" in claims.columns else claims.with_row_index("_row")
    return (rows.select("_row", "patient_id", *[pl.col(c).cast(pl.String) for c in columns])
            .unpivot(index=["_row", "patient_id"], on=columns, value_name="code").drop_nulls("code")
            .join(chronic_condition_map(), on="code").select("_row", "patient_id", "condition").unique())


def admission_examples(claims: pl.DataFrame, conditions: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(features, labels) of every uncensored index claim of `claims` (module docstring)."""
    frame = (claims.with_row_index("_row").with_columns(day=pl.col("service_date").cast(pl.Int32),
                                                          inpatient=pl.col("claim_type").cast(pl.String) == "inpatient")
             .sort("patient_id", "day", "_row"))
    if frame.height == 0:
        return np.zeros((0, 12 + len(conditions))), np.zeros(0, dtype=np.int8)
    end = int(frame["day"].max())
    by = "patient_id"
    frame = frame.with_columns(
        seen=pl.int_range(pl.len()).over(by), inpatients=pl.col("inpatient").cast(pl.Int32).cum_sum().over(by),
        outpatients=(pl.col("claim_type").cast(pl.String) == "outpatient").cast(pl.Int32).cum_sum().over(by),
        since_first=pl.col("day") - pl.col("day").min().over(by),
        since_previous=(pl.col("day") - pl.col("day").shift().over(by)).fill_null(_CAP),
        last_admission=pl.when(pl.col("inpatient")).then(pl.col("day")).forward_fill().over(by))
    admissions = frame.filter(pl.col("inpatient")).select(by, admitted=pl.col("day")).sort("admitted")
    probe = frame.with_columns(after=pl.col("day") + 1).sort("after")
    labelled = probe.join_asof(admissions, left_on="after", right_on="admitted", by=by, strategy="forward",
                                check_sortedness=False)
    first_coded = _conditions(frame).join(frame.select("_row", "seen"), on="_row").group_by(by, "condition").agg(
        first=pl.col("seen").min())
    wide = first_coded.filter(pl.col("condition").is_in(conditions)).pivot("condition", index=by, values="first")
    labelled = labelled.filter(pl.col("day") + HORIZON_DAYS <= end).join(wide, on=by, how="left").sort("_row")
    features = {
        "age": pl.col("age"), "female": pl.col("sex").cast(pl.String) == "F",
        "medicare": pl.col("payer").cast(pl.String) == "medicare",
        "medicaid": pl.col("payer").cast(pl.String) == "medicaid",
        "inpatient": pl.col("inpatient"), "los": pl.col("los_days").fill_null(0), "claims": (pl.col("seen") + 1).log1p(),
        "inpatients": pl.col("inpatients"), "outpatients": pl.col("outpatients"),
        "since_first": pl.col("since_first").clip(0, _CAP), "since_previous": pl.col("since_previous").clip(0, _CAP),
        "since_admission": (pl.col("day") - pl.col("last_admission")).fill_null(_CAP).clip(0, _CAP),
        **{f"hcc{c}": (pl.col(c) <= pl.col("seen")).fill_null(False) if c in labelled.columns else pl.lit(False)
           for c in conditions}}
    numeric = labelled.select(expr.cast(pl.Float64).alias(name) for name, expr in features.items())
    label = ((pl.col("admitted") - pl.col("day")) <= HORIZON_DAYS).fill_null(False).cast(pl.Int8)
    return numeric.to_numpy(), labelled.select(label).to_series().to_numpy()


def _auc(train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray], seed: int) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    (x, y), (tx, ty) = train, test
    if len(np.unique(y)) < 2 or len(np.unique(ty)) < 2:
        return math.nan
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=seed)).fit(x, y)
    return float(roc_auc_score(ty, model.predict_proba(tx)[:, 1]))


def _cut(examples: tuple[np.ndarray, np.ndarray], rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    x, y = examples
    if len(y) <= rows:
        return x, y
    keep = np.sort(np.random.default_rng(seed).choice(len(y), rows, replace=False))
    return x[keep], y[keep]


def admission_tstr(train: pl.DataFrame, holdout: pl.DataFrame, synthetic: pl.DataFrame, seed: int = 0) -> dict:
    """{"tstr": AUROC trained on `synthetic`, "trtr": trained on `train`, both on `holdout`'s index claims, and the
    example counts and the holdout's admission rate}."""
    conditions = top_conditions(train)
    real, synth, test = (admission_examples(f, conditions) for f in (train, synthetic, holdout))
    rows = min(MAX_EXAMPLES, len(real[1]), len(synth[1]))
    return {"tstr": _auc(_cut(synth, rows, seed + 1), test, seed), "trtr": _auc(_cut(real, rows, seed), test, seed),
            "examples": float(rows), "test_examples": float(len(test[1])),
            "holdout_rate": float(test[1].mean()) if len(test[1]) else math.nan}

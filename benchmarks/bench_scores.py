"""Scoring and tables for `synthesizer_vs_sdv.py`: one protocol for every method and for the real holdout.

Every table of claims (a method's sample, or the real holdout as the null level) is scored against the same
train split by the same functions: sdmetrics quality, principal-code prevalence R², inpatient TSTR, DCR
overfitting protection (`core/evaluation`), the code-structure figures of `core/evaluation/code_structure.py`,
and validity straight from the released table: `_RARE_` placeholders (TabularARGN's rare-value protection),
codes that are not valid ICD-10-CM, and rows that break any clinical edit of `core/synth/rules.py`
(paid > allowed among them). synth-ehr's released rows passed those same edits before release, so its edit
columns are 0 by construction; for the others they are what a release without our edits would ship.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

EVAL_ROWS = 10_000  # sdmetrics quality / TSTR rows per side
DCR_ROWS = 2_000  # sdmetrics DCR is quadratic: synthetic queries and reference rows per side
LEAKY_FEATURES = ("claim_type=", "los_days", "px:", "px_count", "provider_specialty=", "log_")  # setting and money
RARE_TOKEN = "_RARE_"  # mostlyai.engine's CATEGORICAL_UNKNOWN_TOKEN
NULL_ROW = "real holdout (null)"
CODE_FIGURES = [
    ("all_dx_prevalence_r2", "all-dx R²", "{:.3f}"),
    ("cooccurrence_r2", "co-occurrence R²", "{:.3f}"),
    ("max_overrepresentation", "max over-rep ×", "{:.1f}"),
    ("max_overrepresentation_real_codes", "same, real codes only", "{:.1f}"),
    ("unsupported_dx1_age_share", "dx1×age decade unsupp.", "{:.1%}"),
    ("unsupported_dx1_sex_share", "dx1×sex unsupp.", "{:.1%}"),
    ("unsupported_dx1_claim_type_share", "dx1×claim type unsupp.", "{:.1%}"),
    ("unsupported_px_dx1_share", "px×dx1 unsupp.", "{:.1%}"),
    ("inpatient_share", "inpatient share", "{:.1%}"),
    ("claim_type_joint_deviation", "setting joint max gap", "{:.2f}"),
]
VALIDITY = [
    ("rare_rows", "`_RARE_` rows"),
    ("invalid_code_rows", "invalid-code rows"),
    ("paid_gt_allowed_rows", "paid > allowed rows"),
    ("edit_failure_rows", "rows failing an edit"),
]
UTILITY = [
    ("quality", "quality", "{:.3f}"),
    ("shapes", "col shapes", "{:.3f}"),
    ("pairs", "pair trends", "{:.3f}"),
    ("dx1_r2", "dx_1 R²", "{:.3f}"),
    ("tstr_auc", "TSTR AUC", "{:.3f}"),
    ("trtr_auc", "TRTR AUC", "{:.3f}"),
    ("dcr_overfit", "DCR overfit", "{:.3f}"),
    ("fit_s", "fit s", "{:.1f}"),
    ("map_rows_per_s", "sample+map rows/s", "{:,.0f}"),
    ("rows_per_s", "released rows/s", "{:,.0f}"),
    ("peak_rss_mib", "peak RSS MiB", "{:,.0f}"),
]


def inpatient_tstr(train, holdout, synthetic, seed: int) -> tuple[float, float]:
    """ROC AUC on the real holdout of "inpatient or not" trained on synthetic (TSTR) and on real rows (TRTR),
    from demographics, payer, region, date and diagnoses only: the setting's giveaways (claim type, stay,
    procedures, specialty, amounts) are hidden from the model."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    from synth_ehr_assets.core.evaluation.features import ClaimEncoder
    from synth_ehr_assets.core.evaluation.sdmetrics_bridge import subsample

    rows = min(EVAL_ROWS, train.height, synthetic.height)
    real, synth = subsample(train, rows, seed), subsample(synthetic, rows, seed + 1)
    encoder = ClaimEncoder.fit(train)
    keep = [i for i, name in enumerate(encoder.feature_names) if not name.startswith(LEAKY_FEATURES)]

    def auc(fit_rows) -> float:
        labels = (fit_rows["claim_type"] == "inpatient").to_numpy()
        truth = (holdout["claim_type"] == "inpatient").to_numpy()
        if labels.min() == labels.max():
            return math.nan
        model = LogisticRegression(max_iter=1000, random_state=seed)
        model.fit(encoder.transform(fit_rows)[:, keep], labels)
        return float(roc_auc_score(truth, model.predict_proba(encoder.transform(holdout)[:, keep])[:, 1]))

    return auc(synth), auc(real)


def validity(claims) -> dict:
    """Rows carrying a `_RARE_` placeholder in a code slot, rows with an invalid code (a dx that is not
    billable ICD-10-CM, or any `_RARE_`), rows with paid > allowed, and rows breaking any edit (or `_RARE_`)."""
    import polars as pl

    from synth_ehr_assets.core import schema
    from synth_ehr_assets.core.synth import rules

    frame = claims.with_columns(claim_id=pl.int_range(pl.len()).cast(pl.String))
    code_columns = [*schema.DX_COLUMNS, *schema.PX_COLUMNS, "drg"]
    rare = set(frame.filter(pl.any_horizontal(pl.col(c) == RARE_TOKEN for c in code_columns))["claim_id"])
    violations = rules.check_claims(frame)
    invalid_dx = set(violations.filter(pl.col("rule") == "invalid_dx_code")["claim_id"])
    paid_over = frame.filter(pl.col("paid_amount") > pl.col("allowed_amount")).height
    return {
        "rows": frame.height,
        "rare_rows": len(rare),
        "invalid_code_rows": len(rare | invalid_dx),
        "paid_gt_allowed_rows": paid_over,
        "edit_failure_rows": len(rare | set(violations["claim_id"])),
        "failures_by_rule": rules.rule_counts(violations, "claim_id"),
    }


def code_structure(train, claims) -> tuple[dict, dict]:
    """(figures, tables) of `claims` against the train split; the largest over-representation is also given
    without the `_RARE_` placeholder, which the invalid-code column counts."""
    import polars as pl

    from synth_ehr_assets.core.evaluation.code_structure import code_structure_figures

    figures = code_structure_figures(train, claims)
    tables = figures.pop("tables")
    over = tables["overrepresented"].filter(pl.col("code") != RARE_TOKEN)  # sorted by ratio; at most one _RARE_
    figures["max_overrepresentation_real_codes"] = float(over["ratio"].max()) if over.height else 0.0
    return figures, tables


def evaluate(train, holdout, synthetic, seed: int) -> tuple[dict, dict]:
    """(figures, code-structure tables) of one method's sample under the common protocol."""
    from synth_ehr_assets.core import schema
    from synth_ehr_assets.core.evaluation.fidelity import prevalence_agreement
    from synth_ehr_assets.core.evaluation.sdmetrics_bridge import dcr_protection, quality_report, subsample

    synthetic = schema.conform(synthetic)
    quality = quality_report(subsample(train, EVAL_ROWS, seed), subsample(synthetic, EVAL_ROWS, seed + 1), seed)
    r2, _, _ = prevalence_agreement(train, synthetic, principal_only=True)
    tstr, trtr = inpatient_tstr(train, holdout, synthetic, seed)
    dcr = dcr_protection(train, holdout, synthetic, seed, DCR_ROWS, DCR_ROWS)
    figures, tables = code_structure(train, synthetic)
    return {
        "quality": quality["quality_score"],
        "shapes": quality["column_shapes_score"],
        "pairs": quality["column_pair_trends_score"],
        "dx1_r2": r2,
        "tstr_auc": tstr,
        "trtr_auc": trtr,
        "dcr_overfit": dcr["dcr_overfitting_protection"],
        **figures,
        **validity(synthetic),
    }, tables


def evaluate_null(train, holdout, seed: int) -> tuple[dict, dict]:
    """The real holdout scored as if it were a synthetic sample (the null level). DCR needs rows that are neither
    the "sample" nor train: one half of the holdout plays the sample, the other the holdout; TSTR is TRTR."""
    from synth_ehr_assets.core.evaluation.fidelity import prevalence_agreement
    from synth_ehr_assets.core.evaluation.sdmetrics_bridge import dcr_protection, quality_report, subsample

    quality = quality_report(subsample(train, EVAL_ROWS, seed), subsample(holdout, EVAL_ROWS, seed + 1), seed)
    r2, _, _ = prevalence_agreement(train, holdout, principal_only=True)
    shuffled = holdout.sample(fraction=1.0, shuffle=True, seed=seed)
    half = shuffled.height // 2
    dcr = dcr_protection(train, shuffled[half:], shuffled[:half], seed, DCR_ROWS, DCR_ROWS)
    figures, tables = code_structure(train, holdout)
    return {
        "quality": quality["quality_score"],
        "shapes": quality["column_shapes_score"],
        "pairs": quality["column_pair_trends_score"],
        "dx1_r2": r2,
        "dcr_overfit": dcr["dcr_overfitting_protection"],
        **figures,
        **validity(holdout),
    }, tables


def _cell(figures: dict, key: str, pattern: str) -> str:
    value = figures.get(key)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return pattern.format(value)


def _share(figures: dict, key: str) -> str:
    rows = figures.get("rows") or 0
    return f"{figures[key] / rows:.1%} ({figures[key]:,})" if rows and key in figures else "–"


def tables_markdown(results: dict, train_figures: dict) -> str:
    """The utility/cost table and the code-structure/validity table, one row per method and the null row."""
    lines = ["| method | " + " | ".join(title for _, title, _ in UTILITY) + " |", "|---|" + "---|" * len(UTILITY)]
    for method, figures in results.items():
        lines.append(f"| {method} | " + " | ".join(_cell(figures, k, p) for k, _, p in UTILITY) + " |")
    titles = [title for _, title, _ in CODE_FIGURES] + [title for _, title in VALIDITY]
    lines += ["", "| method | " + " | ".join(titles) + " |", "|---|" + "---|" * len(titles)]
    for method, figures in results.items():
        cells = [_cell(figures, k, p) for k, _, p in CODE_FIGURES] + [_share(figures, k) for k, _ in VALIDITY]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines.append(
        f"\ntrain: inpatient share {train_figures['inpatient_share']:.1%}, inpatient stay p10/p50/p90 "
        f"{train_figures['inpatient_los_p10']:.0f}/{train_figures['inpatient_los_p50']:.0f}/"
        f"{train_figures['inpatient_los_p90']:.0f} days; co-occurrence R² over "
        f"{train_figures['cooccurrence_pairs']:,.0f} dx pairs seen ≥ 5× in train"
    )
    return "\n".join(lines)


def overrepresented_lines(code_tables: dict, shown: int = 3) -> str:
    """Per method, its most over-represented codes (≥ 0.5% of its claims) with their ratio to train."""
    lines = []
    for method, tables in code_tables.items():
        over = tables["overrepresented"].head(shown)
        text = ", ".join(
            f"{code} {desc or ''} {ratio:.1f}× ({share:.2%} vs {ref:.2%})".replace("  ", " ")
            for code, desc, ref, share, ratio in over.iter_rows()
        )
        lines.append(f"{method}: most over-represented: {text or 'none'}")
    return "\n".join(lines)


def save(folder: Path, command: str, results: dict, code_tables: dict, text: str) -> None:
    """Small text files only: the command, the figures (JSON), the printed tables and per-method code tables."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "command.txt").write_text(command + "\n")
    (folder / "results.json").write_text(json.dumps(results, indent=1, default=str))
    (folder / "tables.md").write_text(text + "\n")
    for method, tables in code_tables.items():
        slug = method.replace(" ", "_").replace("(", "").replace(")", "")
        for name, table in tables.items():
            table.write_csv(folder / f"{slug}.{name}.csv")

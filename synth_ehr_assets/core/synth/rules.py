"""Clinical edits on claims (DESIGN §6), vectorised over a polars frame.

Every rule yields one violation row per (claim, column) it flags: `claim_id, rule, column, detail`.
The synthesizer resamples any row with a violation; nothing here patches a row.

Rules:
- `missing_principal_dx`, `dx_slot_gap`: dx_1 is required and diagnosis slots are filled from the left.
- `invalid_dx_code`: every diagnosis is a billable FY2026 ICD-10-CM code.
- `age_sex_edit`: CMS MCE-style age and sex edits, flagged through the vectorised table of `age_sex_edits`
  (once per code and age band); `codes.age_sex_violation` words the reason for the flagged rows only.
- `unacceptable_principal_dx`: codes the ICD-10-CM Official Guidelines never allow as principal diagnosis:
  external causes V00-Y99 (I.C.20), manifestation codes titled "in diseases classified elsewhere" (I.A.13),
  and the secondary-only Z codes Z37 outcome of delivery, Z3A weeks of gestation, Z67 blood type, Z68 BMI.
- `duplicate_dx`, `duplicate_px`: a code appears twice on one claim.
- `px_setting_mismatch`: inpatient procedures are ICD-10-PCS (7 characters); professional and outpatient
  procedures are CPT (4 digits + a digit or letter, e.g. 99213, 3074F) or HCPCS Level II (a letter + 4 digits).
- `drg_setting_mismatch`, `los_setting_mismatch`: inpatient claims carry a DRG and a stay of at least one
  day; professional and outpatient claims carry neither (a stay of 0 counts as none).
- `amount_order`: 0 ≤ paid ≤ allowed ≤ charge, all present.
- `amount_precision`: an amount with more than two decimals (money is in cents).
- `invalid_value`: claim type, sex, payer, region outside the schema's domain, age outside 0-124, no date.
- `excludes1_pair`, `missing_companion_code`, `redundant_unspecified`: ICD-10-CM conventions between the codes
  of one claim (`edits_icd`).
- `px_age_sex_band`: procedures outside their age band or sex (`edits_procedures`).
- `gestation_weeks_conflict`, `missing_procedure`, `multiple_em_levels`, `pregnancy_condition_not_chapter15`,
  `vaccine_without_administration`: one gestational age per encounter, in the trimester its pregnancy codes
  name; a billed service on professional and outpatient claims; one visit level per E/M family; no Z34 (normal
  pregnancy) beside a chapter 15 code or a condition the guidelines code in chapter 15; an administration code
  beside every vaccine product (`edits_encounter`).
- `addon_without_primary`: an add-on or companion code without its primary service on the claim (psychotherapy
  add-ons without an E/M, an administration without a vaccine product; `edits_addon`).
- `px_dx_unsupported`, `drg_dx_mismatch`, `payer_age_implausible`: only with a `TrainingSupport` built from the
  training claims (`edits_support`); without one they are skipped.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import polars as pl

from synth_ehr_assets.core import age_sex_edits, codes, schema
from synth_ehr_assets.core.synth import edits_addon, edits_encounter, edits_icd, edits_procedures, edits_support
from synth_ehr_assets.core.synth.edits_base import ROW as _ROW
from synth_ehr_assets.core.synth.edits_base import flag as _flag
from synth_ehr_assets.core.synth.edits_base import long as _long
from synth_ehr_assets.core.synth.edits_support import TrainingSupport

VIOLATION_SCHEMA = {"claim_id": pl.String(), "rule": pl.String(), "column": pl.String(), "detail": pl.String()}
RULES = (
    "missing_principal_dx", "dx_slot_gap", "invalid_dx_code", "age_sex_edit", "unacceptable_principal_dx",
    "duplicate_dx", "duplicate_px", "px_setting_mismatch", "drg_setting_mismatch", "los_setting_mismatch",
    "amount_order", "amount_precision", "invalid_value", "excludes1_pair", "missing_companion_code",
    "redundant_unspecified", "px_age_sex_band", "gestation_weeks_conflict", "missing_procedure", "multiple_em_levels",
    "pregnancy_condition_not_chapter15", "vaccine_without_administration", "addon_without_primary",
    "px_dx_unsupported",
    "drg_dx_mismatch",
    "payer_age_implausible",
    "principal_age_unsupported",
    "principal_setting_unsupported",
    "secondary_age_unsupported", "payer_px_unsupported", "principal_month_unsupported", "pregnancy_age_unsupported",
    "specialty_unsupported",
)
SUPPORT_RULES = (
    "px_dx_unsupported", "drg_dx_mismatch", "payer_age_implausible", "principal_age_unsupported",
    "principal_setting_unsupported", "secondary_age_unsupported", "payer_px_unsupported", "principal_month_unsupported",
    "pregnancy_age_unsupported", "specialty_unsupported",
)
SECONDARY_ONLY_Z = {"Z37": "outcome of delivery", "Z3A": "weeks of gestation", "Z67": "blood type", "Z68": "BMI"}
PCS_PATTERN = r"^[0-9A-HJ-NP-Z]{7}$"
CPT_HCPCS_PATTERN = r"^([0-9]{4}[0-9A-Z]|[A-Z][0-9]{4})$"
MAX_AGE = 124
AMOUNT_COLUMNS = ("charge_amount", "allowed_amount", "paid_amount")
CENT_TOLERANCE = 1e-6


@lru_cache(maxsize=1)
def billable_series() -> pl.Series:
    return pl.Series("code", sorted(codes.billable_codes()), dtype=pl.String)


@lru_cache(maxsize=1)
def unacceptable_principal_codes() -> pl.DataFrame:
    """Billable codes never acceptable as principal diagnosis, with the reason (see module docstring)."""
    catalog = codes.icd10cm_catalog().select("code", "description")
    reason = (
        pl.when(pl.col("code").str.contains("^[V-Y]"))
        .then(pl.lit("external-cause code (V00-Y99) is never principal"))
        .when(pl.col("description").str.to_lowercase().str.contains("in diseases classified elsewhere"))
        .then(pl.lit("manifestation code ('in diseases classified elsewhere') is never principal"))
    )
    for prefix, label in SECONDARY_ONLY_Z.items():
        reason = reason.when(pl.col("code").str.starts_with(prefix)).then(
            pl.lit(f"{prefix} ({label}) is secondary-only")
        )
    return catalog.with_columns(reason=reason).drop_nulls("reason").select("code", "reason")


def check_claims(df: pl.DataFrame, support: TrainingSupport | None = None) -> pl.DataFrame:
    """Every clinical-edit violation in `df`: one row per (claim, rule, column) with a readable detail."""
    found = violations_by_row(df, support)
    ids = df.select(pl.col("claim_id").cast(pl.String)) if "claim_id" in df.columns else None
    if ids is None:
        return found.with_columns(claim_id=pl.col(_ROW).cast(pl.String)).select(list(VIOLATION_SCHEMA))
    ids = ids.with_row_index(_ROW)
    return found.join(ids, on=_ROW, how="left").sort(_ROW, "rule", "column").select(list(VIOLATION_SCHEMA))


def failing_mask(df: pl.DataFrame, support: TrainingSupport | None = None) -> pl.Series:
    """True for each row of `df` that breaks at least one rule."""
    bad = violations_by_row(df, support)[_ROW].unique()
    return pl.Series(
        "failing", pl.int_range(df.height, eager=True).is_in(bad.implode()) if df.height else [], pl.Boolean
    )


def rule_counts(violations: pl.DataFrame, row_column: str = _ROW) -> dict[str, int]:
    """Rows flagged per rule (a row counts once per rule however many columns it breaks)."""
    table = violations.group_by("rule").agg(pl.col(row_column).n_unique().alias("rows"))
    return {rule: int(rows) for rule, rows in table.sort("rule").iter_rows()}


def violations_by_row(df: pl.DataFrame, support: TrainingSupport | None = None) -> pl.DataFrame:
    """Violations keyed by row position (`_row`, rule, column, detail); works before ids are minted.

    The rules of `SUPPORT_RULES` run only when `support` (what the training claims support) is given.
    """
    missing = [
        c for c in schema.CLAIM_SCHEMA if c not in df.columns and c not in ("release_id", "claim_id", "patient_id")
    ]
    if missing:
        raise ValueError(f"check_claims: frame lacks columns {missing}")
    frame = df.rechunk().with_row_index(_ROW)  # polars 1.44 can panic filtering multi-chunk string views
    long_dx = _long(frame, schema.DX_COLUMNS)
    long_px = _long(frame, schema.PX_COLUMNS, extra=("dx_1",))
    parts = [
        _flag(frame, pl.col("dx_1").is_null(), "missing_principal_dx", "dx_1", pl.lit("no principal diagnosis")),
        _slot_gaps(frame, schema.DX_COLUMNS, "dx_slot_gap"),
        _invalid_codes(long_dx),
        _age_sex(long_dx),
        _unacceptable_principal(frame),
        _duplicates(frame, schema.DX_COLUMNS, "duplicate_dx"),
        _duplicates(frame, schema.PX_COLUMNS, "duplicate_px"),
        _px_setting(long_px),
        *_setting_rules(frame),
        _amounts(frame),
        *_amount_precision(frame),
        *_invalid_values(frame),
        edits_icd.pair_violations(long_dx),
        edits_icd.companion_violations(long_dx),
        edits_procedures.band_violations(long_px),
        edits_encounter.gestation_violations(long_dx),
        edits_encounter.missing_procedure(frame),
        edits_encounter.multiple_em_levels(long_px),
        edits_encounter.pregnancy_condition_violations(long_dx),
        edits_encounter.vaccine_without_administration(long_px),
        edits_addon.addon_violations(long_px),
        *(edits_support.support_violations(frame, long_px, support, long_dx) if support is not None else []),
    ]
    return pl.concat([p.select(_ROW, "rule", "column", "detail") for p in parts])


def _slot_gaps(frame: pl.DataFrame, columns: list[str], rule: str) -> pl.DataFrame:
    parts = [
        _flag(
            frame,
            pl.col(prev).is_null() & pl.col(col).is_not_null(),
            rule,
            col,
            pl.lit(f"{col} filled after empty {prev}"),
        )
        for prev, col in itertools.pairwise(columns)
    ]
    return pl.concat(parts)


def _invalid_codes(long_dx: pl.DataFrame) -> pl.DataFrame:
    bad = long_dx.filter(~pl.col("code").is_in(billable_series().implode()))
    return bad.select(
        _ROW,
        pl.lit("invalid_dx_code").alias("rule"),
        "column",
        pl.format("{} is not a billable FY2026 ICD-10-CM code", pl.col("code")).alias("detail"),
    )


def _age_sex(long_dx: pl.DataFrame) -> pl.DataFrame:
    hits = long_dx.filter(pl.Series(age_sex_edits.conflict_mask(long_dx["code"], long_dx["age"], long_dx["sex"])))
    combos = hits.select("code", "age", "sex").unique()  # readable reasons only for the rows that fail
    reasons = [codes.age_sex_violation(c, a, s) for c, a, s in combos.iter_rows()]
    flagged = combos.with_columns(detail=pl.Series(reasons, dtype=pl.String))
    hits = hits.join(flagged, on=["code", "age", "sex"], how="inner", nulls_equal=True)
    return hits.select(_ROW, pl.lit("age_sex_edit").alias("rule"), "column", "detail")


def _unacceptable_principal(frame: pl.DataFrame) -> pl.DataFrame:
    hits = frame.select(_ROW, "dx_1").join(unacceptable_principal_codes(), left_on="dx_1", right_on="code", how="inner")
    return hits.select(
        _ROW,
        pl.lit("unacceptable_principal_dx").alias("rule"),
        pl.lit("dx_1").alias("column"),
        pl.format("{}: {}", pl.col("dx_1"), pl.col("reason")).alias("detail"),
    )


def _duplicates(frame: pl.DataFrame, columns: list[str], rule: str) -> pl.DataFrame:
    """A slot repeating any earlier slot's code (pairwise on the wide frame: cheaper than grouping long rows)."""
    parts = []
    for position, column in enumerate(columns[1:], start=1):
        repeats = pl.any_horizontal([pl.col(column) == pl.col(earlier) for earlier in columns[:position]])
        detail = pl.format("{} repeats an earlier slot", pl.col(column))
        parts.append(_flag(frame, pl.col(column).is_not_null() & repeats.fill_null(False), rule, column, detail))
    return pl.concat(parts)


def _px_setting(long_px: pl.DataFrame) -> pl.DataFrame:
    inpatient = pl.col("claim_type") == "inpatient"
    wrong = (inpatient & ~pl.col("code").str.contains(PCS_PATTERN)) | (
        ~inpatient & ~pl.col("code").str.contains(CPT_HCPCS_PATTERN)
    )
    expected = pl.when(inpatient).then(pl.lit("ICD-10-PCS")).otherwise(pl.lit("CPT/HCPCS"))
    return long_px.filter(wrong.fill_null(True)).select(
        _ROW,
        pl.lit("px_setting_mismatch").alias("rule"),
        "column",
        pl.format("{} on a {} claim (expected {})", pl.col("code"), pl.col("claim_type"), expected).alias("detail"),
    )


def _setting_rules(frame: pl.DataFrame) -> list[pl.DataFrame]:
    inpatient = pl.col("claim_type") == "inpatient"
    has_stay = pl.col("los_days").fill_null(0) > 0
    return [
        _flag(
            frame,
            (inpatient & pl.col("drg").is_null()) | (~inpatient & pl.col("drg").is_not_null()),
            "drg_setting_mismatch",
            "drg",
            pl.format("{} claim with drg {}", pl.col("claim_type"), pl.col("drg").fill_null("none")),
        ),
        _flag(
            frame,
            (inpatient & ~(pl.col("los_days").fill_null(0) >= 1)) | (~inpatient & has_stay),
            "los_setting_mismatch",
            "los_days",
            pl.format(
                "{} claim with los_days {}", pl.col("claim_type"), pl.col("los_days").cast(pl.String).fill_null("none")
            ),
        ),
    ]


def _amounts(frame: pl.DataFrame) -> pl.DataFrame:
    charge, allowed, paid = pl.col("charge_amount"), pl.col("allowed_amount"), pl.col("paid_amount")
    ordered = (paid >= 0) & (paid <= allowed) & (allowed <= charge)
    detail = pl.format(
        "paid {} / allowed {} / charge {}", *(c.cast(pl.String).fill_null("none") for c in (paid, allowed, charge))
    )
    return _flag(frame, ~ordered, "amount_order", "paid_amount", detail)


def _amount_precision(frame: pl.DataFrame) -> list[pl.DataFrame]:
    parts = []
    for column in AMOUNT_COLUMNS:
        amount = pl.col(column)
        off_cents = (amount - amount.round(2)).abs() > CENT_TOLERANCE
        detail = pl.format("{}={} has more than 2 decimals", pl.lit(column), amount.cast(pl.String))
        parts.append(_flag(frame, off_cents.fill_null(False), "amount_precision", column, detail))
    return parts


def _invalid_values(frame: pl.DataFrame) -> list[pl.DataFrame]:
    domains = {"claim_type": schema.CLAIM_TYPES, "sex": schema.SEXES, "payer": schema.PAYERS, "region": schema.REGIONS}
    parts = [
        _flag(
            frame,
            ~pl.col(col).is_in(list(values)),
            "invalid_value",
            col,
            pl.format("{}={}", pl.lit(col), pl.col(col).fill_null("null")),
        )
        for col, values in domains.items()
    ]
    parts.append(
        _flag(
            frame,
            ~pl.col("age").is_between(0, MAX_AGE),
            "invalid_value",
            "age",
            pl.format("age={}", pl.col("age").cast(pl.String).fill_null("null")),
        )
    )
    parts.append(
        _flag(frame, pl.col("service_date").is_null(), "invalid_value", "service_date", pl.lit("no service date"))
    )
    return parts

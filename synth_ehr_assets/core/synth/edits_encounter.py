"""Edits on what one encounter can carry: a single gestational age, in the trimester its pregnancy codes name,
and a billed service on every professional and outpatient claim.

- `gestation_weeks_conflict`: a claim with two Z3A "weeks of gestation" codes (one encounter has one gestational
  age; guideline I.C.15.a.4 assigns one Z3A code), or a Z3A code outside the trimester that a pregnancy code on
  the same claim names in its title ("..., first trimester"). Trimesters as the ICD-10-CM chapter 15 note counts
  them from the first day of the last menstrual period: first < 14 weeks, second 14 to < 28, third 28 and later.
  Z3A.00 (weeks not specified) and Z3A.01 (< 8 weeks) count as undated and first trimester respectively.
- `missing_procedure`: a professional or outpatient claim with no procedure code: such a claim bills nothing
  (the 837P and 837I service lines need a CPT/HCPCS code; inpatient claims bill by DRG and may carry none).
- `multiple_em_levels`: two visit codes of one E/M family on one claim (99212 with 99213; office 99202-99215,
  emergency 99281-99285, preventive 99381-99397): one encounter is billed at one level of a family (CPT E/M
  guidelines; a preventive visit beside a problem visit, with modifier 25, stays allowed).
"""

from __future__ import annotations

from functools import lru_cache

import polars as pl

from synth_ehr_assets.core import codes, schema
from synth_ehr_assets.core.synth.edits_base import ROW, flag, violations

TRIMESTER_WORDS = {"first trimester": 1, "second trimester": 2, "third trimester": 3}
BILLED_BY_LINE = ("professional", "outpatient")
EM_FAMILIES = {"office": r"^99(20[2-5]|21[1-5])$", "emergency": r"^9928[1-5]$", "preventive": r"^99(38[1-7]|39[1-7])$"}


def weeks_trimester(code: str) -> int | None:
    """The trimester of a Z3A code (Z3A.01 → 1, Z3A.20 → 2, Z3A.33 → 3); None for Z3A.00 and other codes."""
    if not code.startswith("Z3A") or not code[3:].isdigit():
        return None
    weeks = 7 if code == "Z3A01" else int(code[3:])  # Z3A.01 is "less than 8 weeks"
    if weeks == 0:
        return None
    return 1 if weeks < 14 else 2 if weeks < 28 else 3


@lru_cache(maxsize=1)
def trimester_codes() -> pl.DataFrame:
    """Billable codes whose title names a trimester: code, trimester."""
    catalog = codes.icd10cm_catalog().select("code", pl.col("description").str.to_lowercase().alias("title"))
    parts = [
        catalog.filter(pl.col("title").str.contains(words, literal=True)).select("code", pl.lit(n).alias("trimester"))
        for words, n in TRIMESTER_WORDS.items()
    ]
    return pl.concat(parts).unique("code", keep="first").with_columns(pl.col("trimester").cast(pl.Int8))


def gestation_violations(long_dx: pl.DataFrame) -> pl.DataFrame:
    """`gestation_weeks_conflict` on the long diagnosis slots (one violation per offending Z3A slot)."""
    weeks = long_dx.filter(pl.col("code").str.starts_with("Z3A")).rechunk()  # polars panics on string views
    weeks = weeks.with_columns(  # split across chunks (as in rules.check_claims)
        pl.col("code").map_elements(weeks_trimester, return_dtype=pl.Int8).alias("weeks_trimester"),
        pl.int_range(pl.len()).over(ROW).alias("slot_rank"),
    )
    if weeks.is_empty():
        return violations(weeks, "gestation_weeks_conflict", pl.lit(""))
    second = weeks.filter(pl.col("slot_rank") > 0)  # slots in order: all but the first Z3A
    repeated = violations(second, "gestation_weeks_conflict",
                          pl.format("{} is a second weeks-of-gestation code on one encounter", pl.col("code")))
    named = long_dx.rechunk().join(trimester_codes(), on="code", how="inner").select(
        ROW, pl.col("code").alias("pregnancy_code"), "trimester"
    )
    clash = weeks.join(named, on=ROW, how="inner").filter(
        pl.col("weeks_trimester").is_not_null() & (pl.col("weeks_trimester") != pl.col("trimester"))
    ).unique([ROW, "column"], keep="first")
    mismatched = violations(clash, "gestation_weeks_conflict", pl.format(
        "{} (trimester {}) contradicts {} (trimester {})", pl.col("code"), pl.col("weeks_trimester"),
        pl.col("pregnancy_code"), pl.col("trimester")))
    return pl.concat([repeated, mismatched])


def missing_procedure(frame: pl.DataFrame) -> pl.DataFrame:
    """`missing_procedure`: professional and outpatient claims with every procedure slot empty."""
    empty_slots = pl.all_horizontal(pl.col(c).is_null() for c in schema.PX_COLUMNS)
    mask = pl.col("claim_type").is_in(BILLED_BY_LINE) & empty_slots
    return flag(frame, mask.fill_null(False), "missing_procedure", "px_1",
                pl.format("{} claim with no procedure code bills no service", pl.col("claim_type")))


def multiple_em_levels(long_px: pl.DataFrame) -> pl.DataFrame:
    """`multiple_em_levels` on the long procedure slots: every E/M code after the first of its family."""
    family = pl.coalesce(
        *[pl.when(pl.col("code").str.contains(pattern)).then(pl.lit(name)) for name, pattern in EM_FAMILIES.items()]
    )
    visits = long_px.rechunk().with_columns(family.alias("family")).filter(pl.col("family").is_not_null())
    later = visits.with_columns(pl.int_range(pl.len()).over(ROW, "family").alias("rank")).filter(pl.col("rank") > 0)
    return violations(later, "multiple_em_levels",
                      pl.format("{} is a second {} visit level on one encounter", pl.col("code"), pl.col("family")))

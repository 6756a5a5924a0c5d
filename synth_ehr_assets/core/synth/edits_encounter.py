"""Edits on what one encounter can carry: a single gestational age, in the trimester its pregnancy codes name,
a billed service on every professional and outpatient claim, no "normal pregnancy" code beside a complication,
and an administration line for every vaccine product.

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
- `pregnancy_condition_not_chapter15`: a Z34 "supervision of normal pregnancy" code beside a chapter 15 (O) code
  (guideline I.C.15.b.1: Z34 is for routine visits with no complication and is not used with chapter 15 codes;
  Z34's Excludes1 note says the same, so `excludes1_pair` flags that pair too, with the note as its reason),
  or beside a condition that the guidelines code in chapter 15 in a pregnant patient, which makes the pregnancy
  complicated and so not "normal" (I.C.15.a.1: chapter 15 codes have sequencing priority; a condition is assumed
  to complicate the pregnancy unless the provider documents it as incidental, which is then Z33.1, not Z34).
  The families are those a guideline section names with their chapter 15 home (`CHAPTER15_FAMILIES`):
  hypertensive diseases I10-I1A (I.C.15.d: O10-O16), diabetes mellitus E08-E13 (I.C.15.g: O24), HIV disease B20
  and HIV status Z21 (I.C.15.f: O98.7-), alcohol, drug and tobacco use F10-F19 (I.C.15.l: O99.31-O99.33; codes
  "in remission" left out: no use during the pregnancy), COVID-19 U07.1 (I.C.15.s: O98.5-), and malignant
  neoplasms C00-C96 (O9A.1-, whose tabular inclusion note takes "conditions in C00-C96"). Other conditions that
  chapter 15 also takes in through its broad O99 subcategories (asthma, anaemia, mental disorders) are not
  flagged: no guideline section singles them out.
- `vaccine_without_administration`: a professional or outpatient claim with a CPT vaccine or toxoid product code
  (90476-90759) and no immunization administration code (90460/90461 with counselling under 19, 90471-90474,
  90480, Medicare's G0008-G0010): CPT reports each product together with its administration. 90480 (COVID-19
  vaccine administration) and 90586 (BCG for intravesical use, instilled as bladder-cancer treatment) fall in the
  range but are not products given by immunization.
"""

from __future__ import annotations

from functools import lru_cache

import polars as pl

from synth_ehr_assets.core import codes, schema
from synth_ehr_assets.core.synth.edits_base import ROW, flag, violations

TRIMESTER_WORDS = {"first trimester": 1, "second trimester": 2, "third trimester": 3}
BILLED_BY_LINE = ("professional", "outpatient")
EM_FAMILIES = {"office": r"^99(20[2-5]|21[1-5])$", "emergency": r"^9928[1-5]$", "preventive": r"^99(38[1-7]|39[1-7])$"}
# (family, code prefix range, its chapter 15 home in pregnancy, the guideline that sends it there)
CHAPTER15_FAMILIES = (
    ("hypertensive disease", ("I10", "I1A"), "O10-O16", "I.C.15.d"),
    ("diabetes mellitus", ("E08", "E13"), "O24", "I.C.15.g"),
    ("HIV disease", ("B20", "B20"), "O98.7", "I.C.15.f"),
    ("asymptomatic HIV status", ("Z21", "Z21"), "O98.7", "I.C.15.f"),
    ("psychoactive substance use", ("F10", "F19"), "O99.31-O99.33", "I.C.15.l"),
    ("COVID-19", ("U071", "U071"), "O98.5", "I.C.15.s"),
    ("malignant neoplasm", ("C00", "C96"), "O9A.1", "O9A.1 inclusion note"),
)
VACCINE_PRODUCTS = ("90476", "90759")
NOT_IMMUNIZATION_PRODUCTS = ("90480", "90586")
VACCINE_ADMINISTRATION = ("90460", "90461", "90471", "90472", "90473", "90474", "90480", "G0008", "G0009", "G0010")


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
        return _first_trimester_at_delivery(long_dx)
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
    return pl.concat([repeated, mismatched, _first_trimester_at_delivery(long_dx)])


def _first_trimester_at_delivery(long_dx: pl.DataFrame) -> pl.DataFrame:
    """A first trimester code on a claim with a delivery (O80, O82, Z37): a delivery comes after 20 weeks."""
    delivered = long_dx.rechunk().filter(pl.col("code").str.contains(r"^(O80|O82|Z37)")).select(
        ROW, pl.col("code").alias("delivery")).unique(ROW, keep="first")
    early = long_dx.rechunk().join(trimester_codes().filter(pl.col("trimester") == 1).select("code"),
                                   on="code").join(delivered, on=ROW).unique([ROW, "column"], keep="first")
    return violations(early, "gestation_weeks_conflict", pl.format(
        "{} (first trimester) on a delivery claim ({}): a delivery comes after 20 weeks", pl.col("code"),
        pl.col("delivery")))


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


@lru_cache(maxsize=1)
def chapter15_family_codes() -> pl.DataFrame:
    """Billable codes of `CHAPTER15_FAMILIES` (substance use "in remission" left out): code, family, home,
    guideline."""
    catalog = codes.icd10cm_catalog()
    in_remission = pl.col("code").str.starts_with("F1") & pl.col("description").str.contains("(?i)in remission")
    parts = [
        catalog.filter(pl.col("code").str.slice(0, len(low)).is_between(pl.lit(low), pl.lit(high)) & ~in_remission)
        .select("code", pl.lit(family).alias("family"), pl.lit(home).alias("home"), pl.lit(rule).alias("guideline"))
        for family, (low, high), home, rule in CHAPTER15_FAMILIES
    ]
    return pl.concat(parts)


def pregnancy_condition_violations(long_dx: pl.DataFrame) -> pl.DataFrame:
    """`pregnancy_condition_not_chapter15` on the long diagnosis slots: each O code and each chapter 15 family
    code on a claim that also carries Z34 (flagged in the slot of that code)."""
    frame = long_dx.rechunk()
    supervision = frame.filter(pl.col("code").str.starts_with("Z34")).unique(ROW, keep="first", maintain_order=True)
    beside = frame.join(supervision.select(ROW, pl.col("code").alias("z34")), on=ROW, how="inner")
    obstetric = beside.filter(pl.col("code").str.starts_with("O"))
    family = beside.join(chapter15_family_codes(), on="code", how="inner")
    rule = "pregnancy_condition_not_chapter15"
    return pl.concat([
        violations(obstetric, rule, pl.format(
            "{} is a chapter 15 code: {} (supervision of normal pregnancy) is not used with it", pl.col("code"),
            pl.col("z34"))),
        violations(family, rule, pl.format(
            "{} ({}) complicates the pregnancy: it is coded in chapter 15 ({}, {}), not beside {} (normal pregnancy)",
            pl.col("code"), pl.col("family"), pl.col("home"), pl.col("guideline"), pl.col("z34"))),
    ])


def vaccine_product() -> pl.Expr:
    """A CPT vaccine or toxoid product line (90476-90759, except `NOT_IMMUNIZATION_PRODUCTS`)."""
    low, high = VACCINE_PRODUCTS
    return (pl.col("code").str.contains(r"^\d{5}$") & pl.col("code").is_between(pl.lit(low), pl.lit(high))
            & ~pl.col("code").is_in(list(NOT_IMMUNIZATION_PRODUCTS)))


def vaccine_without_administration(long_px: pl.DataFrame) -> pl.DataFrame:
    """`vaccine_without_administration` on the long procedure slots: every vaccine product line of a professional
    or outpatient claim that carries no immunization administration code."""
    lines = long_px.rechunk().filter(pl.col("claim_type").is_in(BILLED_BY_LINE))
    product = vaccine_product()
    administered = lines.filter(pl.col("code").is_in(list(VACCINE_ADMINISTRATION))).select(ROW).unique()
    unadministered = lines.filter(product).join(administered, on=ROW, how="anti")
    return violations(unadministered, "vaccine_without_administration", pl.format(
        "{} vaccine product billed without an immunization administration code (90460, 90471-90474, G0008-G0010)",
        pl.col("code")))

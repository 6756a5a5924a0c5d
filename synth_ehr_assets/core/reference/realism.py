"""A claims reviewer's checks, read from a claims table: violations per defect kind, and the realism distributions.

Each rule re-derives what a payer expects from the claim's own fields (codes, date, payer, region, amounts) and
the published figures in `fees.py` / `benefits.py` / `calendar.py` / `coding.py`; it does not look inside the
generator. `violations` counts claims breaking each rule; the reference population must show 0 for every one.
"""

from __future__ import annotations

import polars as pl

from synth_ehr_assets.core import schema
from synth_ehr_assets.core.reference.amounts import MAX_CHARGE_MULTIPLE, MIN_CHARGE, PREVENTIVE_CODES, PREVENTIVE_WITH
from synth_ehr_assets.core.reference.benefits import PART_B_DEDUCTIBLE, PLANS
from synth_ehr_assets.core.reference.billing import TRIVALENT_FROM_DAY
from synth_ehr_assets.core.reference.calendar import SEASONS, window_calendar, WINDOW_START
from synth_ehr_assets.core.reference.coding import CAPS, OBSTETRIC, RELEVANT, SCREENING_PRINCIPALS
from synth_ehr_assets.core.reference.conditions import COMBINATION_CODES, CONDITION_TARGETS
from synth_ehr_assets.core.reference.vaccines import LICENSED_AGES
from synth_ehr_assets.core.reference.fees import (
    COMMERCIAL_MULTIPLE, COMMERCIAL_RANGE, DRG_WEIGHTS, GEOGRAPHIC_FACTOR, IPPS_BASE_RATE, MEDICARE_FEES,
)

DEFECT_KINDS = ("allowed_amount", "procedure_code", "cost_sharing", "dates", "secondary_diagnoses", "icd10_conventions",
                "charges", "drg_severity")
_PX, _DX = schema.PX_COLUMNS, schema.DX_COLUMNS
_ANY_DX = lambda codes: pl.any_horizontal(pl.col(c).is_in(list(codes)).fill_null(False) for c in _DX)  # noqa: E731
_ANY_PX = lambda codes: pl.any_horizontal(pl.col(c).is_in(list(codes)).fill_null(False) for c in _PX)  # noqa: E731
_DX_STARTS = lambda prefix: pl.any_horizontal(pl.col(c).str.starts_with(prefix) for c in _DX).fill_null(False)  # noqa: E731


def _conditions_of_code() -> dict[str, set[str]]:
    """Chronic-condition code → the conditions it codes (a combination code codes several)."""
    out: dict[str, set[str]] = {}
    for c in CONDITION_TARGETS:
        for code, _ in c.codes:
            out.setdefault(code, set()).add(c.key)
    for key, rules in COMBINATION_CODES.items():
        for _, code in rules:
            out.setdefault(code, set()).add(key)
    return out


def _with_prices(claims: pl.DataFrame) -> pl.DataFrame:
    """Adds `medicare_price`: what Medicare's fee schedules pay for the claim's codes in its division."""
    geo = pl.col("region").replace_strict(dict(zip(schema.REGIONS, GEOGRAPHIC_FACTOR.tolist())), return_dtype=pl.Float64)
    office = {code: office for code, (office, _) in MEDICARE_FEES.items()}
    facility = {code: office if hospital is None else hospital for code, (office, hospital) in MEDICARE_FEES.items()}
    ed = pl.col("px_1").str.starts_with("9928").fill_null(False)
    lab = lambda c: pl.col(c).str.contains(r"^(8\d{4}|36415|93005)$").fill_null(False)  # noqa: E731
    lines = [
        pl.when(pl.col("claim_type") == "professional").then(pl.col(c).replace_strict(office, default=0.0))
        .when(ed & lab(c) & (pl.col("payer") == "medicare")).then(0.0)
        .otherwise(pl.col(c).replace_strict(facility, default=0.0)).fill_null(0.0)
        for c in _PX
    ]
    stay = pl.col("drg").replace_strict(DRG_WEIGHTS, default=0.0, return_dtype=pl.Float64) * IPPS_BASE_RATE
    price = pl.when(pl.col("claim_type") == "inpatient").then(stay).otherwise(pl.sum_horizontal(lines))
    return claims.with_columns(medicare_price=price.fill_null(0.0) * geo)


def _first_slot(predicate) -> pl.Expr:
    """The first diagnosis slot (0-9) whose code satisfies `predicate(column)`, 99 when none does."""
    return pl.min_horizontal(pl.when(predicate(pl.col(c)).fill_null(False)).then(j).otherwise(99) for j, c in enumerate(_DX))


def _rules(claims: pl.DataFrame) -> dict[str, dict[str, pl.Expr]]:
    allowed, charge, paid = pl.col("allowed_amount"), pl.col("charge_amount"), pl.col("paid_amount")
    priced = (allowed < charge - .01) & (pl.col("medicare_price") > 0)  # the fee schedule, not the charge, set it
    ratio = allowed / pl.col("medicare_price")
    low, high = COMMERCIAL_RANGE
    kind_index = pl.col("claim_type").replace_strict({k: i for i, k in enumerate(schema.CLAIM_TYPES)}, return_dtype=pl.Int64)
    commercial_mean = kind_index.replace_strict(dict(enumerate(COMMERCIAL_MULTIPLE.tolist())), return_dtype=pl.Float64)
    day = (pl.col("service_date") - pl.lit(WINDOW_START)).dt.total_days()
    cal = window_calendar()
    closed = [i for i, c in enumerate(cal["closed"]) if c]
    weekend = pl.col("service_date").dt.weekday() >= 6
    month = pl.col("service_date").dt.month()
    off_season = lambda name: ~month.is_in([m + 1 for m, share in enumerate(SEASONS[name]) if share > 0])  # noqa: E731
    scheduled = (pl.col("claim_type") == "outpatient") & ~pl.col("px_1").str.starts_with("9928").fill_null(False)
    office = (pl.col("claim_type") == "professional") & ~_ANY_PX(["59400", "59510"])  # global OB: dated the delivery
    prenatal = _DX_STARTS("Z3A") & office
    em = _ANY_PX([f"992{d}{e}" for d in (0, 1) for e in range(2, 6)])
    mental = _DX_STARTS("F32") | _DX_STARTS("F33") | _DX_STARTS("F41")
    return {
        "allowed_amount": {
            "medicare_off_fee_schedule": (pl.col("payer") == "medicare") & priced & ((ratio - 1).abs() > .01),
            "commercial_outside_contract_range": (pl.col("payer") == "commercial") & priced
            & ((ratio < commercial_mean * low - .01) | (ratio > commercial_mean * high + .01)),
            "medicaid_not_below_medicare": (pl.col("payer") == "medicaid") & priced & (ratio >= 1),
        },
        "procedure_code": {
            "professional_global_on_facility_claim": (pl.col("claim_type") == "outpatient") & _ANY_PX(["93000", "93015"]),
            "medicare_vaccine_admin_not_g0008": (pl.col("payer") == "medicare") & _ANY_PX(["90471", "90460"]),
            "medicare_depression_screening_not_g0444": (pl.col("payer") == "medicare") & (pl.col("dx_1") == "Z1331")
            & _ANY_PX(["96127"]),
            "medicare_preventive_em": (pl.col("payer") == "medicare")
            & _ANY_PX([f"993{b}{d}" for b in (8, 9) for d in range(1, 8)]),
            "quadrivalent_flu_in_trivalent_season": (day >= TRIVALENT_FROM_DAY) & _ANY_PX(["90686"]),
            "trivalent_flu_before_its_season": (day < TRIVALENT_FROM_DAY) & _ANY_PX(["90656"]),
            "em_inside_global_ob_package": prenatal & em,
            "em_on_a_screening_only_claim": em & pl.all_horizontal(
                pl.col(c).is_null() | pl.col(c).str.starts_with("Z13") | pl.col(c).str.starts_with("Z12") for c in _DX),
            "first_trimester_ultrasound_later": _ANY_PX(["76801"])
            & _ANY_DX([f"Z3A{w}" for w in range(14, 43)]),
            "high_ed_level_without_workup": (pl.col("claim_type") == "outpatient") & pl.col("px_1").is_in(["99284", "99285"])
            & pl.col("px_2").is_null(),
            # CPT vaccine and toxoid products are 90476-90759; an administration line needs one of them
            "vaccine_administration_without_product": _ANY_PX(["90460", "90461", "90471", "90472", "G0008"])
            & ~pl.any_horizontal(pl.col(c).is_between(pl.lit("90476"), pl.lit("90759")).fill_null(False) for c in _PX),
            "vaccine_outside_its_licensed_ages": pl.any_horizontal(
                _ANY_PX([code]) & ~pl.col("age").is_between(low_age, high_age) for code, (low_age, high_age) in LICENSED_AGES.items()),
        },
        "cost_sharing": {
            "self_pay_paid_by_payer": (pl.col("payer") == "self_pay") & (paid > 0),
            "preventive_with_cost_sharing": (pl.col("payer") != "self_pay") & pl.col("preventive_only") & (paid < allowed - .005),
            "medicare_flat_80_percent": pl.lit(False),  # counted per patient-year below
        },
        "dates": {
            "office_on_closed_holiday": (office | scheduled) & day.is_in(closed),
            "scheduled_outpatient_on_sunday": scheduled & (pl.col("service_date").dt.weekday() == 7),
            "influenza_off_season": pl.col("dx_1").is_in(["J111", "J1100", "J1189"]) & off_season("influenza"),
            "rsv_off_season": (pl.col("dx_1") == "J210") & off_season("rsv"),
            "flu_vaccine_off_season": (pl.col("dx_1") == "Z23") & off_season("flu_vaccine"),
        },
        "secondary_diagnoses": {
            "more_than_the_setting_lists": (pl.col("claim_type") != "inpatient") & (pl.col("chronic") > pl.col("dx_cap")),
            "specialist_codes_unrelated_condition": pl.col("unrelated") > 0,
        },
        "icd10_conventions": {
            "unspecified_dementia_with_mood_or_anxiety": _ANY_DX(["F0390"]) & mental,
            "diabetes_and_pvd_not_combined": _DX_STARTS("E11") & _ANY_DX(["I739"]),
            "copd_with_lower_respiratory_infection_not_j440": _ANY_DX(["J449"]) & _ANY_DX(["J209", "J189"]),
            "z34_with_complication_or_comorbidity": _DX_STARTS("Z34")
            & (pl.any_horizontal(pl.col(c).str.starts_with("O") for c in _DX).fill_null(False) | _ANY_DX(OBSTETRIC)),
            "o80_with_other_obstetric_code": _ANY_DX(["O80"]) & (pl.sum_horizontal(
                pl.col(c).str.starts_with("O").fill_null(False) for c in _DX) > 1),
            "alzheimer_without_dementia_code": _ANY_DX(["G309"]) & ~_DX_STARTS("F028"),
            "hypertensive_heart_without_i50": _ANY_DX(["I110", "I130"]) & ~_DX_STARTS("I50"),
            "i50_before_hypertensive_heart_code": _first_slot(lambda c: c.is_in(["I110", "I130"]))
            .is_between(0, 9) & (_first_slot(lambda c: c.is_in(["I110", "I130"])) > _first_slot(lambda c: c.str.starts_with("I50"))),
            "n18_before_its_code_first_code": _first_slot(lambda c: c.is_in(["I129", "I130", "E1122"]))
            .is_between(0, 9) & (_first_slot(lambda c: c.is_in(["I129", "I130", "E1122"])) > _first_slot(lambda c: c.str.starts_with("N18"))),
            "hypertensive_ckd_without_n18": _ANY_DX(["I129", "I130", "E1122"]) & ~_DX_STARTS("N18"),
        },
    }


def _annotate(claims: pl.DataFrame) -> pl.DataFrame:
    """Columns the rules need: preventive_only, chronic (secondary chronic-condition codes), dx_cap, unrelated."""
    preventive = [pl.col(c).is_null() | pl.col(c).is_in(list(PREVENTIVE_CODES)) | pl.any_horizontal(
        (pl.col(c) == code) & pl.col("dx_1").is_in(list(principals)) for code, principals in PREVENTIVE_WITH.items()
        if code != "45380") for c in _PX]
    conditions = _conditions_of_code()
    unrelated_pairs = [f"{spec}|{code}" for spec, keys in RELEVANT.items() for code, coded in conditions.items()
                       if not coded & set(keys)]
    unrelated = pl.sum_horizontal(
        pl.concat_str(pl.col("provider_specialty"), pl.lit("|"), pl.col(c)).is_in(unrelated_pairs).fill_null(False)
        for c in _DX[1:]
    )
    chronic = pl.sum_horizontal(pl.col(c).is_in(list(conditions)).fill_null(False) for c in _DX[1:])
    screening = pl.col("dx_1").is_in(list(SCREENING_PRINCIPALS))
    preventive_visit = _ANY_PX([f"993{b}{d}" for b in (8, 9) for d in range(1, 8)] + ["G0402", "G0438", "G0439"])
    primary = pl.col("provider_specialty").is_in(["family_medicine", "internal_medicine", "pediatrics"])
    # the setting's list size, plus 2 for the codes a combination code brings ("use additional code")
    cap = (pl.when(pl.col("claim_type") == "outpatient").then(
               pl.when(pl.col("px_1").str.starts_with("9928")).then(CAPS["ed"]).otherwise(CAPS["outpatient"]))
           .when(screening).then(CAPS["screening"])
           .when(_DX_STARTS("Z3A")).then(CAPS["obstetric"])
           .when(preventive_visit).then(CAPS["preventive"])
           .when(primary).then(CAPS["primary_care"])
           .otherwise(CAPS["specialist"])) + 2
    return claims.with_columns(preventive_only=pl.all_horizontal(preventive) & pl.col("px_1").is_not_null(),
                               chronic=chronic, dx_cap=cap, unrelated=unrelated)


def _medicare_flat(claims: pl.DataFrame) -> int:
    """Patient-years whose Medicare Part B claims all pay exactly 80% though the deductible was not yet met."""
    b = claims.filter((pl.col("payer") == "medicare") & (pl.col("claim_type") != "inpatient") & ~pl.col("preventive_only"))
    years = b.group_by("patient_id", pl.col("service_date").dt.year().alias("year")).agg(
        flat=((pl.col("paid_amount") - .8 * pl.col("allowed_amount")).abs() < .01).all(),
        allowed=pl.col("allowed_amount").sum(), n=pl.len(),
    )
    return years.filter(pl.col("flat") & (pl.col("n") >= 2) & (pl.col("allowed") > 2 * PART_B_DEDUCTIBLE.max())).height


def violations(claims: pl.DataFrame) -> dict[str, dict[str, int]]:
    """Claims breaking each rule, grouped by the review's defect kinds."""
    frame = _annotate(_with_prices(claims))
    rules = _rules(frame)
    flat = [expr.fill_null(False).sum().alias(f"{kind}/{name}") for kind, named in rules.items() for name, expr in named.items()]
    counts = frame.select(flat).row(0, named=True)
    out: dict[str, dict[str, int]] = {kind: {} for kind in DEFECT_KINDS}
    for key, value in counts.items():
        kind, name = key.split("/")
        out[kind][name] = int(value)
    out["cost_sharing"]["medicare_flat_80_percent"] = _medicare_flat(frame)
    out["procedure_code"]["initial_wellness_visit_repeated"] = _wellness_repeated(claims)
    out["procedure_code"]["preventive_visit_within_11_months"] = _preventive_too_soon(claims)
    out["icd10_conventions"]["excludes1_pair"] = _excludes1_claims(claims)
    out["charges"] = _charges_on_the_floor(frame)
    out["drg_severity"] = {"drg_tier_not_from_secondaries": _drg_mismatches(claims)}
    return out


def _wellness_repeated(claims: pl.DataFrame) -> int:
    """Medicare preventive visits out of sequence: G0402 (welcome) not the patient's first or past 65; G0438
    (initial wellness, once per lifetime) repeated, after a G0439, or at 65 (still the welcome visit's year)."""
    visits = claims.filter(_ANY_PX(["G0402", "G0438", "G0439"])).select(
        "patient_id", "service_date", "claim_id", "age", welcome=_ANY_PX(["G0402"]), initial=_ANY_PX(["G0438"]),
    ).sort("patient_id", "service_date", "claim_id").with_columns(
        before=pl.int_range(pl.len()).over("patient_id"), welcomed=pl.col("welcome").cum_sum().over("patient_id"))
    initial_ok = (pl.col("before") == 0) | ((pl.col("before") == 1) & (pl.col("welcomed") == 1))
    bad = (pl.col("welcome") & ((pl.col("before") > 0) | (pl.col("age") > 65))) | (
        pl.col("initial") & (~initial_ok | (pl.col("age") == 65) & (pl.col("welcomed") == 0)))
    return visits.filter(bad).height


def _preventive_too_soon(claims: pl.DataFrame) -> int:
    """Preventive visits (age 3+) less than 11 full months (335 days) after the patient's previous one."""
    codes = [f"993{b}{d}" for b in (8, 9) for d in range(1, 8)] + ["G0402", "G0438", "G0439"]
    visits = claims.filter(_ANY_PX(codes) & (pl.col("age") >= 3)).sort("patient_id", "service_date", "claim_id")
    gap = (pl.col("service_date") - pl.col("service_date").shift().over("patient_id")).dt.total_days()
    return visits.filter(gap < 335).height


def _excludes1_claims(claims: pl.DataFrame) -> int:
    """Claims with two diagnoses that an ICD-10-CM Excludes1 note (simple-icd-10-cm) keeps apart."""
    from synth_ehr_assets.core.synth.edits_base import ROW, long
    from synth_ehr_assets.core.synth.edits_icd import pair_violations

    frame = claims.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias(ROW), "claim_type", "age", "sex", *_DX)
    found = pair_violations(long(frame, list(_DX)))
    return found.filter(pl.col("rule") == "excludes1_pair")[ROW].n_unique()


def _charges_on_the_floor(frame: pl.DataFrame) -> dict[str, int]:
    """Claims charged exactly the lowest chargemaster price (the best contract + 5%), claim types where more
    than a tenth of the priced claims share one charge / Medicare ratio (charges too uniform), claims charged
    beyond the chargemaster ceiling (`MAX_CHARGE_MULTIPLE` x what Medicare pays), and
    claims of Category II tracking codes only charged more than a cent or allowed anything."""
    kind = pl.col("claim_type").replace_strict({k: i for i, k in enumerate(schema.CLAIM_TYPES)}, return_dtype=pl.Int64)
    ceiling = kind.replace_strict(dict(enumerate(COMMERCIAL_MULTIPLE.tolist())), return_dtype=pl.Float64) * COMMERCIAL_RANGE[1]
    priced = frame.filter(pl.col("medicare_price") > 0).with_columns(
        ratio=pl.col("charge_amount") / (pl.col("medicare_price") * ceiling))
    at_floor = priced.filter((pl.col("ratio") - 1.05).abs() < .005).height
    top = kind.replace_strict(dict(enumerate(MAX_CHARGE_MULTIPLE.tolist())), return_dtype=pl.Float64) * 1.01
    extreme = priced.filter((pl.col("charge_amount") > pl.col("medicare_price") * top) & (pl.col("charge_amount") > MIN_CHARGE)).height
    tracking = pl.all_horizontal(pl.col(c).is_null() | pl.col(c).str.contains(r"^\d{4}F$") for c in _PX) & pl.col("px_1").is_not_null()
    tracking_charged = frame.filter(tracking & ((pl.col("charge_amount") > .01) | (pl.col("allowed_amount") > 0))).height
    modal = priced.group_by("claim_type", pl.col("ratio").round(2)).len().with_columns(
        share=pl.col("len") / pl.col("len").sum().over("claim_type")).filter(pl.col("share") > .1)
    return {"charge_at_contract_floor": at_floor, "one_markup_for_many_claims": modal["len"].sum() if modal.height else 0,
            "charge_beyond_chargemaster_ceiling": extreme, "tracking_code_only_claim_charged": tracking_charged}


def _drg_mismatches(claims: pl.DataFrame) -> int:
    """Stays whose MS-DRG title (with MCC / with CC / without) disagrees with the listed secondaries (`drg.py`)."""
    from synth_ehr_assets.core.reference.drg import fits, secondary_tier

    stays = claims.filter((pl.col("claim_type") == "inpatient") & pl.col("drg").is_not_null()).select("drg", *_DX)
    return sum(not fits(row[0], secondary_tier(list(row[1:]))) for row in stays.iter_rows())


def distributions(claims: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Weekday share by claim type, month share of seasonal principals, cost sharing by payer."""
    weekday = claims.group_by("claim_type", pl.col("service_date").dt.weekday().alias("weekday")).len().with_columns(
        share=pl.col("len") / pl.col("len").sum().over("claim_type")).sort("claim_type", "weekday")
    seasonal = claims.filter(pl.col("dx_1").is_in(["J111", "J210", "Z23"])).group_by(
        "dx_1", pl.col("service_date").dt.month().alias("month")).len().sort("dx_1", "month")
    sharing = claims.group_by("payer", "claim_type").agg(
        claims=pl.len(), allowed=pl.col("allowed_amount").sum(), patient=(pl.col("allowed_amount") - pl.col("paid_amount")).sum(),
        zero_patient_share=((pl.col("allowed_amount") - pl.col("paid_amount")) < .005).mean(),
    ).with_columns(patient_share=pl.col("patient") / pl.col("allowed")).sort("payer", "claim_type")
    return {"weekday": weekday, "season": seasonal, "cost_sharing": sharing}


def commercial_plan_limits() -> dict[str, tuple[float, float]]:
    """Plan name → (deductible, out-of-pocket maximum), for tests reading the detail frame."""
    return {name: (ded, oop) for name, _, ded, _, _, _, _, oop in PLANS}


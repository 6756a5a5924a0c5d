"""The reference population read as a claims reviewer would: every realism rule holds on sampled claims."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from synth_ehr_assets.core.reference import generate_reference_claims
from synth_ehr_assets.core.reference.benefits import PART_B_DEDUCTIBLE, PLANS
from synth_ehr_assets.core.reference.fees import GEOGRAPHIC_FACTOR, MEDICARE_FEES
from synth_ehr_assets.core.reference.realism import DEFECT_KINDS, distributions, violations
from synth_ehr_assets.core import schema

N_CLAIMS = 60_000


@pytest.fixture(scope="module")
def generated() -> tuple[pl.DataFrame, pl.DataFrame]:
    return generate_reference_claims(N_CLAIMS, seed=13, release_id="realism", detail=True)


@pytest.fixture(scope="module")
def claims(generated) -> pl.DataFrame:
    return generated[0]


@pytest.fixture(scope="module")
def joined(generated) -> pl.DataFrame:
    return generated[0].join(generated[1], on="claim_id")


@pytest.fixture(scope="module")
def found(claims) -> dict[str, dict[str, int]]:
    return violations(claims)


@pytest.mark.parametrize("kind", DEFECT_KINDS)
def test_no_rule_of_the_defect_kind_is_broken(found, kind: str) -> None:
    assert found[kind] and all(count == 0 for count in found[kind].values()), found[kind]


def test_the_rules_catch_broken_claims(claims: pl.DataFrame) -> None:
    """Each defect the review found, planted into clean claims, is counted by its rule."""
    first = lambda expr: claims.filter(expr).head(5)  # noqa: E731
    broken = pl.concat([
        first((pl.col("payer") == "medicare") & (pl.col("px_1") == "99214") & pl.col("px_2").is_null())
        .with_columns(allowed_amount=pl.col("allowed_amount") * 1.6, charge_amount=pl.col("charge_amount") * 3),
        first(pl.col("payer") == "self_pay").with_columns(paid_amount=pl.lit(10.0)),
        first((pl.col("claim_type") == "outpatient") & pl.col("px_2").is_not_null()).with_columns(px_2=pl.lit("93000")),
        first(pl.col("dx_1") == "J111").with_columns(service_date=pl.lit(date(2024, 6, 12))),
        first(pl.col("claim_type") == "professional").with_columns(service_date=pl.lit(date(2024, 12, 25))),
        first(pl.col("dx_3").is_null()).with_columns(dx_2=pl.lit("E119"), dx_3=pl.lit("I739")),
        first(pl.col("dx_3").is_null()).with_columns(dx_2=pl.lit("F0390"), dx_3=pl.lit("F329")),
        first(pl.col("dx_3").is_null()).with_columns(dx_2=pl.lit("I130"), dx_3=pl.lit("I5022")),
    ])
    counts = violations(broken)
    expected = {
        ("allowed_amount", "medicare_off_fee_schedule"), ("cost_sharing", "self_pay_paid_by_payer"),
        ("procedure_code", "professional_global_on_facility_claim"), ("dates", "influenza_off_season"),
        ("dates", "office_on_closed_holiday"), ("icd10_conventions", "diabetes_and_pvd_not_combined"),
        ("icd10_conventions", "unspecified_dementia_with_mood_or_anxiety"),
        ("icd10_conventions", "hypertensive_ckd_without_n18"),
    }
    assert {(kind, rule) for kind, rule in expected if counts[kind][rule] > 0} == expected, counts


def test_allowed_amounts_are_anchored_to_the_fee_schedule_by_payer(claims: pl.DataFrame) -> None:
    visits = claims.filter((pl.col("px_1") == "99214") & pl.col("px_2").is_null() & (pl.col("claim_type") == "professional")
                           & (pl.col("allowed_amount") < pl.col("charge_amount")))
    fee = MEDICARE_FEES["99214"][0]
    by_payer = visits.group_by("payer").agg(low=pl.col("allowed_amount").min(), high=pl.col("allowed_amount").max(),
                                            median=pl.col("allowed_amount").median())
    rows = {r["payer"]: r for r in by_payer.iter_rows(named=True)}
    lo, hi = fee * GEOGRAPHIC_FACTOR.min(), fee * GEOGRAPHIC_FACTOR.max()
    assert lo - .01 <= rows["medicare"]["low"] and rows["medicare"]["high"] <= hi + .01
    assert rows["medicaid"]["high"] < hi and rows["medicaid"]["median"] < rows["medicare"]["median"]
    assert 1.3 * fee < rows["commercial"]["median"] < 1.6 * fee
    assert rows["commercial"]["low"] >= .95 * lo and rows["commercial"]["high"] <= 2.2 * hi  # not $86-$416
    ed = claims.filter((pl.col("payer") == "medicare") & (pl.col("px_1") == "99285"))
    assert ed.height and (ed["allowed_amount"] <= MEDICARE_FEES["99285"][1] * GEOGRAPHIC_FACTOR.max() * 2.2).all()


def test_deductibles_copays_and_out_of_pocket_maximums(joined: pl.DataFrame) -> None:
    year = pl.col("service_date").dt.year()
    part_b = joined.filter((pl.col("payer") == "medicare") & (pl.col("claim_type") != "inpatient")).group_by(
        "patient_id", year.alias("year")).agg(pl.col("deductible").sum(), pl.col("allowed_amount").filter(
            pl.col("px_1").str.contains(r"^992[01]")).sum())  # office visits: always subject to the deductible
    cap = pl.col("year").replace_strict({2024: PART_B_DEDUCTIBLE[0], 2025: PART_B_DEDUCTIBLE[1]}, return_dtype=pl.Float64)
    assert (part_b["deductible"] <= part_b.select(cap + .01).to_series()).all()
    met = part_b.filter(pl.col("allowed_amount") > 3 * PART_B_DEDUCTIBLE.max())
    assert (met["deductible"] - met.select(cap).to_series()).abs().max() < .02  # consumed over the year
    limits = {name: (ded, oop) for name, _, ded, _, _, _, _, oop in PLANS}
    commercial = joined.filter(pl.col("payer") == "commercial").group_by("patient_id", year.alias("year"), "plan").agg(
        pl.col("deductible").sum(), pl.col("patient_amount").sum())
    for name, (deductible, oop) in limits.items():
        plan = commercial.filter(pl.col("plan") == name)
        assert plan.height > 50 and (plan["deductible"] <= deductible + .02).all() and (plan["patient_amount"] <= oop + .02).all()
    # copays are the plan's (less only where the visit line costs less or the out-of-pocket maximum is reached)
    copays = joined.filter((pl.col("payer") == "commercial") & (pl.col("copay") > 0))["copay"]
    plan_copays = [p[c] for p in PLANS for c in (4, 5, 6) if p[c] > 0]
    assert copays.is_in(plan_copays).mean() > .9 and copays.max() <= max(plan_copays)
    medicaid = joined.filter(pl.col("payer") == "medicaid")
    assert set(medicaid["patient_amount"].round(2).unique().to_list()) <= {0.0, 4.0}
    assert (medicaid.filter(pl.col("age") < 18)["patient_amount"] == 0).all()
    assert (joined.filter(pl.col("payer") == "self_pay")["paid_amount"] == 0).all()


def test_weekday_and_season_distributions(claims: pl.DataFrame) -> None:
    d = distributions(claims)
    week = d["weekday"]
    weekend = lambda kind: week.filter((pl.col("claim_type") == kind) & (pl.col("weekday") >= 6))["share"].sum()  # noqa: E731
    assert .02 < weekend("professional") < .08  # ~5% in NAMCS
    inpatient_weekend = weekend("inpatient")
    assert .2 < inpatient_weekend < .33
    season = d["season"]
    flu = season.filter(pl.col("dx_1") == "J111")
    winter = flu.filter(pl.col("month").is_in([12, 1, 2]))["len"].sum() / flu["len"].sum()
    assert flu.height and winter > .6 and flu["month"].is_in([10, 11, 12, 1, 2, 3, 4]).all()
    assert season.filter(pl.col("dx_1") == "J210")["len"].sum() > 0


def test_secondary_lists_are_sized_by_setting(claims: pl.DataFrame) -> None:
    count = pl.sum_horizontal(pl.col(c).is_not_null() for c in schema.DX_COLUMNS)
    sized = claims.with_columns(n_dx=count)
    assert (sized.filter(pl.col("dx_1") == "Z23")["n_dx"] == 1).all()  # a flu shot lists its Z23 only
    office = sized.filter((pl.col("claim_type") == "professional") & pl.col("px_1").str.starts_with("9921"))
    assert office["n_dx"].median() <= 3 and office["n_dx"].max() <= 7
    inpatient = sized.filter(pl.col("claim_type") == "inpatient")
    assert inpatient["n_dx"].mean() > office["n_dx"].mean()


def test_combination_codes_appear_when_conditions_co_occur(claims: pl.DataFrame) -> None:
    codes = set(claims.unpivot(on=schema.DX_COLUMNS, value_name="code").drop_nulls("code")["code"].unique().to_list())
    assert {"E1151", "J440", "F0393", "F0280", "I130", "E1122"} <= codes
    assert any(code.startswith(("O99", "O10", "O24")) for code in codes - {"O24410", "O24420"})
    assert {"G0008", "G0438", "G0439", "93005", "0502F", "59400"} <= set(
        claims.unpivot(on=schema.PX_COLUMNS, value_name="code").drop_nulls("code")["code"].unique().to_list())


def test_the_new_rules_catch_planted_defects(claims: pl.DataFrame) -> None:
    """Excludes1 pairs, a repeated initial wellness visit, a DRG tier without its secondary, a charge on the floor,
    a 99214 charged 22 times its Medicare fee."""
    first = lambda expr: claims.filter(expr).head(3)  # noqa: E731
    awv = first(pl.col("px_1") == "G0439").with_columns(px_1=pl.lit("G0438"))
    stay = first((pl.col("drg") == "292") & pl.col("dx_2").is_not_null()).with_columns(drg=pl.lit("291"))
    office = first((pl.col("payer") == "medicare") & (pl.col("px_1") == "99214") & pl.col("px_2").is_null()
                   & (pl.col("claim_type") == "professional") & (pl.col("region") == "new_england"))
    floor = round(128 * GEOGRAPHIC_FACTOR[0] * 1.43 * 1.5 * 1.05, 2)
    broken = pl.concat([
        first(pl.col("dx_3").is_null() & (pl.col("dx_1") != "Z124")).with_columns(dx_2=pl.lit("Z01419"), dx_3=pl.lit("Z124")),
        pl.concat([awv, awv.with_columns(service_date=pl.col("service_date") + pl.duration(days=400))]),
        stay, office.with_columns(charge_amount=pl.lit(floor)),
        office.with_columns(charge_amount=pl.lit(round(128 * GEOGRAPHIC_FACTOR[0] * 22.0, 2)), claim_id=pl.lit("x22")),
        first((pl.col("px_1") == "0502F") & pl.col("px_2").is_null()).with_columns(charge_amount=pl.lit(15.0)),
        first((pl.col("px_1") == "G0439") & (pl.col("age") > 70)).with_columns(px_1=pl.lit("G0402"),
                                                                              patient_id=pl.lit("welcome-late")),
    ])
    counts = violations(broken)
    assert counts["icd10_conventions"]["excludes1_pair"] == 3
    assert counts["procedure_code"]["initial_wellness_visit_repeated"] >= 3 + 3  # and G0402 past 65
    assert counts["procedure_code"]["preventive_visit_within_11_months"] >= 2  # the same patient's visits, 0 days apart
    assert counts["drg_severity"]["drg_tier_not_from_secondaries"] == stay.height > 0
    assert counts["charges"]["charge_at_contract_floor"] == office.height > 0
    assert counts["charges"]["tracking_code_only_claim_charged"] == 3
    assert counts["charges"]["charge_beyond_chargemaster_ceiling"] == office.height
    tracking = claims.filter((pl.col("px_1") == "0502F") & pl.col("px_2").is_null())
    assert tracking.height and (tracking["charge_amount"] == .01).all() and (tracking["allowed_amount"] == 0).all()


def test_medicare_preventive_visits_follow_welcome_initial_subsequent(claims: pl.DataFrame) -> None:
    awv = claims.filter(pl.col("px_1").is_in(["G0402", "G0438", "G0439"])).sort("patient_id", "service_date")
    per_patient = awv.group_by("patient_id").agg(initial=(pl.col("px_1") == "G0438").sum(),
                                                 welcome=(pl.col("px_1") == "G0402").sum(), codes=pl.col("px_1"))
    assert per_patient["initial"].max() == 1 and per_patient["welcome"].max() == 1
    for codes in per_patient.filter(pl.col("initial") == 1)["codes"].to_list():
        assert codes.index("G0438") == (1 if codes[0] == "G0402" else 0), codes
    assert set(awv.filter(pl.col("px_1") == "G0402")["age"].to_list()) == {65}
    assert 0.1 < (awv["px_1"] == "G0438").mean() < 0.4
    gaps = awv.filter(pl.col("age") >= 3).with_columns(
        gap=(pl.col("service_date") - pl.col("service_date").shift().over("patient_id")).dt.total_days())
    assert gaps["gap"].drop_nulls().min() >= 335  # once every 11 full months


def test_charges_spread_above_the_contracts_and_allowed_never_exceeds_them(claims: pl.DataFrame) -> None:
    from synth_ehr_assets.core.reference.realism import _with_prices

    priced = _with_prices(claims).filter(pl.col("medicare_price") > 0)
    assert (priced["allowed_amount"] <= priced["charge_amount"]).all()
    ratio = (priced["charge_amount"] / priced["medicare_price"]).round(2)
    assert ratio.value_counts(sort=True)["count"][0] / priced.height < .02  # no markup shared by many claims
    for kind, low in (("professional", 2.2), ("outpatient", 4.2), ("inpatient", 3.3)):
        part = ratio.filter(priced["claim_type"] == kind)
        assert part.min() >= low and part.quantile(.9) / part.quantile(.1) > 1.5, kind


def test_drg_tier_follows_the_listed_secondaries(claims: pl.DataFrame) -> None:
    from synth_ehr_assets.core import codes
    from synth_ehr_assets.core.reference.drg import CC, MCC, REQUIRES, families, secondary_tier

    assert all(codes.is_billable(code) for code in CC | MCC) and not CC & MCC
    assert all(drg in REQUIRES for family in families() for drg in family)
    stays = claims.filter(pl.col("claim_type") == "inpatient")
    tiers = {drg: {secondary_tier(list(row)) for row in stays.filter(pl.col("drg") == drg).select(schema.DX_COLUMNS).iter_rows()}
             for drg in ("291", "292", "293")}
    assert tiers == {"291": {0}, "292": {1}, "293": {2}}


def test_well_child_vaccines_follow_the_schedule_and_carry_their_administration(claims: pl.DataFrame) -> None:
    from synth_ehr_assets.core.reference.vaccines import PRODUCTS

    well = claims.filter(pl.col("dx_1") == "Z00129").with_columns(
        codes=pl.concat_list(schema.PX_COLUMNS).list.drop_nulls())
    products = well.with_columns(n=pl.col("codes").list.eval(pl.element().is_in(list(PRODUCTS))).list.sum(),
                                 admin=pl.col("codes").list.contains("90460"))
    assert products.filter(pl.col("admin") != (pl.col("n") > 0)).is_empty()  # 90460 iff a product
    by_age = products.group_by("age").agg(pl.col("n").sum()).sort("age")
    due = dict(zip(by_age["age"], by_age["n"]))
    assert due[0] and due[1] and due[11] and not due.get(2) and not due.get(8)  # no routine dose at 2-3 or 7-10
    mmr = well.filter(pl.col("codes").list.contains("90707"))["age"]
    assert mmr.min() >= 1  # MMR from 12 months
    planted = pl.concat([
        well.filter(pl.col("age") == 0).head(2).with_columns(px_2=pl.lit("90707")),  # MMR in infancy
        well.filter(pl.col("px_2") == "90460").head(2).with_columns(px_3=None, px_4=None, px_5=None, px_6=None),
    ]).drop("codes")
    counts = violations(planted)["procedure_code"]
    assert counts["vaccine_outside_its_licensed_ages"] == 2 and counts["vaccine_administration_without_product"] == 2


def test_facility_ed_levels_four_and_five_carry_a_work_up(claims: pl.DataFrame) -> None:
    ed = claims.filter((pl.col("claim_type") == "outpatient") & pl.col("px_1").str.starts_with("9928"))
    high = ed.filter(pl.col("px_1").is_in(["99284", "99285"]))
    assert high.height and high["px_2"].is_not_null().all()
    assert ed.filter(pl.col("px_1") == "99283")["px_2"].is_null().any()  # low levels may stand alone
    planted = high.head(3).with_columns(**{c: pl.lit(None, dtype=pl.String) for c in schema.PX_COLUMNS[1:]})
    assert violations(planted)["procedure_code"]["high_ed_level_without_workup"] == 3

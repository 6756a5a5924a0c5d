"""Setting joints: inpatient DRGs follow the principal, stays follow the DRG, charges keep the GAN's order but
each claim type's training scale; the support edits flag principals at ages and settings training never saw."""

from __future__ import annotations

import numpy as np
import polars as pl

from synth_ehr_assets.core.synth import rules
from synth_ehr_assets.core.synth.setting_draws import ChargesBySetting, InpatientDetails

from synth_ehr_assets_tests.core.test_synth_claims import small_claims


def test_inpatient_drgs_come_from_the_principal_and_stays_from_the_drg_spread_like_training():
    train = small_claims(3000, seed=2)
    blurred = train.with_columns(
        drg=pl.when(pl.col("claim_type") == "inpatient").then(pl.lit("999")).otherwise(None),
        los_days=pl.when(pl.col("claim_type") == "inpatient").then(pl.lit(4, dtype=pl.Int32)).otherwise(pl.col("los_days")),
    )
    drawn = InpatientDetails(train).apply(blurred, np.random.default_rng(0))
    inpatient = drawn.filter(pl.col("claim_type") == "inpatient")
    assert set(inpatient["drg"].unique()) <= set(train["drg"].drop_nulls().unique())
    real = train.filter(pl.col("claim_type") == "inpatient")["los_days"]
    assert abs(inpatient["los_days"].std() - real.std()) < 0.5 and inpatient["los_days"].n_unique() > 3
    assert drawn.filter(pl.col("claim_type") != "inpatient").equals(blurred.filter(pl.col("claim_type") != "inpatient"))


def test_charges_take_each_settings_training_scale_and_keep_the_order_they_came_in():
    train = small_claims(3000, seed=3)
    wrong_scale = train.with_columns(charge_amount=pl.col("charge_amount").log())  # right order, wrong scale
    mapped = ChargesBySetting(train).apply(wrong_scale, np.random.default_rng(1))
    for setting in ("professional", "inpatient"):
        real = train.filter(pl.col("claim_type") == setting)["charge_amount"]
        got = mapped.filter(pl.col("claim_type") == setting)["charge_amount"]
        for q in (0.5, 0.9):
            assert abs(got.quantile(q) / real.quantile(q) - 1) < 0.05
        order = wrong_scale.filter(pl.col("claim_type") == setting)["charge_amount"].rank()
        assert np.corrcoef(order.to_numpy(), got.rank().to_numpy())[0, 1] > 0.99


def test_principals_at_unseen_ages_and_settings_are_flagged_only_where_training_has_evidence():
    train = small_claims(1500, seed=4)
    support = rules.TrainingSupport.from_claims(train)
    row = train.filter((pl.col("dx_1") == "E119") & (pl.col("claim_type") == "professional")).head(1)
    child = row.with_columns(age=pl.lit(4, dtype=row["age"].dtype))
    found = rules.check_claims(pl.concat([row, child]), support)
    assert found.filter(pl.col("rule") == "principal_age_unsupported")["claim_id"].to_list() == [child["claim_id"][0]]
    office_only = train.filter(~((pl.col("dx_1") == "I10") & (pl.col("claim_type") == "inpatient")))
    moved = office_only.filter(pl.col("dx_1") == "I10").head(1).with_columns(claim_type=pl.lit("inpatient"))
    flagged = rules.check_claims(moved, rules.TrainingSupport.from_claims(office_only))
    assert "principal_setting_unsupported" in flagged["rule"].to_list()
    rare = row.with_columns(dx_1=pl.lit("E840"), age=pl.lit(70, dtype=row["age"].dtype))  # seen 3 times: no evidence
    assert "principal_age_unsupported" not in rules.check_claims(rare, support)["rule"].to_list()
    assert support.from_dict(support.to_dict()).principal_ages.equals(support.principal_ages)
    assert support.from_dict(support.to_dict()).code_ages.equals(support.code_ages)


def test_secondary_diagnoses_outside_their_training_ages_are_flagged():
    train = small_claims(1500, seed=4)
    support = rules.TrainingSupport.from_claims(train)
    youngest = support.code_ages.filter(pl.col("code") == "I10")["youngest"][0]
    row = train.filter((pl.col("dx_2") == "I10") & pl.col("dx_3").is_null() & (pl.col("age") >= 30)).head(1)
    young = row.with_columns(age=pl.lit(youngest - 4, dtype=row["age"].dtype), claim_id=pl.lit("young"))
    edge = row.with_columns(age=pl.lit(max(youngest - 3, 0), dtype=row["age"].dtype), claim_id=pl.lit("edge"))
    found = rules.check_claims(pl.concat([row, young, edge]), support)
    flagged = found.filter(pl.col("rule") == "secondary_age_unsupported")
    assert flagged["claim_id"].to_list() == ["young"] and flagged["column"].to_list() == ["dx_2"]
    assert "I10" in flagged["detail"][0]



def test_procedures_on_unseen_payers_and_principals_out_of_season_are_flagged():
    from synth_ehr_assets.core.reference import generate_reference_claims

    train = generate_reference_claims(12_000, seed=4, release_id="support")  # influenza on >= 120 claims
    support = rules.TrainingSupport.from_claims(train)
    assert support.from_dict(support.to_dict()).payer_px.equals(support.payer_px)
    assert support.from_dict(support.to_dict()).principal_months.equals(support.principal_months)
    assert set(support.payer_px.filter(pl.col("px") == "99396")["payer"]) == {"commercial", "medicaid", "self_pay"}
    medicare = train.filter((pl.col("payer") == "medicare") & (pl.col("px_1") == "99213")).head(1)
    physical = medicare.with_columns(px_1=pl.lit("99396"), claim_id=pl.lit("physical"))
    flu = train.filter(pl.col("dx_1") == "J111").head(1)
    june = flu.with_columns(service_date=pl.date(2024, 6, 14), claim_id=pl.lit("june"))
    found = rules.check_claims(pl.concat([medicare, physical, flu, june]), support)
    assert found.filter(pl.col("rule") == "payer_px_unsupported")["claim_id"].to_list() == ["physical"]
    months = found.filter(pl.col("rule") == "principal_month_unsupported")
    assert months["claim_id"].to_list() == ["june"] and months["column"].to_list() == ["service_date"]

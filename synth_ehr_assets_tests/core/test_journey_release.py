"""Journey releases assembled once from every kept row (`journey_release`) and the patient-level copy filter
(`journey_privacy`): the model's journey lengths, every row still passing the release screen, and a planted
copy of a source patient's run of claims found and broken up."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from synth_ehr_assets.core.evaluation.journeys import journey_figures
from synth_ehr_assets.core.reference import generate_reference_claims
from synth_ehr_assets.core.spec import PrivacyConfig
from synth_ehr_assets.core.synth import privacy_filters, rules
from synth_ehr_assets.core.synth.claims import _Screen
from synth_ehr_assets.core.synth.journey_model import JourneyModel
from synth_ehr_assets.core.synth.journey_privacy import sequence_copies
from synth_ehr_assets.core.synth.journey_release import assemble_release


@pytest.fixture(scope="module")
def split() -> tuple[pl.DataFrame, pl.DataFrame]:
    claims = generate_reference_claims(8_000, seed=4, release_id="jr")
    patients = claims["patient_id"].unique().sort().sample(fraction=0.7, seed=2).implode()
    return claims.filter(pl.col("patient_id").is_in(patients)), claims.filter(~pl.col("patient_id").is_in(patients))


@pytest.fixture(scope="module")
def screened(split):
    """The real holdout's claims cut into three 'rounds', each assembled into patients and screened as a sampling
    round's rows are, and the screen itself (edits with the training support, exact-copy filter)."""
    train, holdout = split
    screen = _Screen(None, PrivacyConfig(), train, train, rules.TrainingSupport.from_claims(train))
    model = JourneyModel.fit(train)
    rows = holdout.drop("patient_id").with_columns(_round=pl.int_range(pl.len()) % 3)
    rounds = [screen(model.assemble(part.drop("_round"), seed=s, key_prefix=f"J{s}-"))
              for s, part in enumerate(rows.partition_by("_round", maintain_order=True))]
    return model, screen, pl.concat(rounds)


def _run(claims: pl.DataFrame, patient: str, dx: list[str], start, steps: list[int]) -> pl.DataFrame:
    return claims.head(len(dx)).with_columns(
        patient_id=pl.lit(patient), dx_1=pl.Series(dx),
        service_date=pl.Series([start + timedelta(days=d) for d in steps]))


def test_sequence_copies_finds_a_planted_run_within_the_date_tolerance_only(split):
    train = split[0]
    source = _run(train, "S1", ["E119", "I10", "E119", "N183"], train["service_date"][0], [0, 30, 95, 180])
    start = source["service_date"][0]
    synthetic = pl.concat([
        _run(train, "copy", ["Z0000", "E119", "I10", "E119"], start - timedelta(days=40), [0, 42, 72, 135]),  # ±2 d
        _run(train, "late", ["E119", "I10", "E119"], start, [10, 40, 105]),  # 10 days off
        _run(train, "reordered", ["I10", "E119", "E119"], start, [0, 30, 95]),
        _run(train, "two", ["E119", "I10", "J189"], start, [0, 30, 95]),  # only two claims copied
    ])
    found = sequence_copies(synthetic, source)
    assert found.rows() == [("copy", "S1")]
    assert sequence_copies(synthetic, source, tolerance_days=10)["patient_id"].sort().to_list() == ["copy", "late"]


def test_the_release_assembly_has_the_models_journeys_and_every_row_passes_the_screen(split, screened):
    train, holdout = split
    model, screen, rounds = screened
    out, stats = assemble_release(model, rounds, 5, screen, train)
    assert out.height == rounds.height and out["dx_1"].sort().equals(rounds["dx_1"].sort())
    assert not rules.failing_mask(out, screen.support).any()
    assert not privacy_filters.exact_copy_mask(out, train, screen.privacy).any()
    per = out.sort("patient_id", "service_date").group_by("patient_id").agg(
        pl.col("sex", "region", "payer").n_unique(), aging=(pl.col("age").diff().drop_nulls() >= 0).all())
    assert (per.select("sex", "region", "payer").max_horizontal() == 1).all() and per["aging"].all()
    real, before, after = (journey_figures(train, t) for t in (holdout, rounds, out))
    assembled = journey_figures(train, out.filter(~pl.col("patient_id").str.contains("alone")))
    assert assembled["claims_per_patient_p90"] >= before["claims_per_patient_p90"]  # rows left alone are patients of one
    assert after["claims_per_patient_p50"] >= real["claims_per_patient_p50"] - 1
    assert after["claims_per_patient_p90"] >= 0.75 * real["claims_per_patient_p90"]
    assert stats["rows_left_alone"] < 0.05 * out.height and stats["sequence_copy_patients"] == 0
    again, _ = assemble_release(model, rounds, 5, screen, train)
    assert again.equals(out)


def test_a_planted_copy_of_a_source_patients_run_is_moved_or_split(split, screened):
    """A source patient planted with the principal diagnoses and dates of an assembled patient's first three
    claims: the same assembly (same seed) finds the copy, counts it, and releases no patient still copying. The
    count is taken on the assembly before repairs, so the target is an assembled patient the repairs left in place
    (a moved patient's final dates are not those the copy check first sees)."""
    train, _ = split
    model, screen, rounds = screened
    first, first_stats = assemble_release(model, rounds, 5, screen, train)
    ordered = first.sort("patient_id", "service_date")
    candidates = ordered.group_by("patient_id").len().filter(pl.col("len") >= 4).sort("patient_id")["patient_id"]
    for target in candidates.head(5):
        run = ordered.filter(pl.col("patient_id") == target).head(3)
        planted = train.head(3).with_columns(patient_id=pl.lit("PLANTED"), dx_1=run["dx_1"], service_date=run["service_date"])
        protected = pl.concat([train, planted.select(train.columns)])
        assert sequence_copies(first, protected)["source_patient_id"].to_list() == ["PLANTED"]
        out, stats = assemble_release(model, rounds, 5, screen, protected)
        if stats["sequence_copy_patients"] == first_stats["sequence_copy_patients"] + 1:
            break
    assert stats["sequence_copy_patients"] == first_stats["sequence_copy_patients"] + 1
    assert sequence_copies(out, protected).is_empty()
    assert out.height == rounds.height and not rules.failing_mask(out, screen.support).any()


def test_rows_left_alone_join_a_patient_of_their_sex_keeping_age_and_codes_with_one_birth_date_per_patient(split, screened):
    """The rows the assembly could not place become claims of a fitting patient, not patients of one claim: each
    keeps its codes, every patient's ages are those of one birth date, and each moved row still passes the release
    screen (the first test's checks cover all rows)."""
    train, _ = split
    model, screen, rounds = screened
    out, stats = assemble_release(model, rounds, 5, screen, train)
    assert stats["rows_attached"] > 0 and stats["rows_left_alone"] <= 0.25 * (stats["rows_left_alone"]
                                                                              + stats["rows_attached"])
    assert out.filter(pl.col("patient_id").str.contains("alone")).height == stats["rows_left_alone"]
    days = pl.col("service_date").cast(pl.Int32)
    births = out.group_by("patient_id").agg(low=(days - (pl.col("age") + 1) * 365.25).max(),
                                            high=(days - pl.col("age") * 365.25).min())
    assert (births["low"] < births["high"]).all()  # some birth day gives every claim its age
    key = ["dx_1", "dx_2", "dx_3", "px_1", "px_2", "claim_type"]
    assert out.select(key).sort(key).equals(rounds.select(key).sort(key))

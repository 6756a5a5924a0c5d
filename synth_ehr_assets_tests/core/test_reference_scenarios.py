"""Test scenarios by design: labelled claims per requested cell, a coverage gate that fails when a cell is short."""

from __future__ import annotations

import polars as pl
import pytest

from synth_ehr_assets.core import codes, schema
from synth_ehr_assets.core.reference import generate_reference_claims
from synth_ehr_assets.core.reference.scenarios import (
    SCENARIOS, build_deck, cells_from_spec, coverage_gate, excludes1_pairs, negative_claim_ids,
)
from synth_ehr_assets.core.spec import ScenariosConfig, SpecError, parse_spec

POOL = 60_000
REQUEST = [
    {"scenario": "clean", "claims": 4},
    {"scenario": "duplicate_submission", "claims": 3, "payers": ["medicare", "commercial"]},
    {"scenario": "excludes1_conflict", "claims": 2, "claim_types": ["professional"]},
    {"scenario": "age_sex_edit", "claims": 2, "claim_types": ["professional"], "payers": ["medicaid", "commercial"]},
    {"scenario": "missing_drg", "claims": 2, "claim_types": ["inpatient"]},
    {"scenario": "timely_filing", "claims": 2},
    {"scenario": "cob_secondary", "claims": 2, "payers": ["medicare"]},
    {"scenario": "out_of_network", "claims": 2, "payers": ["commercial"]},
    {"scenario": "prior_auth_missing", "claims": 1, "claim_types": ["outpatient"], "payers": ["commercial", "medicare"]},
    {"scenario": "rare_condition", "code": "E84.0", "claims": 1, "claim_types": ["professional"], "payers": ["commercial", "medicaid"]},
    {"scenario": "cohort", "min_age": 85, "sex": "F", "claims": 3, "payers": ["medicare"]},
]


@pytest.fixture(scope="module")
def pool() -> pl.DataFrame:
    return generate_reference_claims(POOL, seed=21, release_id="pool")


@pytest.fixture(scope="module")
def built(pool):
    return build_deck(pool, cells_from_spec(ScenariosConfig(cells=REQUEST, pool_claims=POOL)), seed=20)


def test_every_requested_cell_is_met_and_labelled(built) -> None:
    deck, coverage = built
    assert coverage.height == len(cells_from_spec(ScenariosConfig(cells=REQUEST))) and coverage["met"].all(), coverage
    assert coverage_gate(coverage).passed
    labelled = deck.filter(pl.col("scenario") != "duplicate_original")
    assert set(labelled["scenario"].unique()) == {r["scenario"] for r in REQUEST}
    for name, (outcome, _, _) in SCENARIOS.items():
        rows = deck.filter(pl.col("scenario") == name)
        assert (rows["expected_outcome"] == outcome).all(), name
    assert deck["claim_id"].n_unique() == deck.height


def test_each_negative_scenario_carries_its_defect(built, pool) -> None:
    deck, _ = built
    by = {name: deck.filter(pl.col("scenario") == name) for name in SCENARIOS}
    duplicates = by["duplicate_submission"]
    originals = deck.filter(pl.col("claim_id").is_in(duplicates["original_claim_id"].to_list()))
    assert originals.height == duplicates.height
    same = [c for c in schema.CLAIM_COLUMNS if c != "claim_id"]
    assert duplicates.sort("original_claim_id").select(same).equals(originals.sort("claim_id").select(same))
    pairs = excludes1_pairs()
    assert pairs
    for row in by["excludes1_conflict"].iter_rows(named=True):
        listed = {row[c] for c in schema.DX_COLUMNS}
        assert any(a in listed and b in listed for a, b in pairs)
    for row in by["age_sex_edit"].iter_rows(named=True):
        assert any(codes.age_sex_violation(row[c], row["age"], row["sex"]) for c in schema.DX_COLUMNS if row[c])
    assert by["missing_drg"]["drg"].is_null().all() and (by["missing_drg"]["claim_type"] == "inpatient").all()
    late = by["timely_filing"].with_columns(days=(pl.col("submitted_date") - pl.col("service_date")).dt.total_days())
    assert (late["days"] > 180).all()
    clean = by["clean"].with_columns(days=(pl.col("submitted_date") - pl.col("service_date")).dt.total_days())
    assert (clean["days"] <= 30 + clean["los_days"]).all()
    assert by["cob_secondary"]["secondary_payer"].is_not_null().all()
    assert (by["out_of_network"]["network"] == "out_of_network").all()
    assert by["prior_auth_missing"]["prior_auth"].is_null().all()
    assert (by["rare_condition"]["dx_1"] == "E840").all()
    assert (by["cohort"]["age"] >= 85).all() and (by["cohort"]["sex"] == "F").all()


def test_coverage_gate_fails_when_a_cell_is_short(pool) -> None:
    impossible = ScenariosConfig(cells=[{"scenario": "rare_condition", "code": "G10", "claims": 500,
                                         "claim_types": ["inpatient"], "payers": ["self_pay"]}])
    _, coverage = build_deck(pool, cells_from_spec(impossible), seed=1)
    gate = coverage_gate(coverage)
    assert not gate.passed and gate.failing == {"rare_condition|inpatient|self_pay|G10": coverage["produced"][0]}


def test_negative_scenarios_never_reach_training(built, pool) -> None:
    deck, _ = built
    negative = negative_claim_ids(deck)
    assert negative and deck.filter(pl.col("claim_id").is_in(list(negative)))["scenario"].is_in(
        [n for n, (_, _, neg) in SCENARIOS.items() if neg]).all()
    training = generate_reference_claims(5_000, seed=20, release_id="train")  # the release's own source
    assert not set(training["claim_id"]) & set(deck["claim_id"])


def test_scenarios_spec_block_validates() -> None:
    spec = parse_spec({"scenarios": {"cells": REQUEST}}, "scenario_spec")
    assert len(spec.scenarios.cells) == len(REQUEST) and spec.scenarios.cells[-2].code == "E840"
    for bad in ({"scenario": "missing_drg"}, {"scenario": "rare_condition"},
                {"scenario": "out_of_network", "payers": ["medicare"]}, {"scenario": "unknown"}):
        with pytest.raises(SpecError):
            parse_spec({"scenarios": {"cells": [bad]}}, "bad_spec")

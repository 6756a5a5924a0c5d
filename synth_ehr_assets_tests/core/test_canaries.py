"""Canaries: unique, valid claims planted in training are found when the release reproduces them, and block it."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from synth_ehr_assets.core.evaluation import table_gates
from synth_ehr_assets.core.evaluation.canaries import canary_gate, canary_report, make_canaries
from synth_ehr_assets.core.evaluation.figures import figures_frame
from synth_ehr_assets.core.reference import generate_reference_claims
from synth_ehr_assets.core.spec import GateThresholds, PrivacyConfig
from synth_ehr_assets.core.synth.synthesizer import split_rows


@pytest.fixture(scope="module")
def population() -> dict[str, pl.DataFrame]:
    real = generate_reference_claims(2000, seed=1, release_id="canary").sample(fraction=1.0, shuffle=True, seed=0)
    canaries = make_canaries(real, 5, seed=4, release_id="canary")
    return {"train": real.head(1500), "holdout": real.tail(500), "canaries": canaries,
            "fresh": generate_reference_claims(1500, seed=2, release_id="canary")}


def _gate(population, synthetic):
    figures, rows = canary_report(population["canaries"], population["train"], population["holdout"], synthetic,
                                  PrivacyConfig())
    return figures, canary_gate(figures_frame("canary", "privacy", figures, rows))


def test_canaries_are_valid_claims_unique_against_the_source_and_seeded(population):
    canaries, train = population["canaries"], population["train"]
    assert canaries.height == 5 and canaries["claim_id"].str.starts_with("CANARY").all()
    assert table_gates.codes_valid_gate(canaries, GateThresholds()).passed
    assert table_gates.age_sex_gate(canaries, GateThresholds()).passed
    pairs = set(zip(train["dx_1"], train["dx_2"]))
    assert not any(pair in pairs for pair in zip(canaries["dx_1"], canaries["dx_2"]))
    assert make_canaries(pl.concat([train, population["holdout"]]), 5, seed=4, release_id="canary").equals(canaries)


def test_a_release_without_the_canaries_passes_and_ranks_them_like_non_members(population):
    figures, gate = _gate(population, population["fresh"])
    assert gate.passed and figures["canaries_in_release"] == 0 and figures["canaries_planted"] == 5
    assert 0 <= figures["canary_mia_rank_mean"] < 0.9


def test_a_release_reproducing_canaries_is_blocked_naming_them(population):
    canaries = population["canaries"]
    copies = canaries.head(2).with_columns(claim_id=pl.Series(["SC1", "SC2"]))
    figures, gate = _gate(population, pl.concat([population["fresh"], copies]))
    assert not gate.passed and gate.value == 2 and figures["canaries_in_release_exact"] == 2
    assert set(gate.failing) == set(canaries["claim_id"].head(2))
    assert max(gate.failing.values()) < 1e-6  # exact copies: zero distance up to float32 rounding
    assert figures["canary_mia_rank_max"] == 1.0


def test_no_canaries_planted_is_said_so_and_passes():
    gate = canary_gate(figures_frame("c", "privacy", {"canaries_planted": 0.0, "canaries_in_release": 0.0}, []))
    assert gate.passed and "no canaries planted" in gate.detail


def test_forced_train_rows_never_enter_the_holdout_and_leave_the_unforced_split_unchanged():
    forced = np.zeros(100, dtype=bool)
    forced[[3, 50, 97]] = True
    train, holdout = split_rows(100, 0.3, seed=2, forced_train=forced)
    assert {3, 50, 97} <= set(train) and len(holdout) == 30 and not set(train) & set(holdout)
    assert all(np.array_equal(a, b) for a, b in zip(split_rows(100, 0.3, 2), split_rows(100, 0.3, 2, None, None)))
    groups = np.repeat(np.arange(25), 4)
    train, holdout = split_rows(100, 0.3, seed=2, groups=groups, forced_train=forced)
    assert {0, 1, 2, 3, 48, 49, 50, 51} <= set(train)

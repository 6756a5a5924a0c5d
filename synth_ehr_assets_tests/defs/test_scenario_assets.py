"""Scenario group assets: the labelled deck lands in DuckDB and the blocking coverage check follows the cells."""

from __future__ import annotations

import polars as pl

from synth_ehr_assets.defs.scenarios import SCENARIO_COVERAGE_CHECK
from synth_ehr_assets_tests.defs.helpers import materialize, read_table, release_instance

SCENARIO_ASSETS = ["scenario_claims", "scenario_coverage"]


def _check(result):
    return next(e for e in result.get_asset_check_evaluations() if e.check_name == SCENARIO_COVERAGE_CHECK)


def test_scenario_deck_and_its_blocking_coverage_check(write_spec, stores):
    cells = [{"scenario": "missing_drg", "claim_types": ["inpatient"], "payers": ["medicare"], "claims": 2},
             {"scenario": "clean", "claim_types": ["professional"], "payers": ["commercial"], "claims": 3}]
    write_spec("deck", {"rows": 10, "scenarios": {"pool_claims": 5000, "cells": cells}})
    short = cells + [{"scenario": "rare_condition", "code": "G10", "claim_types": ["inpatient"],
                      "payers": ["medicaid"], "claims": 50}]
    write_spec("short", {"rows": 10, "scenarios": {"pool_claims": 5000, "cells": short}})
    with release_instance("deck", "short") as instance:
        result = materialize(SCENARIO_ASSETS, "deck", instance)
        assert _check(result).passed
        deck = read_table("scenario_claims", "deck")
        assert deck.group_by("scenario").len().sort("scenario").rows() == [("clean", 3), ("missing_drg", 2)]
        assert deck.filter(pl.col("scenario") == "missing_drg")["drg"].is_null().all()
        failed = materialize(SCENARIO_ASSETS, "short", instance, raise_on_error=False)
        assert not _check(failed).passed

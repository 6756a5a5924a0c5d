"""Scenarios group: the labelled test-scenario claim deck and its coverage report, with a blocking check.

Nothing downstream reads these assets: scenario claims, negative ones above all, never reach the synthesizer.
"""

import time

import dagster as dg
import polars as pl

from synth_ehr_assets.defs.evaluation import gate_check_result
from synth_ehr_assets.defs.metadata import counts, preview, table_metadata
from synth_ehr_assets.defs.partitions import release_partitions
from synth_ehr_assets.defs.resources import ReleaseSpecs
from synth_ehr_assets.io.duckdb_io import DUCKDB_POOL, RELEASE_PARTITION_METADATA

SCENARIO_COVERAGE_CHECK = "scenario_cells_met"


@dg.multi_asset(
    outs={
        "scenario_claims": dg.AssetOut(
            description="Claims per requested scenario, labelled with the scenario, expected outcome and CARC.",
            metadata=RELEASE_PARTITION_METADATA, kinds={"duckdb", "polars"},
        ),
        "scenario_coverage": dg.AssetOut(
            description="Requested vs produced claims per scenario x claim type x payer cell.",
            metadata=RELEASE_PARTITION_METADATA, kinds={"duckdb", "polars"},
        ),
    },
    check_specs=[dg.AssetCheckSpec(
        SCENARIO_COVERAGE_CHECK, asset="scenario_coverage", blocking=True,
        description="Every scenario x claim type x payer cell of the spec's `scenarios` block holds its claims.",
    )],
    partitions_def=release_partitions, group_name="scenarios", pool=DUCKDB_POOL,
)
def scenario_tables(context: dg.AssetExecutionContext, release_specs: ReleaseSpecs):
    """Build the release's scenario deck from its own reference pool (spec `scenarios`)."""
    from synth_ehr_assets.core.reference.scenarios import coverage_gate, scenario_deck

    spec = release_specs.load(context.partition_key)
    started = time.perf_counter()
    deck, coverage = scenario_deck(spec.scenarios, spec.seed)
    deck = deck.with_columns(release_id=pl.lit(context.partition_key))
    coverage = coverage.select(pl.lit(context.partition_key).alias("release_id"), pl.all())  # the partition column
    seconds = round(time.perf_counter() - started, 2)
    context.log.info(f"scenarios: {deck.height:,} claims over {coverage.height} cells in {seconds}s")
    yield dg.Output(deck, output_name="scenario_claims", metadata=table_metadata(
        deck, seconds=seconds, scenarios=counts(deck["scenario"]) if deck.height else "none"))
    yield dg.Output(coverage, output_name="scenario_coverage",
                    metadata={**table_metadata(coverage), "cells": preview(coverage)})
    yield gate_check_result(SCENARIO_COVERAGE_CHECK, coverage_gate(coverage))

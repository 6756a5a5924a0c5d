"""Source group assets on a temporary instance: DuckDB partitions, quarantine, the blocking schema check."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from synth_ehr_assets.core.sources import SourceError
from synth_ehr_assets.defs.resources import ReleaseSpecs
from synth_ehr_assets.defs.source import SOURCE_SCHEMA_CHECK, source_tables
from synth_ehr_assets_tests.defs.helpers import materialize, read_table, release_instance

CANONICAL = Path(__file__).resolve().parents[1] / "fixtures" / "canonical_claims.csv"
SOURCE_ASSETS = ["source_claims", "source_quarantine"]


def write_claims(folder: Path, name: str, bad_rows: int = 0) -> None:
    """The canonical fixture with the service date of its first `bad_rows` rows broken."""
    frame = pl.read_csv(CANONICAL, infer_schema=False)
    broken = pl.int_range(pl.len()) < bad_rows
    date = pl.when(broken).then(pl.lit("not-a-date")).otherwise("service_date").alias("service_date")
    frame.with_columns(date).write_csv(folder / name)


def check_passed(result, check_name: str = SOURCE_SCHEMA_CHECK):
    return next(e for e in result.get_asset_check_evaluations() if e.check_name == check_name)


def test_file_releases_land_in_duckdb_and_rematerializing_one_leaves_the_other_alone(write_spec, stores):
    shutil.copy(CANONICAL, stores / "releases" / "alpha.csv")
    write_claims(stores / "releases", "beta.csv", bad_rows=1)
    write_spec("alpha", {"rows": 10, "source": {"kind": "file", "path": "alpha.csv"}})
    beta_source = {"kind": "file", "path": "beta.csv"}
    write_spec("beta", {"rows": 10, "source": beta_source, "gates": {"max_quarantine_share": 0.1}})
    with release_instance("alpha", "beta") as instance:
        first = materialize(SOURCE_ASSETS, "alpha", instance)
        beta_result = materialize(SOURCE_ASSETS, "beta", instance)
        beta_before = read_table("source_claims", "beta").sort("claim_id")
        again = materialize(SOURCE_ASSETS, "alpha", instance)
        assert first.success and beta_result.success and again.success
        alpha = read_table("source_claims", "alpha")
        assert alpha.height == 12 and alpha["claim_id"].n_unique() == 12
        assert read_table("source_claims", "beta").sort("claim_id").equals(beta_before)
        assert beta_before.height == 11
        quarantine = read_table("source_quarantine", "beta")
        assert quarantine.select("source_row", "rule", "column").row(0) == (1, "unparseable_date", "service_date")
        assert read_table("source_quarantine", "alpha").height == 0
        assert check_passed(again).passed
        beta_check = check_passed(beta_result)
        assert beta_check.passed and beta_check.metadata["quarantine_share"].value == pytest.approx(1 / 12, abs=1e-4)


def test_a_mostly_broken_file_fails_the_blocking_check(write_spec, stores):
    write_claims(stores / "releases", "messy.csv", bad_rows=9)
    write_spec("messy", {"rows": 10, "source": {"kind": "file", "path": "messy.csv"}})
    with release_instance("messy") as instance:
        result = materialize(SOURCE_ASSETS, "messy", instance, raise_on_error=False)
        check = check_passed(result)
        assert not check.passed
        assert check.metadata["quarantine_share"].value == 0.75
        quarantine = read_table("source_quarantine", "messy")
        assert set(quarantine["rule"]) == {"unparseable_date"} and quarantine["source_row"].max() == 9
        assert read_table("source_claims", "messy").height == 3


def invoke(partition_key: str, spec_dir: Path, instance) -> list:
    context = dg.build_asset_context(
        partition_key=partition_key,
        resources={"release_specs": ReleaseSpecs(spec_dir=str(spec_dir))},
        instance=instance,
    )
    return list(source_tables(context))


def test_asset_body_yields_both_tables_and_the_check(write_spec, stores):
    shutil.copy(CANONICAL, stores / "releases" / "direct.csv")
    write_spec("direct", {"rows": 10, "source": {"kind": "file", "path": "direct.csv"}})
    with release_instance("direct") as instance:
        events = invoke("direct", stores / "releases", instance)
    outputs = {e.output_name: e for e in events if isinstance(e, dg.Output)}
    claims = outputs["source_claims"]
    assert claims.value.height == 12 and outputs["source_quarantine"].value.height == 0
    assert claims.metadata["source_kind"].value == "file" and claims.metadata["dagster/row_count"].value == 12
    assert len(claims.metadata["source_fingerprint"].value) == 64
    check = next(e for e in events if isinstance(e, dg.AssetCheckResult))
    assert check.passed and check.metadata["wrong_columns"].value == "none"


def test_a_spec_pointing_at_a_missing_file_fails_with_the_path(write_spec, stores):
    write_spec("lost", {"rows": 10, "source": {"kind": "file", "path": "gone.csv"}})
    with release_instance("lost") as instance:
        with pytest.raises(SourceError, match=r"gone\.csv does not exist .*source\.path"):
            invoke("lost", stores / "releases", instance)

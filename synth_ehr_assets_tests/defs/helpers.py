"""Building blocks for asset tests: temp instance with release partitions, DuckDB reads."""

from __future__ import annotations

import os
from contextlib import contextmanager

import dagster as dg
import duckdb
import polars as pl


@contextmanager
def release_instance(*release_ids: str):
    """A temporary Dagster instance with the given release partitions added."""
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("release", list(release_ids))
        yield instance


def materialize(selection: list[str], release_id: str, instance: dg.DagsterInstance, raise_on_error: bool = True):
    """Materialize the named assets (and their checks) of one release with the project's resources."""
    from synth_ehr_assets.definitions import build_definitions

    defs = build_definitions()
    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={dg.AssetKey(name) for name in selection},
        asset_check_selection=None,
    )
    return job.execute_in_process(partition_key=release_id, instance=instance, raise_on_error=raise_on_error)


def read_table(table: str, release_id: str | None = None) -> pl.DataFrame:
    with duckdb.connect(os.environ["SYNTH_EHR_DUCKDB_PATH"], read_only=True) as con:
        where = f" where release_id = '{release_id}'" if release_id else ""
        return con.sql(f"select * from synth_ehr.{table}{where}").pl()

"""DuckDB IO manager for polars tables, partitioned on `release_id`."""

from __future__ import annotations

import dagster as dg
from dagster_duckdb_polars import DuckDBPolarsIOManager

# Assets stored in DuckDB carry this metadata so a re-materialized release only replaces its own rows.
RELEASE_PARTITION_METADATA = {"partition_expr": "release_id"}
DUCKDB_POOL = "duckdb"


def duckdb_io_manager(database: str | dg.EnvVar) -> DuckDBPolarsIOManager:
    return DuckDBPolarsIOManager(database=database, schema="synth_ehr")

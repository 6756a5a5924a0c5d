"""Delta Lake warehouse for polars tables, partitioned on `release_id`: tables any worker can read and write.

The alternative to the DuckDB file when steps run on several machines (Celery workers, Kubernetes pods): every
table is a Delta table under `root_uri` (a path all workers mount), written through `dagster-deltalake-polars`.
A release replaces only its own partition (`release_id = '<release>'` overwrite); delta-rs commits are atomic
and rebase a partition overwrite over a concurrent commit to other partitions, so releases writing one table
at once all land.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import dagster as dg
from dagster_deltalake import LocalConfig
from dagster_deltalake_polars import DeltaLakePolarsIOManager, DeltaLakePolarsTypeHandler

COMMIT_ATTEMPTS = 8


class _ReleaseDeltaTypeHandler(DeltaLakePolarsTypeHandler):
    """The library's handler, plus: the table is created (empty, partitioned) before the first write, so two
    releases that find no table never both write it unpartitioned, the second replacing the first; an empty
    frame clears the release's partition (Delta cannot create a table from it, and an empty `source_quarantine`
    is the good case); all-null columns are stored as strings (Delta has no null type); a commit that still
    fails on a concurrent writer is retried."""

    def to_arrow(self, obj):
        import polars as pl

        if isinstance(obj, pl.LazyFrame):
            obj = obj.collect()
        nulls = [name for name, dtype in obj.schema.items() if dtype == pl.Null]
        return super().to_arrow(obj.with_columns(pl.col(nulls).cast(pl.String)) if nulls else obj)

    def handle_output(self, context, table_slice, obj, connection):
        from deltalake.exceptions import CommitFailedError

        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            try:
                if obj.is_empty():
                    _clear_partition(connection, table_slice)
                    context.add_output_metadata({"row_count": 0})
                    return
                _create_table(connection, table_slice, self.to_arrow(obj)[0].schema)
                super().handle_output(context, table_slice, obj, connection)
                return
            except CommitFailedError as error:
                if attempt == COMMIT_ATTEMPTS:
                    raise
                context.log.info(f"{table_slice.table}: commit lost to a concurrent writer ({error}); retrying")
                time.sleep(0.2 * attempt)


def _partition_columns(table_slice) -> list[str]:
    return [dim.partition_expr for dim in table_slice.partition_dimensions or []]


def _create_table(connection, table_slice, schema) -> None:
    from deltalake import DeltaTable
    from deltalake.exceptions import CommitFailedError

    if not _partition_columns(table_slice):
        return
    try:
        DeltaTable.create(connection.table_uri, schema=schema, mode="ignore", partition_by=_partition_columns(
            table_slice), storage_options=connection.storage_options)
    except CommitFailedError:
        DeltaTable(connection.table_uri, storage_options=connection.storage_options)  # a concurrent writer made it


def _clear_partition(connection, table_slice) -> None:
    from dagster._core.storage.db_io_manager import escape_sql_string_literal
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        table = DeltaTable(connection.table_uri, storage_options=connection.storage_options)
    except TableNotFoundError:
        return  # no table yet: nothing to clear
    conditions = [f"{dim.partition_expr} = '{escape_sql_string_literal(str(dim.partitions[0]))}'"
                  for dim in table_slice.partition_dimensions or []]
    table.delete(" and ".join(conditions) or None)


class ReleaseDeltaIOManager(DeltaLakePolarsIOManager):
    @staticmethod
    def type_handlers() -> Sequence:
        return [_ReleaseDeltaTypeHandler()]


def delta_io_manager(root_uri: str | dg.EnvVar) -> DeltaLakePolarsIOManager:
    return ReleaseDeltaIOManager(root_uri=root_uri, storage_options=LocalConfig(), schema="synth_ehr")


def read_delta_table(root_uri: str, table: str, release_id: str | None = None):
    """One warehouse table (one release's rows when given) as a polars frame, as a worker would read it."""
    import polars as pl
    from deltalake import DeltaTable

    frame = pl.from_arrow(DeltaTable(f"{root_uri.rstrip('/')}/synth_ehr/{table}").to_pyarrow_table())
    return frame.filter(pl.col("release_id") == release_id) if release_id else frame

"""LanceDB IO manager for polars frames with a `vector` column: one table per asset and release."""

from __future__ import annotations

import dagster as dg
import polars as pl
from pydantic import Field

from synth_ehr_assets.core.vector_store import read_vector_table, write_vector_table


class LanceDBIOManager(dg.ConfigurableIOManager):
    """Stores each release of a vector asset as its own LanceDB table `<asset key>__<release>`.

    LanceDB OSS cannot rename tables and `delete` + `add` are two commits, so a shared table with a `release_id`
    column could expose a half-replaced release. A table per release, rewritten with `mode="overwrite"`, is
    replaced in one committed version: readers see the old rows until the new ones are complete, and a failed
    write leaves the previous version in place. It also keeps one release's rewrite from touching another's.
    """

    uri: str = Field(description="LanceDB database: a local folder or an object-store URI (s3://, gs://, az://)")

    def table_name(self, asset_key: dg.AssetKey, partition_key: str | None) -> str:
        base = "__".join(asset_key.path)
        return f"{base}__{partition_key}" if partition_key else base

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame) -> None:
        if not isinstance(obj, pl.DataFrame):
            asset = context.asset_key.to_user_string()
            raise TypeError(f"{asset}: LanceDBIOManager stores polars DataFrames, got {type(obj).__name__}")
        name = self.table_name(context.asset_key, _partition(context))
        written = write_vector_table(self.uri, name, obj, {"synth_ehr.asset": context.asset_key.to_user_string()})
        context.add_output_metadata(
            {
                "dagster/row_count": written.rows,
                "lancedb_table": name,
                "lancedb_uri": self.uri,
                "lancedb_version": written.version,
                "vector_index": written.index,
            }
        )

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        return read_vector_table(self.uri, self.table_name(context.asset_key, _partition(context)))


def _partition(context: dg.OutputContext | dg.InputContext) -> str | None:
    if not context.has_asset_partitions:
        return None
    keys = context.asset_partition_keys
    if len(keys) != 1:
        asset = context.asset_key.to_user_string()
        raise ValueError(f"{asset}: LanceDBIOManager handles one release at a time, got {len(keys)} partitions")
    return keys[0]

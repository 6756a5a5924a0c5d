"""Code catalog (source group) and code embeddings (features group)."""

import time

import dagster as dg
import polars as pl

from synth_ehr_assets.core import schema
from synth_ehr_assets.defs.metadata import counts, table_metadata
from synth_ehr_assets.defs.partitions import release_partitions
from synth_ehr_assets.defs.progress import step_progress
from synth_ehr_assets.defs.resources import ReleaseSpecs
from synth_ehr_assets.defs.settings import env_or_default
from synth_ehr_assets.io.duckdb_io import DUCKDB_POOL, RELEASE_PARTITION_METADATA


@dg.asset(
    partitions_def=release_partitions,
    group_name="source",
    kinds={"duckdb", "polars"},
    metadata=RELEASE_PARTITION_METADATA,
    pool=DUCKDB_POOL,
)
def code_catalog(context: dg.AssetExecutionContext, source_claims: pl.DataFrame) -> pl.DataFrame:
    """ICD-10-CM FY2026 billable codes with descriptions, plus the procedure codes the source uses."""
    from synth_ehr_assets.core.codes import CODE_SET_VERSION, icd10cm_catalog, procedure_catalog
    from synth_ehr_assets.core.reference import REFERENCE_PROCEDURES

    usage = _code_usage(source_claims)
    px_used = usage.filter(pl.col("slot") == "px")["code"].to_list()
    procedures = procedure_catalog({code: REFERENCE_PROCEDURES.get(code) for code in px_used})
    catalog = (
        pl.concat([icd10cm_catalog(), procedures], how="diagonal_relaxed")
        .join(usage.select("code", "code_system", "source_count"), on=["code", "code_system"], how="left")
        .with_columns(
            pl.col("source_count").fill_null(0).cast(pl.Int64),
            pl.lit(context.partition_key).alias("release_id"),
        )
        .with_columns(in_source=pl.col("source_count") > 0)
    )
    unknown_dx = usage.filter(pl.col("slot") == "dx").join(catalog, on=["code", "code_system"], how="anti")
    context.log.info(f"catalog: {catalog.height:,} codes, {int(catalog['in_source'].sum()):,} used by the source")
    context.add_output_metadata(
        table_metadata(
            catalog,
            code_set_version=CODE_SET_VERSION,
            codes_in_source=int(catalog["in_source"].sum()),
            source_dx_codes_missing_from_catalog=unknown_dx.height,
            code_systems=counts(catalog["code_system"]),
        )
    )
    return catalog


def _code_usage(claims: pl.DataFrame) -> pl.DataFrame:
    """One row per distinct code in the source: slot kind (dx/px), code system and how many claims carry it
    (HCPCS G0439 and ICD-10-CM G04.39 are both "G0439": the system keeps them apart)."""
    frames = []
    for slot, columns in (("dx", schema.DX_COLUMNS), ("px", schema.PX_COLUMNS)):
        long = claims.select(columns).unpivot().drop_nulls("value")
        frames.append(long.group_by("value").len().rename({"value": "code", "len": "source_count"}).with_columns(
            slot=pl.lit(slot),
            code_system=pl.lit("icd10cm") if slot == "dx"
            else pl.when(pl.col("code").str.len_chars() == 7).then(pl.lit("icd10pcs")).otherwise(pl.lit("cpt_hcpcs")),
        ))
    return pl.concat(frames)


@dg.asset(
    partitions_def=release_partitions,
    group_name="features",
    kinds={"lancedb", "torch"},
    io_manager_key="lancedb_io_manager",
    pool=DUCKDB_POOL,  # reads code_catalog from the warehouse
)
def code_embeddings(
    context: dg.AssetExecutionContext, release_specs: ReleaseSpecs, code_catalog: pl.DataFrame
) -> pl.DataFrame:
    """all-MiniLM-L6-v2 vectors of code descriptions; reused across releases when model and code set are unchanged."""
    from synth_ehr_assets.core.embeddings import MODEL_NAME
    from synth_ehr_assets.core.vector_store import cached_code_embeddings

    spec = release_specs.load(context.partition_key)
    wanted = code_catalog
    if spec.codes.embed == "used":
        # coverage targets may name codes or categories the source never used: they must be embedded too
        prefixes = ["R", *(t.code or t.category for t in spec.coverage)]
        covered = pl.any_horizontal(pl.col("code").str.starts_with(prefix) for prefix in prefixes)
        wanted = code_catalog.filter(pl.col("in_source") | covered)
    started = time.perf_counter()
    vectors, cache_hit = cached_code_embeddings(
        env_or_default("SYNTH_EHR_LANCEDB_URI"), wanted.drop("release_id"),
        progress=step_progress(context, "embedded code descriptions"),
    )
    seconds = time.perf_counter() - started
    context.add_output_metadata(
        {
            "dagster/row_count": vectors.height,
            "embedding_model": MODEL_NAME,
            "embed_scope": spec.codes.embed,
            "cache_hit": cache_hit,
            "seconds": round(seconds, 2),
        }
    )
    return vectors

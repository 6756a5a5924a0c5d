"""Source group: validated source claims, their quarantine, and the code catalog."""

import time

import dagster as dg
import polars as pl

from synth_ehr_assets.core import schema
from synth_ehr_assets.defs.metadata import counts, table_metadata
from synth_ehr_assets.defs.partitions import release_partitions
from synth_ehr_assets.defs.progress import step_progress
from synth_ehr_assets.defs.resources import ReleaseSpecs
from synth_ehr_assets.io.duckdb_io import DUCKDB_POOL, RELEASE_PARTITION_METADATA

SOURCE_SCHEMA_CHECK = "source_schema_valid"


@dg.multi_asset(
    outs={
        "source_claims": dg.AssetOut(
            description="Validated source claims in the canonical schema (DESIGN §4).",
            metadata=RELEASE_PARTITION_METADATA,
            kinds={"duckdb", "polars"},
        ),
        "source_quarantine": dg.AssetOut(
            description="Source rows that broke a rule, with the rule, column and the raw row; nothing is dropped.",
            metadata=RELEASE_PARTITION_METADATA,
            kinds={"duckdb", "polars"},
        ),
    },
    check_specs=[
        dg.AssetCheckSpec(
            SOURCE_SCHEMA_CHECK,
            asset="source_claims",
            blocking=True,
            description="Canonical columns and types; quarantined share within the release's threshold.",
        )
    ],
    partitions_def=release_partitions,
    group_name="source",
    pool=DUCKDB_POOL,
)
def source_tables(context: dg.AssetExecutionContext, release_specs: ReleaseSpecs):
    """Load the release's source (reference population, file or MIMIC-IV) and split valid rows from quarantine."""
    from synth_ehr_assets.core.sources import load_source

    spec = release_specs.load(context.partition_key)
    started = time.perf_counter()

    result = load_source(spec, progress=step_progress(context, "source rows"))
    seconds = time.perf_counter() - started
    claims, quarantine = result.claims, result.quarantine
    # Rejected input rows / input rows, counted by the source: quarantine rows can point into several files
    # (MIMIC-IV) and some record a code dropped from a claim that was kept.
    share = float(result.stats["quarantine_share"])
    rejected = result.stats["rows_rejected"]
    context.log.info(f"source: {claims.height:,} valid, {rejected:,} rejected, {quarantine.height:,} quarantine rows")

    yield dg.Output(
        claims,
        output_name="source_claims",
        metadata=table_metadata(
            claims,
            source_kind=spec.source.kind,
            source_fingerprint=result.fingerprint,
            seconds=round(seconds, 2),
            rows_per_second=round(claims.height / max(seconds, 1e-9)),
            claim_types=counts(claims["claim_type"]),
            principal_dx=counts(claims["dx_1"]),
            **{k: v for k, v in result.stats.items() if isinstance(v, (int, float, str))},
        ),
    )
    yield dg.Output(
        quarantine,
        output_name="source_quarantine",
        metadata=table_metadata(quarantine, rules=counts(quarantine["rule"]) if quarantine.height else "none"),
    )
    yield source_schema_check(claims, share, spec.gates.max_quarantine_share)


def source_schema_check(claims: pl.DataFrame, quarantine_share: float, max_share: float) -> dg.AssetCheckResult:
    wrong = [
        f"{name}: {claims.schema.get(name)} (expected {dtype})"
        for name, dtype in schema.CLAIM_SCHEMA.items()
        if claims.schema.get(name) != dtype
    ]
    extra = sorted(set(claims.columns) - set(schema.CLAIM_SCHEMA))
    passed = not wrong and not extra and claims.height > 0 and quarantine_share <= max_share
    return dg.AssetCheckResult(
        check_name=SOURCE_SCHEMA_CHECK,
        asset_key="source_claims",
        passed=passed,
        metadata={
            "valid_rows": claims.height,
            "quarantine_share": round(quarantine_share, 4),
            "max_quarantine_share": max_share,
            "wrong_columns": "; ".join(wrong) or "none",
            "unexpected_columns": ", ".join(extra) or "none",
        },
    )

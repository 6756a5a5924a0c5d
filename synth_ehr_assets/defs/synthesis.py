"""Synthesis group: synthetic claims and their blocking gates (valid codes, age/sex edits, no source copies)."""

import time

import dagster as dg
import polars as pl

from synth_ehr_assets.core.spec import GateThresholds, PrivacyConfig
from synth_ehr_assets.defs.metadata import counts, table_metadata
from synth_ehr_assets.defs.model import gan_checkpoint
from synth_ehr_assets.defs.partitions import release_partitions
from synth_ehr_assets.defs.progress import step_progress
from synth_ehr_assets.defs.resources import ArtifactStore, ReleaseSpecs
from synth_ehr_assets.io.duckdb_io import DUCKDB_POOL, RELEASE_PARTITION_METADATA

CODES_VALID_CHECK = "synthetic_codes_valid"
AGE_SEX_CHECK = "synthetic_age_sex_edits"
NO_COPIES_CHECK = "synthetic_no_source_copies"
FAILING_IDS_SHOWN = 20


def _gate(name: str, description: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name, asset="synthetic_claims", blocking=True, description=description)


@dg.asset(
    partitions_def=release_partitions,
    group_name="synthesis",
    kinds={"duckdb", "polars", "torch"},
    metadata=RELEASE_PARTITION_METADATA,
    pool=DUCKDB_POOL,
    deps=[gan_checkpoint],
    check_specs=[
        _gate(CODES_VALID_CHECK, "Share of synthetic diagnosis codes that are billable FY2026 ICD-10-CM codes."),
        _gate(AGE_SEX_CHECK, "CMS MCE-style age/sex edit violations among synthetic diagnoses."),
        _gate(NO_COPIES_CHECK, "Synthetic rows equal to a source row on quasi-identifiers + dx/px code sets."),
    ],
)
def synthetic_claims(
    context: dg.AssetExecutionContext,
    release_specs: ReleaseSpecs,
    artifacts: ArtifactStore,
    source_claims: pl.DataFrame,
    encoded_features: pl.DataFrame,
    code_embeddings: pl.DataFrame,
):
    """Sampled latents → decoded rows → nearest valid codes → clinical edits → privacy filters; failing rows are
    resampled (rejection rate per rule in the metadata), coverage targets met by conditioning, ids newly minted."""
    from synth_ehr_assets.core.synth.claims import synthesize_claims
    from synth_ehr_assets.core.synth.synthesizer import TableSynthesizer
    from synth_ehr_assets.core.vector_store import NearestCodeIndex

    spec, release = release_specs.load(context.partition_key), context.partition_key
    started = time.perf_counter()
    index = NearestCodeIndex.from_frame(code_embeddings)
    synthesizer = TableSynthesizer.load(artifacts.folder(release, "gan_checkpoint"), index.vector_of)
    train = source_claims.join(encoded_features.filter(pl.col("split") == "train").select("claim_id"), on="claim_id")
    claims, report = synthesize_claims(
        synthesizer, spec.rows, spec, index, train, step_progress(context, "accepted synthetic claims"),
        protected_claims=source_claims
    )
    seconds = time.perf_counter() - started
    rates = {
        f"rejection_rate_{rule}": round(rate, 4) for rule, rate in report["rejection_rate_by_rule"].items() if rate
    }
    yield dg.Output(
        claims,
        metadata=table_metadata(
            claims,
            seconds=round(seconds, 2),
            rows_per_second=round(claims.height / max(seconds, 1e-9), 1),
            rounds=report["rounds"],
            sampled_rows=report["sampled_rows"],
            rejection_rate=round(report["rejection_rate"], 4),
            **rates,
            reallocated_rows=report["reallocated_rows"],
            exact_copies_dropped=report["dropped_by_privacy"]["exact_copy"],
            near_duplicates_dropped=report["dropped_by_privacy"]["near_duplicate"],
            coverage=dg.MetadataValue.md(_coverage_markdown(report["coverage"])),
            principal_dx=counts(claims["dx_1"]),
            claim_types=counts(claims["claim_type"]),
        ),
    )
    yield from gate_results(claims, source_claims, spec.gates, spec.privacy)


def _coverage_markdown(coverage: list[dict]) -> str:
    lines = ["| target | min claims | achieved |", "|---|---|---|"]
    for item in coverage:
        target = f"dx_1 = {item['code']}" if item["code"] else f"dx_1 in {item['category']}"
        lines.append(f"| {target} | {item['min_claims']} | {item['achieved']} |")
    return "\n".join(lines) if coverage else "no coverage targets"


def _failing_ids(ids: pl.Series) -> str:
    shown = ids.unique(maintain_order=True).head(FAILING_IDS_SHOWN).to_list()
    return ", ".join(shown) + (" …" if ids.n_unique() > FAILING_IDS_SHOWN else "") if shown else "none"


def gate_results(claims: pl.DataFrame, source: pl.DataFrame, gates: GateThresholds, privacy: PrivacyConfig):
    """The three DESIGN §2 gates on the final table, recomputed independently of the synthesis loop."""
    from synth_ehr_assets.core import schema
    from synth_ehr_assets.core.synth.privacy_filters import exact_copy_mask
    from synth_ehr_assets.core.synth.rules import billable_series, check_claims

    dx = claims.select("claim_id", *schema.DX_COLUMNS).unpivot(index="claim_id").drop_nulls("value")
    invalid = dx.filter(~pl.col("value").is_in(billable_series().implode()))
    valid_share = 1 - invalid.height / dx.height if dx.height else 0.0
    age_sex = check_claims(claims).filter(pl.col("rule") == "age_sex_edit")
    copies = claims.filter(exact_copy_mask(claims, source, privacy))
    yield dg.AssetCheckResult(
        check_name=CODES_VALID_CHECK,
        passed=dx.height > 0 and valid_share >= gates.min_valid_code_share,
        metadata={
            "valid_code_share": float(valid_share),
            "min_valid_code_share": gates.min_valid_code_share,
            "codes_checked": dx.height,
            "failing_claims": _failing_ids(invalid["claim_id"]),
        },
    )
    yield dg.AssetCheckResult(
        check_name=AGE_SEX_CHECK,
        passed=age_sex.height <= gates.max_age_sex_violations,
        metadata={
            "violations": age_sex.height,
            "max_age_sex_violations": gates.max_age_sex_violations,
            "failing_claims": _failing_ids(age_sex["claim_id"]),
            "reasons": "; ".join(age_sex["detail"].head(5).to_list()) or "none",
        },
    )
    yield dg.AssetCheckResult(
        check_name=NO_COPIES_CHECK,
        passed=copies.height <= gates.max_exact_matches,
        metadata={
            "exact_matches": copies.height,
            "max_exact_matches": gates.max_exact_matches,
            "compared_source_rows": source.height,
            "failing_claims": _failing_ids(copies["claim_id"]),
        },
    )

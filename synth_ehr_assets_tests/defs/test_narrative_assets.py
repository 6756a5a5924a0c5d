"""Narrative assets on reference-population claims: symptoms → notes → judge scores in DuckDB, with the PHI and
judge gates. The upstream `synthetic_claims` is the reference population itself (same key and partitions)."""

import dagster as dg
import polars as pl
import pytest

from synth_ehr_assets_tests.defs.helpers import read_table, release_instance

SPEC = {"seed": 11, "rows": 100, "narratives": {"engine": "design", "sample_size": 60}}
NARRATIVE_ASSETS = ["synthetic_symptoms", "provider_notes", "judge_scores"]


def _reference_claims_asset(n_claims: int):
    from synth_ehr_assets.defs.partitions import release_partitions
    from synth_ehr_assets.io.duckdb_io import RELEASE_PARTITION_METADATA

    @dg.asset(name="synthetic_claims", partitions_def=release_partitions, metadata=RELEASE_PARTITION_METADATA)
    def reference_as_synthetic_claims(context: dg.AssetExecutionContext) -> pl.DataFrame:
        from synth_ehr_assets.core.reference import generate_reference_claims

        return generate_reference_claims(n_claims, seed=3, release_id=context.partition_key)

    return reference_as_synthetic_claims


def _materialize(release_id: str, instance, raise_on_error: bool = True):
    from synth_ehr_assets.defs import narratives
    from synth_ehr_assets.definitions import build_resources

    assets = [_reference_claims_asset(300), *dg.load_assets_from_modules([narratives])]
    return dg.materialize(assets, partition_key=release_id, instance=instance, resources=build_resources(),
                          raise_on_error=raise_on_error)


@pytest.mark.slow  # loads the embedding model and embeds the R chapter when run alone (~25 s idle)
def test_design_release_writes_symptoms_notes_and_judge_scores(write_spec, stores):
    write_spec("notes", SPEC)
    with release_instance("notes") as instance:
        result = _materialize("notes", instance)
        assert result.success

    symptoms, notes, judged = (read_table(name, "notes") for name in NARRATIVE_ASSETS)
    assert notes.height == 60 and notes["claim_id"].n_unique() == 60  # sample_size respected
    assert set(symptoms["claim_id"]) <= set(notes["claim_id"])
    assert {"symptom_code", "symptom_text", "relevance", "attempts", "accepted"} <= set(symptoms.columns)
    assert {"flags", "flagged_sentences", "detector_score", "llm_status"} <= set(judged.columns)
    assert (notes["engine"] == "design").all() and (notes["status"] == "ok").all()
    assert notes["prompt_hash"].is_null().all()
    assert all(n.startswith("Subjective:") and "\nPlan:" in n for n in notes["note"])
    assert judged.height == 60 and judged["passed"].mean() >= 0.9
    assert judged["plausibility"].is_null().all()  # no LLM judge for the design engine

    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["notes_free_of_phi"].passed and checks["judge_thresholds"].passed
    assert checks["notes_free_of_phi"].metadata["offending_claim_ids"].value == "none"
    meta = {e.asset_key.to_user_string(): e.materialization.metadata for e in result.get_asset_materialization_events()}
    assert meta["provider_notes"]["notes_per_second"].value > 0
    assert "Subjective:" in meta["provider_notes"]["note_samples"].value
    judge_meta = meta["judge_scores"]
    assert judge_meta["calibration_auroc"].value >= 0.9 and judge_meta["calibration_min_recall"].value >= 0.9
    assert judge_meta["calibration_kinds_planted"].value >= 10 and judge_meta["calibration_engine"].value == "design"
    assert judge_meta["calibration_clean_flag_rate"].value <= 0.05
    assert meta["provider_notes"]["repeated_sentence_share"].value < 0.10
    assert checks["judge_thresholds"].metadata["calibration_min_recall"].value >= 0.9

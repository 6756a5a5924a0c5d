"""A tiny release end to end: reference source -> ... -> release folder, through the project's Definitions."""

from __future__ import annotations

import json

import polars as pl
import pytest

from synth_ehr_assets_tests.defs.helpers import materialize, read_table, release_instance

RELEASE = "tiny"
TINY_SPEC = {
    "description": "end-to-end test release",
    "rows": 300,
    "seed": 11,
    "source": {"kind": "reference", "claims": 2000},
    "codes": {"embed": "used"},
    "synthesizer": {"autoencoder_epochs": 3, "gan_epochs": 6, "batch_size": 128},
    "narratives": {"engine": "design", "sample_size": 20},
    # Six GAN epochs reach a quality of about 0.5, not the default bar of 0.8, and nowhere near the code-structure
    # defaults; the gates still run and are recorded against these values (their failures are tested on planted
    # and one-epoch output in test_release_gates.py and core/test_gates_on_real_output.py).
    "gates": {"min_quality_score": 0.4, "min_all_dx_prevalence_r2": -100.0, "min_cooccurrence_r2": -100.0,
              "max_overrepresentation": 1e6, "min_unsupported_share_floor": 1.0, "max_claim_type_joint_deviation": 1e6},
}
BLOCKING_GATES = {
    ("source_claims", "source_schema_valid"),
    ("synthetic_claims", "synthetic_codes_valid"),
    ("synthetic_claims", "synthetic_age_sex_edits"),
    ("synthetic_claims", "synthetic_no_source_copies"),
    ("provider_notes", "notes_free_of_phi"),
    ("judge_scores", "judge_thresholds"),
    ("fidelity_report", "fidelity_quality_score"),
    ("fidelity_report", "fidelity_code_structure"),
    ("fidelity_report", "fidelity_journeys"),
    ("privacy_report", "privacy_dcr_overfitting"),
    ("privacy_report", "privacy_membership_inference"),
    ("privacy_report", "privacy_attack_risk"),
    ("privacy_report", "privacy_canaries"),
}


@pytest.mark.slow
def test_a_tiny_release_end_to_end(write_spec, stores):
    from synth_ehr_assets.core.embeddings import MODEL_NAME
    from synth_ehr_assets.core.export.bundle import canonical_order, verify_release
    from synth_ehr_assets.core.export.fhir import read_fhir_ndjson
    from synth_ehr_assets.definitions import build_definitions

    write_spec(RELEASE, TINY_SPEC)
    assets = [key.to_user_string() for key in build_definitions().resolve_asset_graph().materializable_asset_keys]
    with release_instance(RELEASE) as instance:
        result = materialize(assets, RELEASE, instance, raise_on_error=False)
        failed = [e.step_key for e in result.all_events if e.is_step_failure]
        checks = [f"{e.check_name}: {e.metadata['detail'].value}" for e in result.get_asset_check_evaluations()
                  if not e.passed and "detail" in e.metadata]
        assert result.success, f"failed steps: {failed}; failed checks: {checks}"

        folder = stores / "releases" / RELEASE
        assert verify_release(folder) == []
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["seed"] == 11 and manifest["spec"]["rows"] == 300
        assert manifest["source_fingerprint"] and manifest["code_set_version"].startswith("ICD-10-CM FY2026")
        assert manifest["embedding_model"] == MODEL_NAME
        assert manifest["models"]["gan_checkpoint"]["mlflow_run_id"]
        assert manifest["models"]["feature_autoencoder"]["mlflow_run_id"]
        assert manifest["row_counts"]["claims"] == 300 and manifest["row_counts"]["notes"] == 20
        gates = {(g["asset"], g["check"]): g for g in manifest["gates"]}
        assert BLOCKING_GATES <= set(gates)
        assert all(gates[key]["passed"] and gates[key]["blocking"] for key in BLOCKING_GATES)
        fidelity, privacy = manifest["metrics"]["fidelity"], manifest["metrics"]["privacy"]
        assert fidelity["quality_score"] == gates[("fidelity_report", "fidelity_quality_score")]["metadata"]["value"]
        assert {"tstr_auc_inpatient", "all_dx_prevalence_r2", "emd_charge_amount"} <= set(fidelity)
        assert {"membership_inference_auc", "dcr_overfitting_protection", "exact_match_rate"} <= set(privacy)
        assert privacy["phi_hits"] == 0

        claims = pl.read_parquet(folder / "tables" / "claims.parquet")
        assert claims.equals(canonical_order(read_table("synthetic_claims", RELEASE)))
        bundles = read_fhir_ndjson(folder / "fhir" / "bundles.ndjson")
        assert len(bundles) == claims["patient_id"].n_unique()
        card = (folder / "data_card.html").read_text()
        assert card.count("data:image/png;base64") == 5 and "Limitations" in card

        again = materialize(["release"], RELEASE, instance)
        assert again.success
        shown = again.asset_materializations_for_node("release")[0].metadata
        assert shown["rows_patients"].value == claims["patient_id"].n_unique() and shown["rows_claims"].value == 300
        rerun = json.loads((folder / "manifest.json").read_text())["files"]
        tables = {name: entry for name, entry in manifest["files"].items() if name.startswith(("tables/", "fhir/"))}
        assert tables == {name: entry for name, entry in rerun.items() if name in tables}

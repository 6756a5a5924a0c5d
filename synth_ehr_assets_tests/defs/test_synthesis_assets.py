"""Source → synthetic claims on a tiny reference release: DuckDB tables, artifacts, MLflow run + registered model,
coverage for a code rare in the source, and the three blocking gates."""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest

from synth_ehr_assets_tests.defs.helpers import materialize, read_table, release_instance

TINY = {
    "rows": 150,
    "seed": 7,
    "source": {"kind": "reference", "claims": 1200},
    "codes": {"embed": "used"},
    "synthesizer": {
        "code_dims": 8,
        "latent_dim": 16,
        "autoencoder_epochs": 8,
        "gan_epochs": 6,
        "batch_size": 64,
        "autoencoder_hidden": [64],
        "gan_hidden": [64],
        "memorisation_check_every": 2,
        "memorisation_probe_rows": 100,
        "torch_threads": 1,
    },
}
MODEL_ASSETS = ["code_embeddings", "encoded_features", "feature_autoencoder", "gan_checkpoint", "synthetic_claims"]
GATES = {"synthetic_codes_valid", "synthetic_age_sex_edits", "synthetic_no_source_copies"}


def rare_principal_code(source: pl.DataFrame) -> str:
    from synth_ehr_assets.core.synth.rules import unacceptable_principal_codes

    counts = (
        source["dx_1"]
        .value_counts(name="n")
        .filter((pl.col("n") <= 2) & ~pl.col("dx_1").is_in(unacceptable_principal_codes()["code"].implode()))
    )
    return counts.sort("n", "dx_1")["dx_1"][0]


@pytest.mark.slow
def test_a_release_goes_from_source_to_gated_synthetic_claims(write_spec, stores, monkeypatch):
    monkeypatch.chdir(stores)  # were the experiment's artifact location lost, MLflow would write ./mlruns here
    write_spec("tiny", TINY)
    check_release_end_to_end(write_spec, stores)


def check_release_end_to_end(write_spec, stores):
    import mlflow

    with release_instance("tiny") as instance:
        assert materialize(["source_claims", "source_quarantine", "code_catalog"], "tiny", instance).success
        source = read_table("source_claims", "tiny")
        rare = rare_principal_code(source)
        write_spec("tiny", {**TINY, "coverage": [{"code": rare, "min_claims": 20}]})
        result = materialize(MODEL_ASSETS, "tiny", instance)
        assert result.success

        split = read_table("encoded_features", "tiny")
        assert split.height == source.height and set(split["split"]) == {"train", "validation", "holdout"}
        assert abs((split["split"] == "holdout").mean() - 0.2) < 0.02  # whole patients: the share is approximate
        assert abs((split["split"] == "validation").mean() - 0.1) < 0.02

        claims = read_table("synthetic_claims", "tiny")
        assert claims.height == 150 and (claims["release_id"] == "tiny").all()
        assert claims.filter(pl.col("dx_1") == rare).height >= 20
        assert not claims["claim_id"].is_in(source["claim_id"].implode()).any()

        checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
        assert set(checks) >= GATES and all(checks[name].passed for name in GATES)
        assert checks["synthetic_codes_valid"].metadata["value"].value == 1.0

        events = {e.asset_key.to_user_string(): e for e in result.get_asset_materialization_events()}
        synthetic_meta = events["synthetic_claims"].materialization.metadata
        assert synthetic_meta["dagster/row_count"].value == 150 and "rejection_rate" in synthetic_meta
        gan_meta = events["gan_checkpoint"].materialization.metadata
        run_id = gan_meta["mlflow_run_id"].value
        mlflow.set_tracking_uri(f"sqlite:///{stores / 'mlflow.db'}")
        run = mlflow.get_run(run_id)
        assert "ae_loss" in run.data.metrics and "gan_wasserstein" in run.data.metrics
        assert run.data.params["release_id"] == "tiny"
        versions = mlflow.MlflowClient().search_model_versions("name = 'synth-ehr-tiny'")
        assert [v.run_id for v in versions] == [run_id]
        assert (stores / "artifacts" / "tiny" / "gan_checkpoint" / "synthesizer.json").is_file()


def test_a_failing_gate_blocks_and_names_the_failing_claims():
    from synth_ehr_assets.core.reference import generate_reference_claims
    from synth_ehr_assets.core.spec import GateThresholds, PrivacyConfig
    from synth_ehr_assets.defs.synthesis import gate_results

    source = generate_reference_claims(300, seed=2, release_id="src")
    synthetic = source.head(40).with_columns(pl.format("S{}", pl.col("claim_id")).alias("claim_id"))
    broken = synthetic.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("E11")).otherwise(pl.col("dx_1")).alias("dx_1"),
        pl.when(pl.int_range(pl.len()) == 1).then(pl.lit("O80")).otherwise(pl.col("dx_2")).alias("dx_2"),
        pl.when(pl.int_range(pl.len()) == 1).then(pl.lit("M")).otherwise(pl.col("sex")).alias("sex"),
    )
    results = {r.check_name: r for r in gate_results(broken, source, GateThresholds(), PrivacyConfig())}
    assert not any(r.passed for r in results.values())
    first, second = broken["claim_id"][0], broken["claim_id"][1]
    assert f"| {first} dx_1=E11 |" in results["synthetic_codes_valid"].metadata["failing"].value
    assert f"| {second} dx_2=O80 (age" in results["synthetic_age_sex_edits"].metadata["failing"].value
    assert results["synthetic_no_source_copies"].metadata["value"].value >= 38
    assert "female-only" in results["synthetic_age_sex_edits"].metadata["detail"].value
    relaxed = GateThresholds(min_valid_code_share=0.9, max_age_sex_violations=5, max_exact_matches=40)
    assert all(r.passed for r in gate_results(broken, source, relaxed, PrivacyConfig()))
    assert isinstance(results["synthetic_codes_valid"], dg.AssetCheckResult)

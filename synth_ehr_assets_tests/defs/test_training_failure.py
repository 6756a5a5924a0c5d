"""A broken model never reaches MLflow's registry or downstream assets: a diverging critic fails its step."""

from __future__ import annotations

import os

import pytest

from synth_ehr_assets_tests.defs.helpers import materialize, release_instance

# No gradient penalty and a starved generator: the critic's output grows without bound.
DIVERGING = {"autoencoder_epochs": 2, "gan_epochs": 100, "gan_gradient_penalty": 0.0, "gan_learning_rate": 0.05,
             "gan_critic_steps": 1000, "gan_patience": 1000}


@pytest.mark.slow  # 1-2 minutes on 2 cores: source, code embeddings and encoding run before the GAN fails
def test_a_diverging_critic_fails_the_step_and_registers_nothing(write_spec, stores):
    import mlflow

    write_spec("broken", {"rows": 50, "seed": 1, "source": {"kind": "reference", "claims": 400},
                          "codes": {"embed": "used"}, "synthesizer": DIVERGING})
    selection = ["source_claims", "source_quarantine", "code_catalog", "code_embeddings", "encoded_features", "feature_autoencoder",
                 "gan_checkpoint", "synthetic_claims"]
    with release_instance("broken") as instance:
        result = materialize(selection, "broken", instance, raise_on_error=False)
    failures = [e for e in result.all_events if e.is_step_failure]
    assert [e.step_key for e in failures] == ["gan_checkpoint"]
    assert "GAN critic diverged at epoch" in failures[0].event_specific_data.error.cause.message
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "gan_checkpoint" not in materialized and "synthetic_claims" not in materialized
    client = mlflow.MlflowClient(tracking_uri=os.environ["SYNTH_EHR_MLFLOW_URI"])
    assert client.search_registered_models() == []

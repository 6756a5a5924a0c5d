"""Autoencoder reconstruction, latent WGAN-GP smoke training and its anti-memorisation stop."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from synth_ehr_assets.core.synth.autoencoder import (
    CheckpointVersionError,
    FeatureAutoencoder,
    configure_torch_threads,
    reconstruction_errors,
    train_autoencoder,
)
from synth_ehr_assets.core.synth.config import SynthesizerConfig
from synth_ehr_assets.core.synth.gan import LatentGenerator, MemorisationProbe, train_gan
from synth_ehr_assets.core.synth.transformer import TableTransformer
from synth_ehr_assets_tests.core.test_transformer import KINDS, code_vectors, small_table

CONFIG = SynthesizerConfig(
    code_dims=6,
    latent_dim=16,
    autoencoder_learning_rate=1e-2,
    autoencoder_epochs=40,
    autoencoder_hidden=[64, 32],
    gan_hidden=[32, 32],
    gan_noise_dim=8,
    gan_epochs=12,
    batch_size=32,
    memorisation_check_every=3,
    memorisation_warmup_epochs=0,
    memorisation_min_rows=2,
    torch_threads=1,
)


@pytest.fixture(scope="module")
def encoded() -> tuple[TableTransformer, np.ndarray]:
    table = small_table(500)
    transformer = TableTransformer(KINDS, code_vectors, code_dims=6, seed=0).fit(table)
    return transformer, transformer.transform(table)


@pytest.fixture(scope="module")
def autoencoder(encoded):
    transformer, matrix = encoded
    return train_autoencoder(matrix, transformer.segments, CONFIG, seed=0)


def test_autoencoder_reconstructs_within_bounds(encoded, autoencoder):
    _, matrix = encoded
    model, report = autoencoder
    losses = [epoch["loss"] for epoch in report["epochs"]]
    assert len(losses) == CONFIG.autoencoder_epochs and losses[-1] < losses[0] / 3
    errors = reconstruction_errors(model, matrix)
    assert errors["category_accuracy"] > 0.9 and errors["flag_accuracy"] > 0.95 and errors["linear_rmse"] < 0.35
    assert report["seconds"] > 0 and report["category_accuracy"] == pytest.approx(errors["category_accuracy"])


def test_decode_returns_a_valid_encoded_matrix(encoded, autoencoder):
    transformer, matrix = encoded
    model, _ = autoencoder
    decoded = model.decode(np.random.default_rng(0).normal(size=(300, CONFIG.latent_dim)) * 3)
    for segment in transformer.segments:
        block = decoded[:, segment.start : segment.stop]
        if segment.activation == "softmax":
            assert set(np.unique(block)) <= {0.0, 1.0} and (block.sum(1) == 1).all()
        if segment.activation == "sigmoid":
            assert set(np.unique(block)) <= {0.0, 1.0}
    assert len(transformer.inverse_transform(decoded)) == 300


def test_autoencoder_save_load_and_version_check(tmp_path, encoded, autoencoder):
    _, matrix = encoded
    model, _ = autoencoder
    model.save(tmp_path)
    loaded = FeatureAutoencoder.load(tmp_path)
    np.testing.assert_array_equal(loaded.encode(matrix), model.encode(matrix))
    config = json.loads((tmp_path / "autoencoder.json").read_text())
    (tmp_path / "autoencoder.json").write_text(json.dumps({**config, "format_version": 0}))
    with pytest.raises(CheckpointVersionError, match="format_version 0"):
        FeatureAutoencoder.load(tmp_path)


def test_gan_smoke_training_logs_losses_and_memorisation_curve(tmp_path, encoded, autoencoder):
    transformer, matrix = encoded
    model, _ = autoencoder
    latents = model.encode(matrix)
    conditions = matrix[:, transformer.column_slices["dx_1"]]
    probe = MemorisationProbe(matrix[:400], matrix[400:], project=model.decode)
    seen = []
    generator, report = train_gan(latents[:400], conditions[:400], CONFIG, seed=0,
                                  progress=lambda done, total, **losses: seen.append((done, sorted(losses))),
                                  memorisation_probe=probe)
    assert report["epochs_run"] == len(report["epochs"]) == len(seen) and seen[-1][0] == report["epochs_run"]
    assert seen[-1][1] == ["critic_loss", "generator_loss"]  # the live bar shows the losses
    for epoch in report["epochs"]:
        assert all(np.isfinite(epoch[k]) for k in ("critic_loss", "generator_loss", "wasserstein", "gradient_penalty"))
    curve = report["memorisation_curve"]
    assert curve and {"epoch", "dist_train", "dist_holdout", "ratio"} <= set(curve[0])
    assert all(point["dist_train"] > 0 and point["dist_holdout"] > 0 for point in curve)
    sample = generator.sample(50, conditions[:50], seed=3)
    assert sample.shape == (50, CONFIG.latent_dim) and np.isfinite(sample).all()
    np.testing.assert_array_equal(sample, generator.sample(50, conditions[:50], seed=3))
    generator.save(tmp_path)
    np.testing.assert_array_equal(LatentGenerator.load(tmp_path).sample(50, conditions[:50], seed=3), sample)
    with pytest.raises(ValueError, match="condition rows"):
        generator.sample(5)


def test_gan_stops_when_generated_rows_sit_closer_to_train(encoded, autoencoder):
    _, matrix = encoded
    model, _ = autoencoder
    latents = model.encode(matrix)
    far_holdout = latents + 25.0  # generated rows can only ever be nearer the train rows
    config = CONFIG.model_copy(update={"gan_epochs": 30, "memorisation_check_every": 2})
    _, report = train_gan(latents, None, config, seed=0, memorisation_probe=MemorisationProbe(latents, far_holdout))
    assert report["stopped_reason"] == "memorisation"
    assert report["epochs_run"] == 2 * config.memorisation_patience
    assert all(point["ratio"] < 1 - config.memorisation_margin for point in report["memorisation_curve"])


def test_gan_patience_stop_and_thread_setting(encoded, autoencoder, monkeypatch):
    _, matrix = encoded
    model, _ = autoencoder
    config = CONFIG.model_copy(update={"gan_epochs": 60, "gan_patience": 2})
    _, report = train_gan(model.encode(matrix), None, config, seed=1)
    assert report["stopped_reason"] == "patience" and report["epochs_run"] < 60
    assert report["memorisation_curve"] == []
    monkeypatch.setenv("SYNTH_EHR_TORCH_THREADS", "1")
    assert configure_torch_threads(SynthesizerConfig()) == 1 == torch.get_num_threads()

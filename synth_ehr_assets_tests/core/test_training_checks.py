"""Training fails fast and names the cause: non-finite features, losses, gradients, latents; a diverging critic."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synth_ehr_assets.core.synth.autoencoder import FeatureAutoencoder, train_autoencoder
from synth_ehr_assets.core.synth.config import SynthesizerConfig
from synth_ehr_assets.core.synth.gan import train_gan
from synth_ehr_assets.core.synth.training_checks import TrainingError, check_gradients, minibatches
from synth_ehr_assets.core.synth.transformer import TableTransformer
from synth_ehr_assets_tests.core.test_transformer import KINDS, code_vectors, small_table

FAST = SynthesizerConfig(
    code_dims=6, latent_dim=8, autoencoder_epochs=2, autoencoder_hidden=[32], gan_hidden=[32], gan_noise_dim=4,
    gan_epochs=3, torch_threads=1,
)


@pytest.fixture(scope="module")
def encoded() -> tuple[TableTransformer, np.ndarray]:
    table = small_table(217)  # 217 = 8 x 27 + 1: the default batch leaves a one-row tail, as on MIMIC-IV
    transformer = TableTransformer(KINDS, code_vectors, code_dims=6, seed=0).fit(table)
    return transformer, transformer.transform(table)


def _column_of(transformer: TableTransformer, name: str) -> int:
    return next(s.start for s in transformer.segments if s.column == name and s.activation == "linear")


def test_a_one_row_tail_batch_joins_the_previous_batch():
    sizes = [len(b) for b in minibatches(217, 27, torch.Generator().manual_seed(0))]
    assert min(sizes) >= 2 and sum(sizes) == 217 and sizes[-1] == 28


def test_mimic_sized_table_trains_with_a_finite_loss(encoded):
    transformer, matrix = encoded
    _, report = train_autoencoder(matrix, transformer.segments, FAST, seed=0)
    assert all(np.isfinite(epoch["loss"]) for epoch in report["epochs"])


def test_a_non_finite_feature_stops_training_naming_the_column(encoded):
    transformer, matrix = encoded
    planted = matrix.copy()
    planted[5, _column_of(transformer, "charge")] = np.inf
    with pytest.raises(TrainingError, match=r"non-finite value.*\['charge'\].*source column"):
        train_autoencoder(planted, transformer.segments, FAST, seed=0)


def test_an_overflowing_loss_stops_training_naming_the_column(encoded):
    transformer, matrix = encoded
    planted = matrix.copy()
    planted[:, _column_of(transformer, "age")] = 1e30  # finite, but its square overflows float32
    with pytest.raises(TrainingError, match=r"loss became inf at epoch 1: the encoded values of column\(s\) \['age'\] reach 1e\+30"):
        train_autoencoder(planted, transformer.segments, FAST, seed=0)


def test_a_non_finite_gradient_names_the_input_column(encoded):
    transformer, matrix = encoded
    model = FeatureAutoencoder(matrix.shape[1], 8, [32], transformer.segments)
    model.loss(model(torch.from_numpy(matrix))[1], torch.from_numpy(matrix)).backward()
    check_gradients(model, "autoencoder", 1, model.segments)  # a healthy step passes
    model.encoder[0].weight.grad[:, _column_of(transformer, "service_date")] = float("nan")
    with pytest.raises(TrainingError, match=r"non-finite gradient at epoch 1 in parameter encoder.0.weight "
                       r"\(input features of column\(s\) \['service_date'\]\)"):
        check_gradients(model, "autoencoder", 1, model.segments)


def test_nan_latents_stop_the_gan_before_training():
    latents = np.random.default_rng(0).normal(size=(100, 8)).astype(np.float32)
    latents[3, 2] = np.nan
    with pytest.raises(TrainingError, match=r"latent dimension\(s\) \[2\].*broken autoencoder"):
        train_gan(latents, None, FAST, seed=0)


def test_a_diverging_critic_stops_the_gan():
    latents = np.random.default_rng(0).normal(size=(256, 8)).astype(np.float32)
    unconstrained = FAST.model_copy(
        update={"gan_gradient_penalty": 0.0, "gan_learning_rate": 0.05, "gan_critic_steps": 1000, "gan_epochs": 60,
                "gan_patience": 1000}
    )  # no penalty and a starved generator: the critic's output grows without bound (past 1000 by epoch ~15)
    with pytest.raises(TrainingError, match=r"critic diverged at epoch \d+: Wasserstein estimate .* exceeds"):
        train_gan(latents, None, unconstrained, seed=0)


def test_a_healthy_gan_stays_below_the_divergence_limit():
    latents = np.random.default_rng(0).normal(size=(256, 8)).astype(np.float32)
    _, report = train_gan(latents, None, FAST.model_copy(update={"gan_epochs": 20}), seed=0)
    assert max(abs(e["wasserstein"]) for e in report["epochs"]) < FAST.gan_divergence_limit / 10

"""The autoencoder and the conditional WGAN-GP trained with DP-SGD (`sgd.py`) for a fixed number of steps.

No data-dependent choice is made along the way: no early stopping, no checkpoint selection, no memorisation probe
(each would read the training or validation rows outside the accountant). Scales that the non-DP path takes from
the training batch or the training latents (latent noise, the GAN's standardisation) come from the pseudo table
(`marginals.pseudo_table`), i.e. from DP output. The generator's steps never see a training row: it is scored by
the critic on conditions drawn from the noisy principal-diagnosis histogram. Reported losses are measured on the
pseudo table for the same reason.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch.func import grad

from synth_ehr_assets.core.synth.autoencoder import (
    FeatureAutoencoder, configure_torch_threads, reconstruction_errors,
)
from synth_ehr_assets.core.synth.dp.budget import DPBudget
from synth_ehr_assets.core.synth.dp.sgd import DPStep, call
from synth_ehr_assets.core.synth.gan import LatentGenerator, _critic


class _NoisyAutoencoder(torch.nn.Module):
    """Per-row autoencoder loss with latent noise of a fixed scale (no batch statistic)."""

    def __init__(self, model: FeatureAutoencoder):
        super().__init__()
        self.ae = model

    def forward(self, rows: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return self.ae.loss(self.ae.decoder(self.ae.encoder(rows) + noise), rows)


def _latent_scale(model: FeatureAutoencoder, pseudo: np.ndarray, latent_noise: float) -> torch.Tensor:
    return torch.from_numpy(latent_noise * model.encode(pseudo).std(0).astype(np.float32))


def _epochs(rate: float, steps: int) -> int:
    return max(1, int(round(steps * rate)))


def train_dp_autoencoder(matrix: np.ndarray, pseudo: np.ndarray, segments, config, budget: DPBudget, seed: int,
                         progress=None) -> tuple[FeatureAutoencoder, dict]:
    """DP-SGD autoencoder on the bounded training rows `matrix`; figures measured on the pseudo rows."""
    configure_torch_threads(config)
    started = time.perf_counter()
    data = torch.from_numpy(np.ascontiguousarray(matrix, dtype=np.float32))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = FeatureAutoencoder(data.shape[1], config.latent_dim, config.autoencoder_hidden, segments)
    wrapper = _NoisyAutoencoder(model)
    optimizer = torch.optim.Adam(wrapper.parameters(), lr=config.autoencoder_learning_rate)
    rate, steps = budget.sample_rates["autoencoder"], budget.steps["autoencoder"]
    dp = DPStep(wrapper, optimizer, lambda p, x, e: call(wrapper, p, x, e), len(data), rate,
                budget.noise_multipliers["autoencoder"], budget.max_grad_norm, budget.noise_seed, 1)
    per_epoch, epochs = max(1, steps // _epochs(rate, steps)), []
    pseudo_t = torch.from_numpy(np.ascontiguousarray(pseudo, dtype=np.float32))
    scale = _latent_scale(model, pseudo, config.latent_noise)
    clipped = []
    for step in range(1, steps + 1):
        rows = dp.batch()
        noise = torch.randn((len(rows), config.latent_dim), generator=dp.rng) * scale
        model.train()
        dp.step((data[rows], noise))
        clipped.append(dp.clipped_share)
        if step % per_epoch == 0 or step == steps:
            model.eval()
            scale = _latent_scale(model, pseudo, config.latent_noise)
            with torch.no_grad():
                loss = float(model.loss(model.decoder(model.encoder(pseudo_t)), pseudo_t))
            epochs.append({"epoch": len(epochs) + 1, "loss": loss, "clipped_share": float(np.mean(clipped)),
                           "seconds": time.perf_counter() - started})
            clipped = []
            if progress:
                progress(len(epochs), _epochs(rate, steps), loss=loss)
    model.eval()
    report = {
        "epochs": epochs, "final_loss": epochs[-1]["loss"], "seconds": time.perf_counter() - started,
        "rows": int(data.shape[0]), "input_dim": int(data.shape[1]), "latent_dim": config.latent_dim,
        "dp_steps": steps, "dp_sample_rate": rate, "dp_noise_multiplier": budget.noise_multipliers["autoencoder"],
        "figures_measured_on": "pseudo table (DP marginals), not training rows",
        **reconstruction_errors(model, pseudo),
    }
    return model, report


def train_dp_gan(latents: np.ndarray, conditions: np.ndarray, pool_conditions: np.ndarray, pseudo_latents: np.ndarray,
                 config, budget: DPBudget, seed: int, progress=None) -> tuple[LatentGenerator, dict]:
    """Conditional WGAN-GP whose critic trains with DP-SGD on (latent, principal condition) of the bounded rows."""
    configure_torch_threads(config)
    started = time.perf_counter()
    mean, std = pseudo_latents.mean(0), pseudo_latents.std(0) + 1e-6
    real = torch.from_numpy(((latents - mean) / std).astype(np.float32))
    cond = torch.from_numpy(np.ascontiguousarray(conditions, dtype=np.float32))
    pool = torch.from_numpy(np.ascontiguousarray(pool_conditions, dtype=np.float32))
    pseudo_std = torch.from_numpy(((pseudo_latents - mean) / std).astype(np.float32))
    latent_dim, condition_dim = real.shape[1], cond.shape[1]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        generator = LatentGenerator(config.gan_noise_dim, condition_dim, latent_dim, config.gan_hidden)
        critic = _critic(latent_dim + condition_dim, config.gan_hidden)
    generator.latent_mean.copy_(torch.from_numpy(mean.astype(np.float32)))
    generator.latent_std.copy_(torch.from_numpy(std.astype(np.float32)))
    penalty_weight = config.gan_gradient_penalty

    def critic_row(params, real_row, cond_row, fake_row, mix):
        real_in, fake_in = torch.cat([real_row, cond_row], 1), torch.cat([fake_row, cond_row], 1)
        wasserstein = call(critic, params, real_in).mean() - call(critic, params, fake_in).mean()
        point = mix * real_in + (1 - mix) * fake_in
        slope = grad(lambda x: call(critic, params, x).sum())(point)
        return -wasserstein + penalty_weight * ((slope.norm(2, dim=1) - 1) ** 2).mean()

    optimise_c = torch.optim.Adam(critic.parameters(), lr=config.gan_learning_rate, betas=(0.5, 0.9))
    optimise_g = torch.optim.Adam(generator.parameters(), lr=config.gan_learning_rate, betas=(0.5, 0.9))
    rate, steps = budget.sample_rates["critic"], budget.steps["critic"]
    dp = DPStep(critic, optimise_c, critic_row, len(real), rate, budget.noise_multipliers["critic"],
                budget.max_grad_norm, budget.noise_seed, 2)
    rng = torch.Generator().manual_seed(seed + 1)  # generator side only: no training row behind it
    per_epoch, epochs = max(1, steps // _epochs(rate, steps)), []
    g_batch = max(16, int(round(rate * len(real))))
    for step in range(1, steps + 1):
        rows = dp.batch()
        generator.train()
        with torch.no_grad():
            fake = generator.standardised(torch.randn((len(rows), config.gan_noise_dim), generator=rng), cond[rows])
        mix = torch.rand((len(rows), 1), generator=rng)
        dp.step((real[rows], cond[rows], fake, mix))
        if step % config.gan_critic_steps == 0:
            picked = pool[torch.randint(len(pool), (g_batch,), generator=rng)]
            fake = generator.standardised(torch.randn((g_batch, config.gan_noise_dim), generator=rng), picked)
            loss_g = -critic(torch.cat([fake, picked], 1)).mean()
            optimise_g.zero_grad(set_to_none=True)
            loss_g.backward()
            optimise_g.step()
            optimise_c.zero_grad(set_to_none=True)
        if step % per_epoch == 0 or step == steps:
            epochs.append({"epoch": len(epochs) + 1, **_pseudo_figures(generator, critic, pseudo_std, pool, rng),
                           "seconds": time.perf_counter() - started})
            if progress:
                progress(len(epochs), _epochs(rate, steps))
    generator.eval()
    report = {
        "epochs": epochs, "memorisation_curve": [], "stopped_reason": "fixed_steps", "best_epoch": len(epochs),
        "epochs_run": len(epochs), "seconds": time.perf_counter() - started, "rows": len(real),
        "condition_dim": condition_dim, "probe_rows": 0, "adapted_to_small_source": {},
        "dp_steps": steps, "dp_sample_rate": rate, "dp_noise_multiplier": budget.noise_multipliers["critic"],
        "figures_measured_on": "pseudo latents (DP marginals), not training rows",
    }
    return generator, report


@torch.no_grad()
def _pseudo_figures(generator, critic, pseudo, pool, rng) -> dict:
    """The critic's Wasserstein estimate between pseudo latents and generated ones (a DP-safe progress figure)."""
    n = min(len(pseudo), 2048)
    picked = pool[torch.randint(len(pool), (n,), generator=rng)]
    fake = generator.standardised(torch.randn((n, generator.noise_dim), generator=rng), picked)
    w = critic(torch.cat([pseudo[:n], picked], 1)).mean() - critic(torch.cat([fake, picked], 1)).mean()
    return {"wasserstein": float(w), "critic_loss": float(-w), "generator_loss": float(-critic(
        torch.cat([fake, picked], 1)).mean()), "gradient_penalty": 0.0}

"""Conditional WGAN-GP on the autoencoder's latent space, with an anti-memorisation early stop.

The condition vector (e.g. the principal diagnosis slot: presence flag + PCA embedding) lets the caller request
any code, even a rare one: "N claims with dx_1 = X" is met by conditioning, never by rejection sampling.

Safeguard: every `memorisation_check_every` epochs the generator produces rows that are compared with a train
subsample and the holdout (same size), in the latent space or, through `MemorisationProbe.project`, in the
encoded feature space (what `synthesizer.fit_latent_gan` uses). The median distance to the
nearest train row vs to the nearest holdout row is logged as `memorisation_curve`; when generated rows sit closer
to train than to holdout by more than `memorisation_margin`, training stops and the best checkpoint from before
the drift is restored. Training also stops when the critic's Wasserstein estimate has not improved for
`gan_patience` epochs.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from synth_ehr_assets.core.synth.autoencoder import (
    Progress,
    _adapted,
    configure_torch_threads,
    effective_batch_size,
    load_config,
    load_state,
    mlp,
    save_module,
)
from synth_ehr_assets.core.synth.config import SynthesizerConfig
from synth_ehr_assets.core.synth.training_checks import check_critic, check_gradients, check_latents, minibatches


@dataclass
class MemorisationProbe:
    """Train rows (row i = the GAN's training latent i) and holdout rows to compare generated rows with.

    Without `project` the rows are latents and distances are taken in the standardised latent space. With
    `project` (e.g. the autoencoder's `decode`) generated latents are mapped into the rows' space first: the
    encoder saw only train rows, so holdout latents sit slightly off the train manifold and a latent-space probe
    would flag "closer to train" even for a generator that copies nothing. Conditional generators draw their
    conditions from train rows outside the compared train subsample, so neither side is favoured.
    """

    train_rows: np.ndarray
    holdout_rows: np.ndarray
    project: Callable[[np.ndarray], np.ndarray] | None = None


def _critic(width_in: int, hidden: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(width_in, width), nn.LeakyReLU(0.2)]
        width_in = width
    return nn.Sequential(*layers, nn.Linear(width_in, 1))


class LatentGenerator(nn.Module):
    """noise (+ condition) -> latent row; stores the latent mean/std so outputs are in the autoencoder's scale."""

    def __init__(self, noise_dim: int, condition_dim: int, latent_dim: int, hidden: Sequence[int]):
        super().__init__()
        self.noise_dim, self.condition_dim, self.latent_dim, self.hidden = (
            noise_dim,
            condition_dim,
            latent_dim,
            list(hidden),
        )
        self.network = mlp([noise_dim + condition_dim, *self.hidden, latent_dim])
        self.register_buffer("latent_mean", torch.zeros(latent_dim))
        self.register_buffer("latent_std", torch.ones(latent_dim))

    def standardised(self, noise: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
        return self.network(noise if condition is None else torch.cat([noise, condition], 1))

    def forward(self, noise: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.standardised(noise, condition) * self.latent_std + self.latent_mean

    @torch.no_grad()
    def sample(
        self, n: int, conditions: np.ndarray | None = None, seed: int = 0, batch_size: int = 131_072
    ) -> np.ndarray:
        """`n` latent rows (float32), one per condition row when conditional; same seed -> same rows."""
        self.eval()
        if self.condition_dim and (conditions is None or len(conditions) != n):
            raise ValueError(f"a conditional generator needs {n} condition rows of width {self.condition_dim}")
        generator = torch.Generator().manual_seed(seed)
        parts = []
        for start in range(0, n, batch_size):
            rows = min(batch_size, n - start)
            noise = torch.randn((rows, self.noise_dim), generator=generator)
            condition = None
            if self.condition_dim:
                condition = torch.from_numpy(np.ascontiguousarray(conditions[start : start + rows], dtype=np.float32))
            parts.append(self(noise, condition))
        return torch.cat(parts).numpy() if parts else np.zeros((0, self.latent_dim), np.float32)

    def config(self) -> dict:
        return {
            "noise_dim": self.noise_dim,
            "condition_dim": self.condition_dim,
            "latent_dim": self.latent_dim,
            "hidden": self.hidden,
        }

    def save(self, directory: str | Path) -> Path:
        save_module(self, Path(directory), "generator", self.config())
        return Path(directory)

    @classmethod
    def load(cls, directory: str | Path) -> LatentGenerator:
        config = load_config(Path(directory), "generator")
        model = cls(config["noise_dim"], config["condition_dim"], config["latent_dim"], config["hidden"])
        load_state(model, Path(directory), "generator")
        return model.eval()


def _median_nearest_distance(queries: torch.Tensor, reference: torch.Tensor) -> float:
    nearest = torch.cat([torch.cdist(chunk, reference).min(1).values for chunk in queries.split(4096)])
    return float(nearest.median())


def _gradient_penalty(
    critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    mix = torch.rand((real.shape[0], 1), generator=generator)
    points = (mix * real + (1 - mix) * fake).requires_grad_(True)
    gradients = torch.autograd.grad(critic(points).sum(), points, create_graph=True)[0]
    return ((gradients.norm(2, dim=1) - 1) ** 2).mean()


class _Wgan:
    """Generator + critic with their optimisers: one WGAN-GP epoch at a time."""

    def __init__(self, generator: LatentGenerator, critic: nn.Module, config: SynthesizerConfig, rng: torch.Generator):
        self.generator, self.critic, self.config, self.rng = generator, critic, config, rng
        self.optimise_g = torch.optim.Adam(generator.parameters(), lr=config.gan_learning_rate, betas=(0.5, 0.9))
        self.optimise_c = torch.optim.Adam(critic.parameters(), lr=config.gan_learning_rate, betas=(0.5, 0.9))
        self.critic_steps = 0  # counted across epochs, so small tables still train the generator

    def score(self, rows: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
        return self.critic(rows if condition is None else torch.cat([rows, condition], 1))

    def epoch(self, real_all: torch.Tensor, cond_all: torch.Tensor | None, batch: int, epoch: int) -> dict:
        """One pass of critic steps over the rows (a generator step every `gan_critic_steps`); mean losses."""
        self.generator.train()
        sums = {"critic_loss": 0.0, "generator_loss": 0.0, "wasserstein": 0.0, "gradient_penalty": 0.0}
        critic_steps = generator_steps = 0
        for rows in minibatches(real_all.shape[0], batch, self.rng):
            real, cond = real_all[rows], None if cond_all is None else cond_all[rows]
            with torch.no_grad():
                fake = self.generator.standardised(self._noise(len(rows)), cond)
            real_in = real if cond is None else torch.cat([real, cond], 1)
            fake_in = fake if cond is None else torch.cat([fake, cond], 1)
            wasserstein = self.critic(real_in).mean() - self.critic(fake_in).mean()
            penalty = _gradient_penalty(self.critic, real_in, fake_in, self.rng)
            loss_c = -wasserstein + self.config.gan_gradient_penalty * penalty
            self.optimise_c.zero_grad(set_to_none=True)
            loss_c.backward()
            check_gradients(self.critic, "GAN critic", epoch)
            self.optimise_c.step()
            for key, value in (("critic_loss", loss_c), ("wasserstein", wasserstein), ("gradient_penalty", penalty)):
                sums[key] += value.item()
            critic_steps, self.critic_steps = critic_steps + 1, self.critic_steps + 1
            if self.critic_steps % self.config.gan_critic_steps == 0:
                loss_g = -self.score(self.generator.standardised(self._noise(len(rows)), cond), cond).mean()
                self.optimise_g.zero_grad(set_to_none=True)
                loss_g.backward()
                check_gradients(self.generator, "GAN generator", epoch)
                self.optimise_g.step()
                sums["generator_loss"] += loss_g.item()
                generator_steps += 1
        counts = {key: generator_steps if key == "generator_loss" else critic_steps for key in sums}
        return {key: value / max(counts[key], 1) for key, value in sums.items()}

    def _noise(self, rows: int) -> torch.Tensor:
        return torch.randn((rows, self.config.gan_noise_dim), generator=self.rng)


class _Patience:
    """Smoothed Wasserstein estimate; it rises while the critic learns, then falls as the generator catches up,
    so patience counts epochs without a new low since the last peak."""

    def __init__(self):
        self.smoothed, self.lowest, self.peak, self.since_improved = None, float("inf"), float("-inf"), 0

    def update(self, wasserstein: float) -> None:
        self.smoothed = wasserstein if self.smoothed is None else 0.8 * self.smoothed + 0.2 * wasserstein
        if self.smoothed > self.peak:
            self.peak, self.lowest, self.since_improved = self.smoothed, self.smoothed, 0
        elif self.smoothed < self.lowest - 1e-4:
            self.lowest, self.since_improved = self.smoothed, 0
        else:
            self.since_improved += 1

    @property
    def near_low(self) -> bool:
        return self.smoothed <= self.lowest + 0.05 * abs(self.lowest) + 1e-3


def train_gan(
    latents: np.ndarray,
    conditions: np.ndarray | None,
    config: SynthesizerConfig,
    seed: int,
    progress: Progress | None = None,
    memorisation_probe: MemorisationProbe | None = None,
) -> tuple[LatentGenerator, dict]:
    """Train the (conditional) WGAN-GP; returns the best generator (eval mode) and a report.

    The report holds per-epoch losses/timings (`epochs`), `memorisation_curve`, `stopped_reason`
    (max_epochs | memorisation | patience), `best_epoch`, `epochs_run`, `probe_rows` and `seconds`; a table below
    `config.small_source_rows` trains with `config.adapted_to(rows)` (`adapted_to_small_source` lists the changes).
    """
    config, adapted = _adapted(config, len(latents))
    configure_torch_threads(config)
    started = time.perf_counter()
    latents = np.ascontiguousarray(latents, dtype=np.float32)
    n, latent_dim = latents.shape
    if n < 2:
        raise ValueError("the GAN needs at least two training rows")
    check_latents(latents)
    if conditions is not None:
        check_latents(np.asarray(conditions), "GAN condition vectors")
    condition_dim = 0 if conditions is None else conditions.shape[1]
    mean, std = latents.mean(0), latents.std(0) + 1e-6
    real_all = torch.from_numpy((latents - mean) / std)
    cond_all = None if conditions is None else torch.from_numpy(np.ascontiguousarray(conditions, dtype=np.float32))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        generator = LatentGenerator(config.gan_noise_dim, condition_dim, latent_dim, config.gan_hidden)
        critic = _critic(latent_dim + condition_dim, config.gan_hidden)
    generator.latent_mean.copy_(torch.from_numpy(mean))
    generator.latent_std.copy_(torch.from_numpy(std))
    wgan, patience = _Wgan(generator, critic, config, torch.Generator().manual_seed(seed + 1)), _Patience()
    probe = _prepare_probe(memorisation_probe, mean, std, cond_all, config, seed)
    batch = effective_batch_size(config.batch_size, n)
    epochs, curve, strikes, stopped_reason = [], [], 0, "max_epochs"
    best = {"epoch": 0, "state": None}
    for epoch in range(1, config.gan_epochs + 1):
        epoch_start = time.perf_counter()
        epochs.append({"epoch": epoch, **wgan.epoch(real_all, cond_all, batch, epoch)})
        epochs[-1]["seconds"] = time.perf_counter() - epoch_start
        check_critic(epochs[-1], epoch, config.gan_divergence_limit)
        patience.update(epochs[-1]["wasserstein"])
        checkpoint = probe is None and patience.near_low
        if probe is not None and (epoch % config.memorisation_check_every == 0 or epoch == config.gan_epochs):
            curve.append(_probe(generator, probe, epoch, seed))
            drifting = curve[-1]["ratio"] < 1 - config.memorisation_margin  # never checkpointed
            counts = epoch >= config.memorisation_warmup_epochs and probe["size"] >= config.memorisation_min_rows
            strikes = strikes + 1 if drifting and counts else 0  # one low probe may be noise
            if strikes >= config.memorisation_patience:
                stopped_reason = "memorisation"
            checkpoint = not drifting and (patience.near_low or best["epoch"] == 0)
        if checkpoint:
            best = {"epoch": epoch, "state": copy.deepcopy(generator.state_dict())}
        if progress:
            losses = {k: float(v) for k, v in epochs[-1].items() if k.endswith("_loss")}
            progress(epoch, config.gan_epochs, **losses)
        if stopped_reason == "max_epochs" and patience.since_improved >= config.gan_patience:
            stopped_reason = "patience"
        if stopped_reason != "max_epochs":
            break
    if best["state"] is not None:
        generator.load_state_dict(best["state"])
    generator.eval()
    report = {
        "epochs": epochs,
        "memorisation_curve": curve,
        "stopped_reason": stopped_reason,
        "best_epoch": best["epoch"] or len(epochs),
        "epochs_run": len(epochs),
        "seconds": time.perf_counter() - started,
        "rows": n,
        "condition_dim": condition_dim,
        "probe_rows": probe["size"] if probe else 0,
        "adapted_to_small_source": adapted,
    }
    return generator, report


def _prepare_probe(
    probe: MemorisationProbe | None, mean, std, conditions: torch.Tensor | None, config: SynthesizerConfig, seed: int
) -> dict | None:
    if probe is None or len(probe.holdout_rows) < 2:
        return None
    rng = np.random.default_rng(seed + 2)
    n = len(probe.train_rows)
    size = min(config.memorisation_probe_rows, len(probe.holdout_rows), n)
    holdout_rows = np.sort(rng.choice(len(probe.holdout_rows), size, replace=False))
    train_rows = np.sort(rng.choice(n, size, replace=False))
    if probe.project is None:
        scaled = lambda x: ((np.asarray(x, np.float32) - mean) / std).astype(np.float32)  # noqa: E731
    else:
        scaled = lambda x: np.asarray(x, np.float32)  # noqa: E731
    picked = None
    if conditions is not None:
        others = np.setdiff1d(np.arange(n), train_rows) if n > size else np.arange(n)
        picked = conditions[torch.from_numpy(rng.choice(others, size, replace=len(others) < size))]
    return {
        "train": torch.from_numpy(scaled(probe.train_rows[train_rows])),
        "holdout": torch.from_numpy(scaled(probe.holdout_rows[holdout_rows])),
        "conditions": picked,
        "size": size,
        "project": probe.project,
    }


@torch.no_grad()
def _probe(generator: LatentGenerator, probe: dict, epoch: int, seed: int) -> dict:
    generator.eval()
    noise = torch.randn((probe["size"], generator.noise_dim), generator=torch.Generator().manual_seed(seed + 3))
    if probe["project"] is None:
        generated = generator.standardised(noise, probe["conditions"])
    else:
        generated = torch.from_numpy(np.asarray(probe["project"](generator(noise, probe["conditions"])), np.float32))
    dist_train = _median_nearest_distance(generated, probe["train"])
    dist_holdout = _median_nearest_distance(generated, probe["holdout"])
    return {
        "epoch": epoch,
        "dist_train": dist_train,
        "dist_holdout": dist_holdout,
        "ratio": dist_train / dist_holdout if dist_holdout > 0 else 1.0,
    }

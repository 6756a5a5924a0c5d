"""DP-SGD (Abadi et al. 2016) on the models that read training rows: the autoencoder and the WGAN critic.

Each step draws a Poisson batch (every row independently with probability q), computes one gradient per row
with `torch.func` (vmap of grad; the critic's per-row loss includes its gradient penalty, which opacus' hook-based
per-sample gradients cannot differentiate), clips each to L2 norm C, sums, adds N(0, (zC)²) per coordinate and
divides by the expected batch size qn, as opacus' optimizer does; the accountant (`budget.py`) counts the steps.
Batches and noise come from OS entropy, never from the release seed: a published seed would let anyone replay
the noise and subtract it. Nothing in a row's loss reads another row (the autoencoder's latent noise is scaled by
a fixed, DP-derived spread instead of the batch's), so each row's influence on a step is bounded by C.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.func import functional_call, grad, vmap


def noise_sequence(noise_seed: int | None, stream: int) -> np.random.SeedSequence:
    """OS entropy (not reproducible, not derivable from the release), or `privacy.dp_noise_seed`'s stream in tests."""
    return np.random.SeedSequence() if noise_seed is None else np.random.SeedSequence([noise_seed, stream])


def entropy_generator(noise_seed: int | None = None, stream: int = 0) -> torch.Generator:
    """A torch generator seeded from `noise_sequence`."""
    return torch.Generator().manual_seed(int(noise_sequence(noise_seed, stream).generate_state(1, np.uint64)[0] >> 1))


class DPStep:
    """One noisy, clipped step of `module` under `optimizer` for a per-row loss `loss(params, *row_tensors)`."""

    def __init__(self, module: torch.nn.Module, optimizer: torch.optim.Optimizer, per_row_loss: Callable,
                 rows: int, sample_rate: float, noise_multiplier: float, max_grad_norm: float,
                 noise_seed: int | None = None, stream: int = 0):
        self.module, self.optimizer, self.loss = module, optimizer, per_row_loss
        self.rows, self.rate, self.z, self.clip = rows, sample_rate, noise_multiplier, max_grad_norm
        self.names = [name for name, p in module.named_parameters() if p.requires_grad]
        self.rng = entropy_generator(noise_seed, stream)
        self.grads = vmap(grad(self._row_loss), in_dims=(None, 0))
        self.clipped_share = 0.0

    def _row_loss(self, params: dict, inputs: tuple) -> torch.Tensor:
        return self.loss(params, *[x.unsqueeze(0) for x in inputs])

    def batch(self) -> torch.Tensor:
        """Row indices of a Poisson batch (possibly empty: the step then adds noise only)."""
        return torch.nonzero(torch.rand(self.rows, generator=self.rng) < self.rate).flatten()

    def step(self, inputs: tuple[torch.Tensor, ...]) -> float:
        """Apply one DP step on the batch rows `inputs` (already indexed); returns the mean per-row loss."""
        params = {name: p.detach() for name, p in self.module.named_parameters() if name in self.names}
        count = inputs[0].shape[0] if inputs else 0
        total = {name: torch.zeros_like(p) for name, p in params.items()}
        loss_value = 0.0
        if count:
            per_row = self.grads(params, inputs)
            norms = torch.sqrt(sum(per_row[n].flatten(1).pow(2).sum(1) for n in self.names))
            factor = (self.clip / (norms + 1e-6)).clamp(max=1.0)
            self.clipped_share = float((factor < 1).float().mean())
            total = {n: torch.einsum("b,b...->...", factor, per_row[n]) for n in self.names}
            with torch.no_grad():
                loss_value = float(vmap(self._row_loss, in_dims=(None, 0))(params, inputs).mean())
        expected = max(self.rate * self.rows, 1.0)
        for name, parameter in self.module.named_parameters():
            if name in total:
                noise = torch.randn(parameter.shape, generator=self.rng) * (self.z * self.clip)
                parameter.grad = (total[name] + noise) / expected
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss_value


def call(module: torch.nn.Module, params: dict, *args) -> torch.Tensor:
    """`module(*args)` with `params` in place of its parameters (buffers kept)."""
    return functional_call(module, params, args)

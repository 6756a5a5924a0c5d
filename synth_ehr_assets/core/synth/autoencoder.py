"""Autoencoder pre-compressing the encoded row (blueprint: "advanced data encoding") for the latent GAN.

The decoder's output heads follow the transformer's segments: linear columns (numeric z, code PCA) use MSE,
one-hot groups use cross-entropy, presence flags use BCE. `decode` returns a valid encoded matrix: one-hot groups
by argmax, flags thresholded at 0.5, linear columns as is.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from synth_ehr_assets.core.synth.config import SynthesizerConfig
from synth_ehr_assets.core.synth.training_checks import (
    check_autoencoder_loss,
    check_features,
    check_gradients,
    minibatches,
)
from synth_ehr_assets.core.synth.transformer import Segment
from synth_ehr_assets.core.progress import Progress

FORMAT_VERSION = 1


class CheckpointVersionError(ValueError):
    """A saved model was written by another format version."""


def configure_torch_threads(config: SynthesizerConfig | None = None) -> int:
    """Set torch's CPU threads from the config, else env `SYNTH_EHR_TORCH_THREADS`; returns the count in use."""
    threads = (config.torch_threads if config else None) or int(os.environ.get("SYNTH_EHR_TORCH_THREADS", "0") or 0)
    if threads:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def effective_batch_size(batch_size: int, rows: int) -> int:
    """The configured batch size, shrunk on small tables so an epoch still holds about eight steps."""
    return max(2, min(batch_size, rows, max(16, rows // 8)))


def mlp(sizes: Sequence[int]) -> nn.Sequential:
    """Linear layers with SiLU in between (none after the last)."""
    layers: list[nn.Module] = []
    for i, (width_in, width_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(width_in, width_out))
        if i < len(sizes) - 2:
            layers.append(nn.SiLU())
    return nn.Sequential(*layers)


def save_module(module: nn.Module, directory: Path, stem: str, config: dict) -> None:
    """Write `<stem>.json` (config + format_version) and `<stem>.npz` (state_dict as arrays; no pickle)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{stem}.json").write_text(json.dumps({"format_version": FORMAT_VERSION, **config}, indent=1))
    np.savez(directory / f"{stem}.npz", **{k: v.detach().cpu().numpy() for k, v in module.state_dict().items()})


def load_config(directory: Path, stem: str) -> dict:
    path = Path(directory) / f"{stem}.json"
    config = json.loads(path.read_text())
    if config.get("format_version") != FORMAT_VERSION:
        raise CheckpointVersionError(
            f"{path} has format_version {config.get('format_version')}, this synth-ehr reads {FORMAT_VERSION}; retrain"
        )
    return config


def load_state(module: nn.Module, directory: Path, stem: str) -> None:
    with np.load(Path(directory) / f"{stem}.npz", allow_pickle=False) as arrays:
        module.load_state_dict({key: torch.from_numpy(arrays[key]) for key in arrays.files})


class FeatureAutoencoder(nn.Module):
    """MLP autoencoder whose decoder heads respect the transformer's segments."""

    def __init__(self, input_dim: int, latent_dim: int, hidden: Sequence[int], segments: Sequence[Segment]):
        super().__init__()
        self.input_dim, self.latent_dim, self.hidden = input_dim, latent_dim, list(hidden)
        self.segments = [Segment(**s) if isinstance(s, dict) else s for s in segments]
        self.encoder = mlp([input_dim, *self.hidden, latent_dim])
        self.decoder = mlp([latent_dim, *reversed(self.hidden), input_dim])
        def index(kind: str) -> list[int]:
            return [i for s in self.segments if s.activation == kind for i in range(s.start, s.stop)]

        self.register_buffer("linear_index", torch.tensor(index("linear"), dtype=torch.long), persistent=False)
        self.register_buffer("sigmoid_index", torch.tensor(index("sigmoid"), dtype=torch.long), persistent=False)
        self.softmax_groups = [(s.start, s.stop) for s in self.segments if s.activation == "softmax"]

    def forward(self, matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        latent = self.encoder(matrix)
        return latent, self.decoder(latent)

    def loss(self, raw: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per-row sum of MSE (linear), BCE (flags) and cross-entropy (one-hot groups), averaged over rows."""
        rows = raw.shape[0]
        total = ((raw[:, self.linear_index] - target[:, self.linear_index]) ** 2).sum() / rows
        if self.sigmoid_index.numel():
            total = (
                total
                + nn.functional.binary_cross_entropy_with_logits(
                    raw[:, self.sigmoid_index], target[:, self.sigmoid_index], reduction="sum"
                )
                / rows
            )
        for start, stop in self.softmax_groups:
            total = (
                total + nn.functional.cross_entropy(raw[:, start:stop], target[:, start:stop], reduction="sum") / rows
            )
        return total

    def finish(self, raw: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Turn decoder logits into a valid encoded matrix: one-hot groups and 0/1 flags.

        Without `generator`: argmax / threshold (deterministic, used for reconstruction and probes). With it: a
        draw from the softmax / sigmoid probabilities, so rows whose latent sits between modes keep the decoder's
        uncertainty instead of all snapping to the majority category (keeps marginals and null rates calibrated).
        """
        out = raw.clone()
        if self.sigmoid_index.numel():
            logits = raw[:, self.sigmoid_index]
            if generator is None:
                out[:, self.sigmoid_index] = (logits > 0).to(raw.dtype)
            else:
                draws = torch.rand(logits.shape, generator=generator)
                out[:, self.sigmoid_index] = (draws < torch.sigmoid(logits)).to(raw.dtype)
        for start, stop in self.softmax_groups:
            logits = raw[:, start:stop]
            if generator is not None:  # Gumbel-max: argmax(logits + Gumbel noise) ~ softmax(logits)
                logits = logits - torch.log(-torch.log(torch.rand(logits.shape, generator=generator).clamp_min(1e-12)))
            group = torch.zeros_like(logits)
            group.scatter_(1, logits.argmax(1, keepdim=True), 1.0)
            out[:, start:stop] = group
        return out

    @torch.no_grad()
    def encode(self, matrix: np.ndarray, batch_size: int = 131_072) -> np.ndarray:
        """Latent codes (n, latent_dim) of an encoded matrix."""
        self.eval()
        parts = [
            self.encoder(torch.from_numpy(np.ascontiguousarray(matrix[i : i + batch_size], dtype=np.float32)))
            for i in range(0, len(matrix), batch_size)
        ]
        return torch.cat(parts).numpy() if parts else np.zeros((0, self.latent_dim), np.float32)

    @torch.no_grad()
    def decode(
        self, latent: np.ndarray | torch.Tensor, batch_size: int = 131_072, seed: int | None = None
    ) -> np.ndarray:
        """Valid encoded matrix (n, input_dim) from latent codes; `seed` samples the discrete parts (see `finish`)."""
        self.eval()
        latent = torch.as_tensor(np.asarray(latent, dtype=np.float32)) if isinstance(latent, np.ndarray) else latent
        generator = None if seed is None else torch.Generator().manual_seed(seed)
        parts = [
            self.finish(self.decoder(latent[i : i + batch_size]), generator)
            for i in range(0, latent.shape[0], batch_size)
        ]
        return torch.cat(parts).numpy() if parts else np.zeros((0, self.input_dim), np.float32)

    def config(self) -> dict:
        return {
            "input_dim": self.input_dim,
            "latent_dim": self.latent_dim,
            "hidden": self.hidden,
            "segments": [s.__dict__ for s in self.segments],
        }

    def save(self, directory: str | Path) -> Path:
        save_module(self, Path(directory), "autoencoder", self.config())
        return Path(directory)

    @classmethod
    def load(cls, directory: str | Path) -> FeatureAutoencoder:
        config = load_config(Path(directory), "autoencoder")
        model = cls(config["input_dim"], config["latent_dim"], config["hidden"], config["segments"])
        load_state(model, Path(directory), "autoencoder")
        return model.eval()


def _adapted(config: SynthesizerConfig, rows: int) -> tuple[SynthesizerConfig, dict]:
    """`config.adapted_to(rows)` and the fields it changed (empty when the source is not small)."""
    adapted = config.adapted_to(rows)
    changed = {k: getattr(adapted, k) for k in type(config).model_fields if getattr(adapted, k) != getattr(config, k)}
    return adapted, changed


def train_autoencoder(
    matrix: np.ndarray,
    segments: Sequence[Segment],
    config: SynthesizerConfig,
    seed: int,
    progress: Progress | None = None,
) -> tuple[FeatureAutoencoder, dict]:
    """Train on encoded rows; returns the model (eval mode) and a report with per-epoch losses and seconds.

    Raises `TrainingError` (naming the column and the likely cause) on a non-finite feature, loss or gradient.
    A table below `config.small_source_rows` trains with `config.adapted_to(rows)` (listed in the report).
    """
    config, adapted = _adapted(config, len(matrix))
    configure_torch_threads(config)
    check_features(np.asarray(matrix), segments)
    started = time.perf_counter()
    data = torch.from_numpy(np.ascontiguousarray(matrix, dtype=np.float32))
    if data.shape[0] == 0:
        raise ValueError("cannot train the autoencoder on zero rows")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = FeatureAutoencoder(data.shape[1], config.latent_dim, config.autoencoder_hidden, segments)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.autoencoder_learning_rate)
    batch = effective_batch_size(config.batch_size, data.shape[0])
    epochs = []
    model.train()
    for epoch in range(1, config.autoencoder_epochs + 1):
        epoch_start, total, batches = time.perf_counter(), 0.0, 0
        for rows in minibatches(data.shape[0], batch, generator):
            target = data[rows]
            latent = model.encoder(target)
            if config.latent_noise:
                scale = config.latent_noise * latent.detach().std(0)  # relative to each latent's spread
                latent = latent + scale * torch.randn(latent.shape, generator=generator)
            raw = model.decoder(latent)
            loss = model.loss(raw, target)
            check_autoencoder_loss(model, loss, raw, target, epoch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            check_gradients(model, "autoencoder", epoch, model.segments)
            optimizer.step()
            total, batches = total + loss.item(), batches + 1
        epochs.append({"epoch": epoch, "loss": total / batches, "seconds": time.perf_counter() - epoch_start})
        if progress:
            progress(epoch, config.autoencoder_epochs, loss=epochs[-1]["loss"])
    model.eval()
    report = {
        "epochs": epochs,
        "final_loss": epochs[-1]["loss"],
        "seconds": time.perf_counter() - started,
        "rows": int(data.shape[0]),
        "input_dim": int(data.shape[1]),
        "latent_dim": config.latent_dim,
        "adapted_to_small_source": adapted,
        **reconstruction_errors(model, matrix[: min(len(matrix), 20_000)]),
    }
    return model, report


def reconstruction_errors(model: FeatureAutoencoder, matrix: np.ndarray) -> dict:
    """How well `decode(encode(x))` reproduces x: RMSE of linear columns, accuracy of one-hot groups and flags."""
    decoded = model.decode(model.encode(matrix))
    linear = model.linear_index.numpy()
    flags = model.sigmoid_index.numpy()
    groups = [
        (decoded[:, a:b].argmax(1) == matrix[:, a:b].argmax(1)).mean()
        for a, b in model.softmax_groups
        if matrix[:, a:b].sum(1).all()
    ]
    return {
        "linear_rmse": float(np.sqrt(((decoded[:, linear] - matrix[:, linear]) ** 2).mean())) if linear.size else 0.0,
        "flag_accuracy": float((decoded[:, flags] == (matrix[:, flags] > 0.5)).mean()) if flags.size else 1.0,
        "category_accuracy": float(np.mean(groups)) if groups else 1.0,
    }

"""Fail-fast checks for autoencoder and GAN training: a broken model must stop the step, never be returned.

Each check raises `TrainingError` naming the table column (through the transformer's segments) or the model
part at fault and the likely cause, so the Dagster asset fails before anything is saved, logged or registered.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from synth_ehr_assets.core.synth.transformer import Segment


class TrainingError(RuntimeError):
    """Training produced (or was fed) something unusable; the message names the column or model part and why."""


def minibatches(rows: int, batch: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Shuffled row indices in batches of `batch`; a trailing batch of one row joins the one before it.

    A one-row batch has no spread: `std(0)` of a single row is NaN (Bessel's correction divides by n - 1 = 0),
    which is how 217 MIMIC-IV training rows at batch 27 (217 = 8 × 27 + 1) turned the autoencoder's loss into NaN.
    """
    parts = list(torch.randperm(rows, generator=generator).split(batch))
    if len(parts) > 1 and len(parts[-1]) < 2:
        parts[-2:] = [torch.cat(parts[-2:])]
    return iter(parts)


def _columns_of(indices: Sequence[int], segments: Sequence[Segment]) -> list[str]:
    names = []
    for index in indices:
        name = next((s.column for s in segments if s.start <= index < s.stop), f"feature {index}")
        if name not in names:
            names.append(name)
    return names


def check_features(matrix: np.ndarray, segments: Sequence[Segment], what: str = "encoded training rows") -> None:
    """Every encoded value must be finite; names the table columns whose features are not."""
    bad = ~np.isfinite(matrix)
    if bad.any():
        columns = np.flatnonzero(bad.any(0))
        names = _columns_of(columns.tolist(), segments)
        raise TrainingError(
            f"{what}: {int(bad.sum())} non-finite value(s) (NaN/inf) in column(s) {names}; likely cause: an "
            "infinite or undefined number in the source column (a division by zero, an overflow) that the "
            "encoding passed through; fix or drop those source values"
        )


def segment_losses(model, raw: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """Reconstruction loss per table column (MSE / BCE / cross-entropy as in `FeatureAutoencoder.loss`)."""
    out: dict[str, float] = {}
    with torch.no_grad():
        for segment in model.segments:
            r, t = raw[:, segment.start : segment.stop], target[:, segment.start : segment.stop]
            if segment.activation == "linear":
                value = ((r - t) ** 2).sum() / len(r)
            elif segment.activation == "sigmoid":
                value = nn.functional.binary_cross_entropy_with_logits(r, t, reduction="sum") / len(r)
            else:
                value = nn.functional.cross_entropy(r, t, reduction="sum") / len(r)
            out[segment.column] = out.get(segment.column, 0.0) + float(value)
    return out


def check_autoencoder_loss(model, loss: torch.Tensor, raw: torch.Tensor, target: torch.Tensor, epoch: int) -> None:
    """A non-finite reconstruction loss stops training, naming the columns whose loss term is not finite."""
    if torch.isfinite(loss):
        return
    extreme = torch.nonzero(target.abs().amax(0) > 1e3).flatten().tolist()  # an encoding stays within about ±10
    per_column = segment_losses(model, raw, target)
    culprits = [name for name, value in per_column.items() if not np.isfinite(value)]
    if extreme:
        cause = (
            f"the encoded values of column(s) {_columns_of(extreme, model.segments)} reach "
            f"{float(target.abs().max()):.3g} (a fitted encoding stays within about ±10), so the squared error "
            "overflows float32; likely cause: an absurd source value or a matrix not made by the fitted transformer"
        )
    elif culprits:
        cause = f"the loss of column(s) {culprits} is not finite; likely cause: the model's outputs overflowed"
    else:
        cause = (
            "every column's loss term is finite on its own, so the model itself diverged (weights or latents "
            "became NaN: a learning rate too high for this table, or a batch too small for the latent noise)"
        )
    raise TrainingError(f"autoencoder loss became {float(loss.detach())} at epoch {epoch}: {cause}")


def check_gradients(model: nn.Module, what: str, epoch: int, segments: Sequence[Segment] | None = None) -> None:
    """Non-finite gradients stop training; for the autoencoder's input layer the table columns are named."""
    for name, parameter in model.named_parameters():
        grad = parameter.grad
        if grad is None or torch.isfinite(grad).all():
            continue
        detail = f"parameter {name}"
        if segments is not None and grad.ndim == 2 and name.endswith("0.weight") and name.startswith("encoder"):
            columns = torch.nonzero(~torch.isfinite(grad).all(0)).flatten().tolist()
            detail += f" (input features of column(s) {_columns_of(columns, segments)})"
        raise TrainingError(
            f"{what}: non-finite gradient at epoch {epoch} in {detail}; likely cause: exploding updates (learning "
            "rate too high) or an extreme value in those columns; lower the learning rate or fix the source values"
        )


def check_critic(record: dict, epoch: int, limit: float) -> None:
    """The WGAN-GP critic diverged when its losses stop being finite or its Wasserstein estimate leaves `limit`."""
    bad = {key: value for key, value in record.items() if key != "seconds" and not np.isfinite(value)}
    if bad:
        raise TrainingError(
            f"GAN: non-finite {sorted(bad)} at epoch {epoch}; likely cause: the critic diverged (learning rate too "
            "high or gradient penalty off); lower synthesizer.gan_learning_rate or raise gan_gradient_penalty"
        )
    if abs(record["wasserstein"]) > limit:
        raise TrainingError(
            f"GAN critic diverged at epoch {epoch}: Wasserstein estimate {record['wasserstein']:.3g} exceeds "
            f"synthesizer.gan_divergence_limit = {limit:g} on standardised latents (a Lipschitz critic stays "
            "far below it); likely cause: synthesizer.gan_gradient_penalty too small or gan_learning_rate too high"
        )


def check_latents(latents: np.ndarray, what: str = "GAN training latents") -> None:
    """Latents must be finite: NaN latents mean the autoencoder that produced them is broken."""
    bad = ~np.isfinite(latents)
    if bad.any():
        raise TrainingError(
            f"{what}: {int(bad.sum())} non-finite value(s) in latent dimension(s) "
            f"{np.flatnonzero(bad.any(0)).tolist()}; likely cause: a broken autoencoder (retrain it; its training "
            "would now stop with the column at fault)"
        )

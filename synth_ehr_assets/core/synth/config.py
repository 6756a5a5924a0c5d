"""Synthesizer hyperparameters as read from the release spec (`synthesizer:` block)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SynthesizerConfig(BaseModel):
    """Knobs of the autoencoder + latent GAN synthesizer; every field has a working default."""

    model_config = ConfigDict(extra="forbid")

    code_dims: int = Field(16, ge=2, le=384, description="PCA dimensions kept per code slot embedding")
    latent_dim: int = Field(32, ge=4, le=512, description="autoencoder latent size the GAN learns")
    autoencoder_epochs: int = Field(30, ge=1, description="autoencoder training epochs")
    gan_epochs: int = Field(200, ge=1, description="maximum GAN epochs (early stopping may end sooner)")
    batch_size: int = Field(512, ge=16, description="training batch size")
    holdout_fraction: float = Field(0.2, gt=0, lt=0.9, description="share of source rows held out")

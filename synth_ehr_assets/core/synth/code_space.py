"""The shared PCA space of code-description embeddings that every diagnosis/procedure slot is encoded in.

One PCA (SVD of the training codes' 384-d vectors, weighted by how often each code occurs) serves all code slots,
so similar codes sit close in every slot and the model never one-hot encodes a code vocabulary. The space is
scaled so its components have unit variance on average; distances keep the embedding's geometry.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import polars as pl

CodeVectors = Callable[[list[str]], np.ndarray]
_PREFIX = "code_"


def slot_group(column: str) -> str:
    """Slot group of a code column: the name without its trailing slot number (`dx_3` -> `dx`)."""
    return re.sub(r"_?\d+$", "", column) or column


class CodeSpace:
    """Code table (training codes of every slot), their PCA vectors, and the codes seen per slot group."""

    def __init__(self, code_dims: int, code_vectors: CodeVectors | None = None):
        self.code_dims, self.code_vectors = code_dims, code_vectors
        self.codes: list[str] = []
        self.arrays: dict[str, np.ndarray] = {}

    def fit(self, slots: dict[str, pl.Series]) -> CodeSpace:
        """Fit the PCA on the codes of `slots` (column name -> codes, nulls = empty slot)."""
        if self.code_vectors is None:
            raise ValueError(f"code columns {list(slots)} need a code_vectors callable (code -> embedding)")
        stacked = pl.concat([s.cast(pl.String).alias("code") for s in slots.values()]).drop_nulls()
        counts = stacked.value_counts(sort=False, name="n").sort("code")
        self.codes = counts["code"].to_list()
        weights = counts["n"].to_numpy().astype(np.float64)
        vectors = self.embed(self.codes)
        mean = (weights[:, None] * vectors).sum(0) / max(weights.sum(), 1.0)
        weighted = (vectors - mean) * np.sqrt(weights / max(weights.sum(), 1.0))[:, None]
        _, singular, right = np.linalg.svd(weighted, full_matrices=False)  # deterministic; signs fixed below
        components = np.zeros((vectors.shape[1], self.code_dims))
        kept = min(self.code_dims, right.shape[0])
        components[:, :kept] = right[:kept].T
        signs = np.sign(components[np.argmax(np.abs(components), axis=0), np.arange(self.code_dims)])
        components = components * np.where(signs == 0, 1.0, signs)
        variance = (singular[:kept] ** 2).sum() / self.code_dims
        self.arrays = {"mean": mean, "components": components / np.sqrt(variance) if variance > 1e-12 else components}
        self.arrays["table"] = self.project(vectors).astype(np.float32)
        index = {code: i for i, code in enumerate(self.codes)}
        for group in sorted({slot_group(name) for name in slots}):
            seen = pl.concat([s.cast(pl.String) for name, s in slots.items() if slot_group(name) == group]).drop_nulls()
            self.arrays[f"group::{group}"] = np.array(sorted(index[c] for c in seen.unique()), dtype=np.int64)
        return self

    def embed(self, codes: list[str]) -> np.ndarray:
        if self.code_vectors is None:
            raise ValueError(f"codes {codes[:5]} were not seen in training and no code_vectors callable is set")
        vectors = np.asarray(self.code_vectors(list(codes)), dtype=np.float64)
        if vectors.ndim != 2 or vectors.shape[0] != len(codes):
            raise ValueError(f"code_vectors returned shape {vectors.shape} for {len(codes)} codes")
        return vectors

    def project(self, vectors384: np.ndarray) -> np.ndarray:
        """Description embeddings (n, 384) -> the scaled PCA space (n, code_dims)."""
        if "components" not in self.arrays:
            raise ValueError("this transformer has no code columns")
        return (np.asarray(vectors384, dtype=np.float64) - self.arrays["mean"]) @ self.arrays["components"]

    def vectors_of(self, codes: list[str]) -> np.ndarray:
        """PCA vectors of `codes`: stored for training codes, embedded via `code_vectors` for the others."""
        index = (
            pl.Series(codes, dtype=pl.String)
            .replace_strict(self.codes, list(range(len(self.codes))), default=-1, return_dtype=pl.Int64)
            .to_numpy()
        )
        out = np.zeros((len(codes), self.code_dims), dtype=np.float32)
        out[index >= 0] = self.arrays["table"][index[index >= 0]]
        unseen = np.flatnonzero(index < 0)
        if unseen.size:
            new = sorted({codes[i] for i in unseen})
            projected = self.project(self.embed(new)).astype(np.float32)
            lookup = {code: projected[i] for i, code in enumerate(new)}
            out[unseen] = np.stack([lookup[codes[i]] for i in unseen])
        return out

    def codes_seen(self, group: str) -> list[str]:
        return [self.codes[i] for i in self.arrays[f"group::{group}"]]

    def nearest_indices(self, group: str, vectors: np.ndarray, present: np.ndarray) -> np.ndarray:
        """Index into `codes` of the nearest training code of `group` per present row (-1 where absent)."""
        candidates = self.arrays[f"group::{group}"]
        table = self.arrays["table"][candidates]
        half_norms = 0.5 * (table * table).sum(1)
        out = np.full(vectors.shape[0], -1, dtype=np.int64)
        rows = np.flatnonzero(present)
        for start in range(0, rows.size, 8192):  # argmax(q·c - |c|²/2) == nearest c, in bounded memory
            chunk = rows[start : start + 8192]
            scores = vectors[chunk].astype(np.float32) @ table.T - half_norms
            out[chunk] = candidates[np.argmax(scores, axis=1)]
        return out

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {_PREFIX + key: value for key, value in self.arrays.items()}

    @classmethod
    def from_arrays(cls, code_dims: int, codes: list[str], arrays: dict[str, np.ndarray],
                    code_vectors: CodeVectors | None = None) -> CodeSpace:
        space = cls(code_dims, code_vectors)
        space.codes = codes
        space.arrays = {key[len(_PREFIX):]: value for key, value in arrays.items() if key.startswith(_PREFIX)}
        return space

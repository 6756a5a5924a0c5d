"""The synthesizer protocol (DESIGN §6): what every registered `synthesizer.kind` offers the pipeline.

A kind fits on a table, samples any number of rows (optionally with exact counts per condition value, decoding
code slots through a `CodeDecoder` and drawing every random number from `seed`), saves itself as JSON +
state_dict arrays (never a pickle) and says which parameters it was built with. `registry.py` maps the spec's
`synthesizer.kind` to a class; the release pipeline talks to synthesizers only through this protocol.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import polars as pl


@runtime_checkable
class Synthesizer(Protocol):
    kind: ClassVar[str]

    def fit(self, train_df: pl.DataFrame, holdout_df: pl.DataFrame | None = None, progress=None) -> Any:
        """Fit on `train_df` (holding out rows for model selection when `holdout_df` is None)."""

    def sample(
        self, n: int, conditions: dict | None = None, code_decoder=None, seed: int | None = None, progress=None
    ) -> pl.DataFrame:
        """`n` rows; `conditions` = {condition value: exact row count}; same seed → same rows."""

    def save(self, directory: str | Path) -> Path:
        """Write the fitted synthesizer (a `synthesizer.json` naming its `kind`, plus its arrays)."""

    @classmethod
    def load(cls, directory: str | Path, code_vectors=None) -> Synthesizer:
        """Read what `save` wrote."""

    def params(self) -> dict:
        """JSON-ready parameters (kind, config, seed, condition column) for MLflow and the manifest."""

"""What training rows with a given condition value look like, as extra features of the GAN's condition vector.

The GAN is conditioned on the principal diagnosis. Its description embedding alone says what a code *reads*
like, not whom it occurs in: "dementia" and "anxiety" sit close in text space, so age was drawn as for
psychiatric codes (dementia at 16), and well-child codes got adult settings. The profile appends, per condition
value, its training distribution of the profiled columns (age decade, sex, claim type, payer), smoothed toward
the value's three-character category and then toward all rows, so a value seen a few times borrows from its
category and a coverage code never seen in training gets its category's (or the overall) profile.
Saved as JSON (values and their vectors), never pickled.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl

SMOOTHING = 10.0
AGE_EDGES = (0, 1, 5, 12, 18, 30, 40, 50, 65, 75, 85)  # age bands: newborn, child, ..., the old old
FILE = "condition_profile.json"


def _age_band(ages: pl.Series) -> pl.Series:
    edges = np.asarray(AGE_EDGES)
    values = ages.cast(pl.Float64).fill_null(-1).to_numpy()
    return pl.Series(np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 1))


class ConditionProfile:
    """value → profile vector; `encode(values)` gives the (n, width) block appended to the condition matrix."""

    def __init__(self, column: str, features: list[str], vectors: dict[str, list[float]]):
        self.column, self.features, self.vectors = column, features, vectors
        self._overall = np.asarray(vectors[""], dtype=np.float32)

    @classmethod
    def fit(cls, train: pl.DataFrame, column: str, categorical: tuple[str, ...], age: str | None = "age"):
        """Profiles of every value of `column` in `train`, of its categories, and overall (key "")."""
        blocks, features = [], []
        if age is not None and age in train.columns:
            bands = _age_band(train[age])
            blocks.append(np.eye(len(AGE_EDGES), dtype=np.float64)[bands.to_numpy()])
            features += [f"{age}>={edge}" for edge in AGE_EDGES]
        for name in categorical:
            if name not in train.columns:
                continue
            values = train[name].cast(pl.String).fill_null("∅")
            levels = sorted(values.unique().to_list())
            blocks.append((values.to_numpy()[:, None] == np.asarray(levels)[None, :]).astype(np.float64))
            features += [f"{name}={level}" for level in levels]
        matrix = np.hstack(blocks) if blocks else np.zeros((train.height, 0))
        keys = train[column].cast(pl.String).fill_null("")
        overall = matrix.mean(0) if train.height else np.zeros(matrix.shape[1])
        vectors: dict[str, list[float]] = {"": overall.tolist()}
        by_category = cls._smoothed(matrix, keys.str.slice(0, 3), lambda _: overall)
        vectors |= {f"cat:{k}": v.tolist() for k, v in by_category.items()}
        by_value = cls._smoothed(matrix, keys, lambda key: by_category.get(key[:3], overall))
        vectors |= {k: v.tolist() for k, v in by_value.items() if k}
        return cls(column, features, vectors)

    @staticmethod
    def _smoothed(matrix: np.ndarray, keys: pl.Series, parent) -> dict[str, np.ndarray]:
        frame = pl.DataFrame({"key": keys, "row": np.arange(len(keys))})
        out = {}
        for key, rows in frame.group_by("key").agg(pl.col("row")).iter_rows():
            rows = np.sort(np.asarray(rows))
            out[key] = (matrix[rows].sum(0) + SMOOTHING * parent(key)) / (len(rows) + SMOOTHING)
        return out

    @property
    def width(self) -> int:
        return len(self._overall)

    def vector(self, value: str | None) -> np.ndarray:
        if value and value in self.vectors:
            return np.asarray(self.vectors[value], dtype=np.float32)
        category = self.vectors.get(f"cat:{(value or '')[:3]}")
        return np.asarray(category, dtype=np.float32) if category is not None else self._overall

    def encode(self, values: pl.Series) -> np.ndarray:
        keys = values.cast(pl.String).fill_null("")
        distinct = keys.unique(maintain_order=True)
        table = np.stack([self.vector(v) for v in distinct.to_list()]) if distinct.len() else np.zeros((0, self.width))
        position = keys.replace_strict(distinct, pl.int_range(distinct.len(), eager=True), return_dtype=pl.Int64)
        return table[position.to_numpy()].astype(np.float32) if keys.len() else np.zeros((0, self.width), np.float32)

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / FILE
        path.write_text(json.dumps({"column": self.column, "features": self.features, "vectors": self.vectors}))
        return path

    @classmethod
    def load(cls, directory: str | Path) -> ConditionProfile | None:
        path = Path(directory) / FILE
        if not path.is_file():
            return None
        stored = json.loads(path.read_text())
        return cls(stored["column"], stored["features"], stored["vectors"])

"""Invertible table encoding kept apart from the models (CTGAN's split), with code slots as embedding vectors.

Layout of the encoded matrix, column by column in the fitted table's order (see `TableTransformer.segments`):
- numerical: `[z]` where z = Φ⁻¹(empirical CDF(x)) from stored quantiles (heavy tails come back heavy because the
  inverse interpolates the stored quantiles, densest in the tails), plus `[present]` when training had nulls.
  Integers come back rounded, polars `Date`/`Datetime` travel as days/microseconds since the epoch.
- categorical: one-hot over the training categories (most frequent first), plus a null category when training
  had nulls. Inverse = argmax (deterministic: diversity comes from the generator's noise). Categories beyond
  `max_categories` share one "rare" slot whose inverse draws a rare value by training frequency (seeded).
- icd10cm (diagnosis and procedure slots): `[present, pca_1..pca_d]`; the PCA of the 384-d description
  embeddings is fitted once, shared by every code slot, weighted by how often each code occurs.
  Inverse gives per slot the PCA vector + presence; a `CodeDecoder` turns them into codes (default: nearest code
  seen in training for that slot group, e.g. `dx` for dx_1..dx_10, by exact distance in PCA space).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
from scipy.special import ndtr, ndtri

from synth_ehr_assets.core.synth.code_space import CodeSpace, CodeVectors, slot_group

FORMAT_VERSION = 1
ColumnKind = Literal["numerical", "categorical", "icd10cm"]
COLUMN_KINDS = ("numerical", "categorical", "icd10cm")
CodeDecoder = Callable[[str, np.ndarray, np.ndarray, pl.DataFrame], "list[str | None] | np.ndarray"]
_PROBS = np.unique(np.concatenate([np.linspace(0, 1, 1001), [1e-5, 1e-4, 5e-4, 1 - 5e-4, 1 - 1e-4, 1 - 1e-5]]))
_P_EPS = 1e-5
_RARE = "__rare__"


class TransformerVersionError(ValueError):
    """A saved transformer was written by another format version."""


@dataclass(frozen=True)
class Segment:
    """A run of matrix columns belonging to one table column, with the activation a model should apply."""

    column: str
    start: int
    stop: int
    activation: Literal["linear", "softmax", "sigmoid"]


def _dtype_from_name(name: str) -> pl.DataType:
    if name.startswith("Datetime"):
        return pl.Datetime("us")
    if name.startswith(("Categorical", "Enum")):
        return pl.String()
    return getattr(pl, name)()


def _numeric_mode(dtype: pl.DataType) -> str:
    if dtype == pl.Date:
        return "date"
    if isinstance(dtype, pl.Datetime):
        return "datetime"
    if dtype == pl.Boolean or dtype.is_integer():
        return "int"
    if dtype.is_float() or dtype.is_decimal():
        return "float"
    raise ValueError(f"dtype {dtype} cannot be encoded as numerical")


def _as_float(series: pl.Series, mode: str) -> np.ndarray:
    if mode == "date":
        series = series.cast(pl.Int32)
    elif mode == "datetime":
        series = series.dt.epoch("us")
    return series.cast(pl.Float64).to_numpy().astype(np.float64)  # nulls -> nan


class TableTransformer:
    """Fit on a polars table, turn rows into a float32 matrix and back (see the module docstring for the layout)."""

    def __init__(
        self,
        column_kinds: dict[str, ColumnKind],
        code_vectors: CodeVectors | None = None,
        code_dims: int = 16,
        seed: int = 0,
        max_categories: int = 1000,
    ):
        unknown = {name: kind for name, kind in column_kinds.items() if kind not in COLUMN_KINDS}
        if unknown:
            raise ValueError(f"unknown column kind(s) {unknown}; expected one of {COLUMN_KINDS}")
        self.column_kinds = dict(column_kinds)
        self.code_vectors = code_vectors
        self.code_dims = code_dims
        self.seed = seed
        self.max_categories = max_categories
        self.columns: list[dict] = []  # per-column JSON-able spec, in table order
        self.arrays: dict[str, np.ndarray] = {}  # numeric quantiles
        self.code_space = CodeSpace(code_dims, code_vectors)
        self.segments: list[Segment] = []
        self.column_slices: dict[str, slice] = {}

    # ---------------------------------------------------------------- fit
    def fit(self, df: pl.DataFrame) -> TableTransformer:
        """Learn quantiles, categories and the code PCA from `df` (the training rows only)."""
        missing = [name for name in self.column_kinds if name not in df.columns]
        if missing:
            raise ValueError(f"columns {missing} given in column_kinds are not in the table")
        if df.height == 0:
            raise ValueError("cannot fit a transformer on an empty table")
        code_columns = [n for n in df.columns if self.column_kinds.get(n) == "icd10cm"]
        if code_columns:
            self.code_space = CodeSpace(self.code_dims, self.code_vectors).fit({c: df[c] for c in code_columns})
        self.columns = []
        for name in [n for n in df.columns if n in self.column_kinds]:
            kind, series = self.column_kinds[name], df[name]
            if kind == "icd10cm":
                self.columns.append({"name": name, "kind": kind, "dtype": str(series.dtype), "group": slot_group(name)})
            else:
                self.columns.append(getattr(self, f"_fit_{kind}")(name, series))
        self._layout()
        return self

    def _fit_numerical(self, name: str, series: pl.Series) -> dict:
        try:
            mode = _numeric_mode(series.dtype)
        except ValueError as error:
            raise ValueError(f"column {name!r}: {error}") from None
        values = _as_float(series, mode)
        finite = values[np.isfinite(values)]
        if finite.size:
            self.arrays[f"quantiles::{name}"] = np.quantile(finite, _PROBS)
        return {
            "name": name,
            "kind": "numerical",
            "dtype": str(series.dtype),
            "mode": mode,
            "has_values": bool(finite.size),
            "has_nulls": bool(finite.size < values.size),
        }

    def _fit_categorical(self, name: str, series: pl.Series) -> dict:
        counts = series.drop_nulls().value_counts(sort=True, name="n")
        counts = counts.sort(["n", name], descending=[True, False]) if counts.height else counts
        as_text = series.dtype == pl.Date or isinstance(series.dtype, (pl.Categorical, pl.Enum))
        values = counts[name].cast(pl.String).to_list() if as_text else counts[name].to_list()
        keep = self.max_categories
        return {"name": name, "kind": "categorical", "dtype": str(series.dtype), "categories": values[:keep],
                "rare": values[keep:], "rare_weights": counts["n"].to_list()[keep:],
                "has_nulls": bool(series.null_count())}

    def _layout(self) -> None:
        self.segments, self.column_slices, position = [], {}, 0
        for spec in self.columns:
            name, start = spec["name"], position
            if spec["kind"] == "numerical":
                parts = [("linear", 1)] if spec["has_values"] else []
                parts += [("sigmoid", 1)] if spec["has_nulls"] and spec["has_values"] else []
            elif spec["kind"] == "categorical":
                width = len(spec["categories"]) + bool(spec["rare"]) + spec["has_nulls"]
                parts = [("softmax", width)] if width else []
            else:
                parts = [("sigmoid", 1), ("linear", self.code_dims)]
            for activation, width in parts:
                self.segments.append(Segment(name, position, position + width, activation))
                position += width
            self.column_slices[name] = slice(start, position)
        self.output_dim = position

    # ---------------------------------------------------------------- transform
    @property
    def codes(self) -> list[str]:
        """Training codes of every code slot (the default decoder's candidates)."""
        return self.code_space.codes

    def code_pca_transform(self, vectors384: np.ndarray) -> np.ndarray:
        """Project description embeddings (n, 384) into the shared, scaled code PCA space (n, code_dims)."""
        return self.code_space.project(vectors384)

    def code_pca_vectors(self, codes: list[str]) -> np.ndarray:
        """PCA-space vectors of `codes` (training codes from the table, others embedded via `code_vectors`)."""
        return self.code_space.vectors_of(codes)

    def transform(self, df: pl.DataFrame) -> np.ndarray:
        """Encode `df` (same columns as at fit) into a float32 matrix of shape (rows, output_dim)."""
        if not self.columns:
            raise ValueError("transformer is not fitted")
        missing = [spec["name"] for spec in self.columns if spec["name"] not in df.columns]
        if missing:
            raise ValueError(f"table lacks fitted column(s) {missing}")
        matrix = np.zeros((df.height, self.output_dim), dtype=np.float32)
        for spec in self.columns:
            block = self.column_slices[spec["name"]]
            if block.stop > block.start:
                matrix[:, block] = getattr(self, f"_transform_{spec['kind']}")(spec, df[spec["name"]])
        return matrix

    def transform_column(self, name: str, values: pl.Series) -> np.ndarray:
        """Encode one fitted column alone: the block `transform` would write at `column_slices[name]`."""
        spec = next((s for s in self.columns if s["name"] == name), None)
        if spec is None:
            raise ValueError(f"column {name!r} is not a fitted column")
        block = self.column_slices[name]
        if block.stop == block.start:
            return np.zeros((values.len(), 0), dtype=np.float32)
        return getattr(self, f"_transform_{spec['kind']}")(spec, values).astype(np.float32)

    def column_dtype(self, name: str) -> pl.DataType:
        """The polars dtype a fitted column comes back with."""
        spec = next(s for s in self.columns if s["name"] == name)
        return pl.String() if spec["kind"] == "icd10cm" else _dtype_from_name(spec["dtype"])

    def _transform_numerical(self, spec: dict, series: pl.Series) -> np.ndarray:
        values = _as_float(series, spec["mode"])
        present = np.isfinite(values)
        quantiles = self.arrays[f"quantiles::{spec['name']}"]
        # Point masses (many equal quantiles) map to the middle of their probability run.
        unique, first, counts = np.unique(quantiles, return_index=True, return_counts=True)
        middle = (_PROBS[first] + _PROBS[first + counts - 1]) / 2
        probability = np.interp(np.where(present, values, unique[0]), unique, middle)
        z = np.where(present, ndtri(np.clip(probability, _P_EPS, 1 - _P_EPS)), 0.0)
        return np.column_stack([z, present]) if spec["has_nulls"] else z[:, None]

    def _transform_categorical(self, spec: dict, series: pl.Series) -> np.ndarray:
        as_text = spec["dtype"] == "Date" or spec["dtype"].startswith(("Categorical", "Enum"))
        values = series.cast(pl.String) if as_text else series
        labels = spec["categories"] + ([_RARE] if spec["rare"] else [])
        targets = list(range(len(spec["categories"])))
        mapping = dict(zip(spec["categories"], targets))
        mapping.update({value: len(spec["categories"]) for value in spec["rare"]})
        index = values.replace_strict(list(mapping), list(mapping.values()), default=-1, return_dtype=pl.Int64)
        index = index.set(values.is_null(), len(labels) if spec["has_nulls"] else -1).to_numpy()
        width = len(labels) + spec["has_nulls"]
        onehot = np.zeros((series.len(), width), dtype=np.float32)
        known = index >= 0  # unseen categories encode as an all-zero group
        onehot[np.flatnonzero(known), index[known]] = 1.0
        return onehot

    def _transform_icd10cm(self, spec: dict, series: pl.Series) -> np.ndarray:
        codes = series.cast(pl.String)
        present = codes.is_not_null().to_numpy()
        block = np.zeros((series.len(), 1 + self.code_dims), dtype=np.float32)
        block[:, 0] = present
        if present.any():
            block[present, 1:] = self.code_pca_vectors(codes.filter(codes.is_not_null()).to_list())
        return block

    # ---------------------------------------------------------------- inverse
    def inverse_transform(
        self,
        matrix: np.ndarray,
        code_decoder: CodeDecoder | None = None,
        seed: int | None = None,
        known: pl.DataFrame | None = None,
    ) -> pl.DataFrame:
        """Decode a matrix back into a table with the fitted columns, order and dtypes.

        Non-code columns are decoded first, then the code slots in table order, so that
        `code_decoder(slot_name, pca_vectors (n, code_dims), present_mask (n,), context) -> codes` can look at
        each row's other values: `context` holds the decoded non-code columns and the slots decoded so far (e.g.
        to pick only codes allowed for the row's age and sex). The default decoder picks the nearest training code
        of the slot's group. Columns of `known` (same row count) are taken as given instead of decoded, e.g. the
        condition each row was sampled for. `seed` drives rare-category draws. A decoder with a
        `category_mask(column, categories, context)` method may return (n, categories) booleans that restrict a
        categorical column to the categories a row may take (rows allowing none decode unrestricted), and one
        with `category_quota(column, categories, scores, context)` may return a category index per row (-1: decode as
        usual) chosen from the (n, categories) scores and the row's other non-code values (`context`, asked once
        they are all decoded), e.g. to give a planned share of rows one value, and one
        with `keep_rows(context)` may return the positions of the rows whose codes are decoded at all (the table
        then holds only those rows).
        """
        matrix = np.asarray(matrix, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[1] != self.output_dim:
            raise ValueError(f"matrix has shape {matrix.shape}, expected (n, {self.output_dim})")
        known = known if known is not None else pl.DataFrame()
        if known.width and known.height != matrix.shape[0]:
            raise ValueError(f"known columns have {known.height} rows, the matrix {matrix.shape[0]}")
        rng = np.random.default_rng(self.seed if seed is None else seed)
        decoded = {name: known[name] for name in known.columns}
        quotas = []
        for spec in self.columns:
            if spec["name"] in decoded or spec["kind"] == "icd10cm":
                continue
            block = matrix[:, self.column_slices[spec["name"]]]
            if spec["kind"] == "numerical":
                decoded[spec["name"]] = self._inverse_numerical(spec, block)
            else:
                mask = None
                if hasattr(code_decoder, "category_mask") and decoded:
                    mask = code_decoder.category_mask(spec["name"], spec["categories"], pl.DataFrame(list(decoded.values())))
                decoded[spec["name"]] = self._inverse_categorical(spec, block, rng, mask)
                if hasattr(code_decoder, "category_quota"):
                    quotas.append((spec, block, mask))
        for spec, block, mask in quotas:  # once every other column is decoded, so a quota can read the whole row
            others = pl.DataFrame([series for name, series in decoded.items() if name != spec["name"]])
            quota = partial(code_decoder.category_quota, spec["name"], spec["categories"], context=others)
            decoded[spec["name"]] = self._inverse_categorical(spec, block, rng, mask, quota)
        context = pl.DataFrame(list(decoded.values())) if decoded else pl.DataFrame(height=matrix.shape[0])
        keep = code_decoder.keep_rows(context) if hasattr(code_decoder, "keep_rows") else None
        if keep is not None:  # the decoder decodes codes only for these rows; the others are dropped
            matrix, context = matrix[keep], context[keep]
            decoded = {name: series.gather(keep) for name, series in decoded.items()}
        for spec in self.columns:
            if spec["kind"] != "icd10cm" or spec["name"] in decoded:
                continue
            block = matrix[:, self.column_slices[spec["name"]]]
            decoded[spec["name"]] = self._inverse_codes(spec, block, code_decoder, context)
            context = context.with_columns(decoded[spec["name"]])
        return pl.DataFrame([decoded[spec["name"]] for spec in self.columns])

    def _inverse_numerical(self, spec: dict, block: np.ndarray) -> pl.Series:
        name, n = spec["name"], block.shape[0]
        dtype = _dtype_from_name(spec["dtype"])
        if not spec["has_values"]:
            return pl.Series(name, [None] * n, dtype=dtype)
        values = np.interp(ndtr(block[:, 0].astype(np.float64)), _PROBS, self.arrays[f"quantiles::{spec['name']}"])
        if spec["mode"] != "float":
            values = np.rint(values)
        series = pl.Series(name, values)
        if spec["has_nulls"]:
            series = pl.Series(name, values).set(pl.Series(block[:, 1] < 0.5), None)
        if spec["mode"] == "date":
            return series.cast(pl.Int32).cast(pl.Date)
        if spec["mode"] == "datetime":
            return pl.from_epoch(series.cast(pl.Int64), time_unit="us").alias(name).cast(dtype)
        return series.cast(dtype)

    def _inverse_categorical(self, spec: dict, block: np.ndarray, rng: np.random.Generator,
                             mask: np.ndarray | None = None, quota=None) -> pl.Series:
        name, n = spec["name"], block.shape[0]
        if mask is not None and block.shape[1]:
            usable = mask.any(1)
            allowed = np.ones(block.shape, dtype=bool)  # the rare and null slots stay open
            allowed[:, : mask.shape[1]] = mask | ~usable[:, None]
            block = np.where(allowed, block, -np.inf)
        if quota is not None and block.shape[1]:
            chosen = quota(block[:, : len(spec["categories"])])  # a category index per row, -1: decoded as usual
            if chosen is not None:
                rows = np.flatnonzero(chosen >= 0)
                block = block.copy()
                block[rows] = -np.inf
                block[rows, chosen[rows]] = 0.0
        dtype = pl.String() if spec["dtype"] == "Date" else _dtype_from_name(spec["dtype"])
        table = pl.Series(name, spec["categories"] + [None] * (bool(spec["rare"]) + spec["has_nulls"]), dtype=dtype)
        if block.shape[1] == 0:
            series = pl.Series(name, [None] * n, dtype=dtype)
        else:
            series = table.gather(np.argmax(block, axis=1))
        if spec["rare"]:
            rare_rows = np.flatnonzero(np.argmax(block, axis=1) == len(spec["categories"]))
            weights = np.asarray(spec["rare_weights"], dtype=np.float64)
            picks = rng.choice(len(spec["rare"]), size=rare_rows.size, p=weights / weights.sum())
            series = series.scatter(rare_rows, pl.Series(spec["rare"], dtype=dtype).gather(picks))
        if spec["dtype"] == "Date":
            return series.cast(pl.Date)
        return series.cast(pl.Categorical) if spec["dtype"].startswith("Categorical") else series

    def _inverse_codes(
        self, spec: dict, block: np.ndarray, code_decoder: CodeDecoder | None, context: pl.DataFrame
    ) -> pl.Series:
        name = spec["name"]
        present = block[:, 0] > 0.5
        vectors = np.ascontiguousarray(block[:, 1:])
        if code_decoder is not None:
            codes = code_decoder(name, vectors, present, context)
            return pl.Series(name, codes, dtype=pl.String)
        index = self.nearest_code_indices(spec["group"], vectors, present)
        table = pl.Series(name, self.codes + [None], dtype=pl.String)
        return table.gather(np.where(index >= 0, index, len(self.codes)))

    def nearest_code_indices(self, group: str, vectors: np.ndarray, present: np.ndarray) -> np.ndarray:
        """Index into `codes` of the nearest training code of `group` per present row (-1 where absent)."""
        return self.code_space.nearest_indices(group, vectors, present)

    def nearest_code_decoder(
        self, slot_name: str, vectors: np.ndarray, present: np.ndarray, context: pl.DataFrame | None = None
    ) -> list[str | None]:
        """Default `CodeDecoder`: nearest code seen in training for the slot's group (exact, in PCA space)."""
        index = self.nearest_code_indices(slot_group(slot_name), vectors, present)
        return [self.codes[i] if i >= 0 else None for i in index]

    def codes_seen(self, group: str) -> list[str]:
        """Training codes of a slot group (`dx`, `px`, or a single column's group)."""
        return self.code_space.codes_seen(group)

    # ---------------------------------------------------------------- persistence
    def save(self, directory: str | Path) -> Path:
        """Write `transformer.json` + `transformer.npz` (no pickle) into `directory`."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        config = {
            "format_version": FORMAT_VERSION,
            "column_kinds": self.column_kinds,
            "code_dims": self.code_dims,
            "seed": self.seed,
            "max_categories": self.max_categories,
            "columns": self.columns,
            "codes": self.codes,
        }
        (directory / "transformer.json").write_text(json.dumps(config, indent=1))
        np.savez(directory / "transformer.npz", **self.arrays, **self.code_space.to_arrays())
        return directory

    @classmethod
    def load(cls, directory: str | Path, code_vectors: CodeVectors | None = None) -> TableTransformer:
        """Read a transformer written by `save`; fails clearly on another format version."""
        path = Path(directory) / "transformer.json"
        config = json.loads(path.read_text())
        version = config.get("format_version")
        if version != FORMAT_VERSION:
            raise TransformerVersionError(
                f"{path} has transformer format_version {version}, this synth-ehr reads {FORMAT_VERSION}; refit it"
            )
        transformer = cls(
            config["column_kinds"], code_vectors, config["code_dims"], config["seed"], config["max_categories"]
        )
        transformer.columns = config["columns"]
        with np.load(Path(directory) / "transformer.npz", allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in stored.files}
        transformer.arrays = {key: value for key, value in arrays.items() if key.startswith("quantiles::")}
        transformer.code_space = CodeSpace.from_arrays(config["code_dims"], config["codes"], arrays, code_vectors)
        transformer._layout()
        return transformer

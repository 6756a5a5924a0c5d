"""Transformer + autoencoder + latent GAN composed into one synthesizer, also usable stage by stage.

Stages (one Dagster asset each): `encode_features` (fit the transformer on the train split, encode train and
holdout) -> `fit_feature_autoencoder` -> `fit_latent_gan` -> `sample_rows`. `TableSynthesizer` calls the same
functions in order, so the pipeline and the CLI share one code path.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from synth_ehr_assets.core.synth.autoencoder import FeatureAutoencoder, Progress, train_autoencoder
from synth_ehr_assets.core.synth.config import SynthesizerConfig
from synth_ehr_assets.core.synth.gan import LatentGenerator, MemorisationProbe, train_gan
from synth_ehr_assets.core.synth.transformer import CodeDecoder, CodeVectors, ColumnKind, TableTransformer

FORMAT_VERSION = 1


class SynthesizerVersionError(ValueError):
    """A saved synthesizer was written by another format version."""


@dataclass
class EncodedFeatures:
    """The fitted transformer plus the encoded train/holdout matrices and their row numbers in the source table."""

    transformer: TableTransformer
    train: np.ndarray
    holdout: np.ndarray
    train_rows: np.ndarray
    holdout_rows: np.ndarray
    condition_extra: np.ndarray | None = None  # extra condition features of the train rows (ConditionProfile)
    validation: np.ndarray | None = None  # rows the GAN's model selection probes; None = it probes the holdout
    validation_rows: np.ndarray | None = None

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        self.transformer.save(directory / "transformer")
        extra = {} if self.condition_extra is None else {"condition_extra": self.condition_extra}
        if self.validation is not None:
            extra |= {"validation": self.validation, "validation_rows": self.validation_rows}
        np.savez(
            directory / "split.npz",
            train=self.train,
            holdout=self.holdout,
            train_rows=self.train_rows,
            holdout_rows=self.holdout_rows,
            **extra,
        )
        return directory

    @classmethod
    def load(cls, directory: str | Path, code_vectors: CodeVectors | None = None) -> EncodedFeatures:
        directory = Path(directory)
        transformer = TableTransformer.load(directory / "transformer", code_vectors)
        with np.load(directory / "split.npz", allow_pickle=False) as split:
            extra = split["condition_extra"] if "condition_extra" in split.files else None
            validation = (split["validation"], split["validation_rows"]) if "validation" in split.files else (None, None)
            return cls(
                transformer, split["train"], split["holdout"], split["train_rows"], split["holdout_rows"], extra,
                *validation,
            )


def split_rows(
    n: int, holdout_fraction: float, seed: int, groups: pl.Series | np.ndarray | None = None,
    forced_train: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train/holdout split of row numbers 0..n-1 (both sorted; holdout has at least one row when n > 1).

    With `groups` (e.g. patient ids, one per row) whole groups are held out, in seeded order, until the holdout
    reaches its share of rows, so no patient has claims on both sides. Rows flagged in `forced_train` (planted
    canaries) and their groups always stay in train.
    """
    rng = np.random.default_rng(seed)
    forced = np.zeros(n, dtype=bool) if forced_train is None else np.asarray(forced_train, dtype=bool)
    target = int(round(n * holdout_fraction)) if n > 1 else 0
    target = min(max(target, 1 if n > 1 else 0), n - 1) if n > 1 else 0
    if groups is not None:
        group_of_row = pl.Series(groups).cast(pl.String).rank("dense").cast(pl.Int64).to_numpy() - 1
        if group_of_row.size != n:
            raise ValueError(f"groups has {group_of_row.size} values for {n} rows")
        sizes = np.bincount(group_of_row)
        if sizes.size > 1:
            order = rng.permutation(sizes.size)
            order = order[~np.isin(order, np.unique(group_of_row[forced]))]
            taken = int(np.searchsorted(np.cumsum(sizes[order]), target)) + 1
            taken = min(taken, sizes.size - 1)  # at least one group stays in train
            holdout = np.isin(group_of_row, order[:taken])
            return np.flatnonzero(~holdout), np.flatnonzero(holdout)
    order = rng.permutation(np.flatnonzero(~forced))  # the same draw as permutation(n) when nothing is forced
    holdout = np.sort(order[:target])
    return np.setdiff1d(np.arange(n), holdout), holdout


def split_three(
    n: int, config: SynthesizerConfig, seed: int, groups: pl.Series | np.ndarray | None = None,
    forced_train: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, validation, holdout) row numbers: the holdout as `split_rows` draws it, then `validation_fraction`
    of all rows carved from the rest the same way (seed + 1; by group when grouped); forced rows stay in train."""
    train, holdout = split_rows(n, config.holdout_fraction, seed, groups, forced_train)
    if config.validation_fraction == 0 or len(train) < 4:
        return train, np.array([], dtype=np.int64), holdout
    share = config.validation_fraction / (1 - config.holdout_fraction)
    sub_groups = None if groups is None else pl.Series(groups)[train]
    sub_forced = None if forced_train is None else np.asarray(forced_train, dtype=bool)[train]
    kept, validation = split_rows(len(train), share, seed + 1, sub_groups, sub_forced)
    return train[kept], train[validation], holdout


def encode_features(
    table: pl.DataFrame,
    column_kinds: dict[str, ColumnKind],
    config: SynthesizerConfig,
    seed: int,
    code_vectors: CodeVectors | None = None,
    holdout: pl.DataFrame | None = None,
    groups: pl.Series | None = None,
    forced_train: np.ndarray | None = None,
) -> EncodedFeatures:
    """Split `table` (unless a `holdout` table is given; by `groups` when given, see `split_rows`), fit the
    transformer on train rows, encode both parts."""
    validation_rows = np.array([], dtype=np.int64)
    if holdout is None:
        train_rows, validation_rows, holdout_rows = split_three(table.height, config, seed, groups, forced_train)
        train, holdout = table[train_rows], table[holdout_rows]
    else:
        train_rows, holdout_rows = np.arange(table.height), np.arange(holdout.height)
        train = table
    transformer = TableTransformer(column_kinds, code_vectors, config.code_dims, seed).fit(train)
    validation = transformer.transform(table[validation_rows]) if len(validation_rows) else None
    return EncodedFeatures(
        transformer, transformer.transform(train), transformer.transform(holdout), train_rows, holdout_rows,
        validation=validation, validation_rows=validation_rows if validation is not None else None,
    )


def fit_feature_autoencoder(
    features: EncodedFeatures, config: SynthesizerConfig, seed: int, progress: Progress | None = None
) -> tuple[FeatureAutoencoder, dict]:
    """Train the autoencoder on the encoded train rows."""
    return train_autoencoder(features.train, features.transformer.segments, config, seed, progress)


def fit_latent_gan(
    features: EncodedFeatures,
    autoencoder: FeatureAutoencoder,
    config: SynthesizerConfig,
    seed: int,
    condition_column: str | None = None,
    progress: Progress | None = None,
) -> tuple[LatentGenerator, dict]:
    """Train the GAN on train latents, conditioned on `condition_column`'s encoding, probing train vs the validation
    rows (the holdout when there are none), so the evaluation holdout never chooses the checkpoint."""
    conditions = None
    if condition_column is not None:
        conditions = features.train[:, features.transformer.column_slices[condition_column]]
        if features.condition_extra is not None:
            conditions = np.hstack([conditions, features.condition_extra])
    reference = features.holdout if features.validation is None else features.validation
    probe = MemorisationProbe(features.train, reference, project=autoencoder.decode)
    return train_gan(autoencoder.encode(features.train), conditions, config, seed, progress, memorisation_probe=probe)


@dataclass
class ConditionPool:
    """Training distribution of the condition column: values (None = missing) and their counts."""

    values: list
    weights: list[int]

    @classmethod
    def from_series(cls, series: pl.Series) -> ConditionPool:
        counts = series.value_counts(sort=False, name="n").sort(series.name, nulls_last=True)
        return cls(counts[series.name].to_list(), counts["n"].to_list())


def sample_rows(
    transformer: TableTransformer,
    autoencoder: FeatureAutoencoder,
    generator: LatentGenerator,
    n: int,
    seed: int,
    condition_column: str | None = None,
    condition_pool: ConditionPool | None = None,
    conditions: dict | None = None,
    code_decoder: CodeDecoder | None = None,
    batch_size: int = 131_072,
    progress: Progress | None = None,
    condition_profile=None,
) -> pl.DataFrame:
    """Generate `n` rows. `conditions` = {value: rows}: exactly that many rows are generated for (and carry)
    `condition_column` = value; the other rows draw their value from `condition_pool` (the training
    distribution) the same way. `condition_profile` (a fitted `ConditionProfile`) appends each value's profile
    to its condition vector, as at training. Same seed -> same table."""
    conditions = {k: int(v) for k, v in (conditions or {}).items() if int(v) > 0}
    if conditions and condition_column is None:
        raise ValueError("conditions were given but the synthesizer was fitted without a condition_column")
    if sum(conditions.values()) > n:
        raise ValueError(f"conditions ask for {sum(conditions.values())} rows but only {n} are sampled")
    rng = np.random.default_rng(seed)
    requested = [value for value, count in conditions.items() for _ in range(count)]
    values = requested
    if condition_column is not None:
        pool_weights = np.asarray(condition_pool.weights, dtype=np.float64)
        drawn = rng.choice(len(condition_pool.values), size=n - len(requested), p=pool_weights / pool_weights.sum())
        values = requested + [condition_pool.values[i] for i in drawn]
    order = rng.permutation(n)  # row order[i] carries values[i]: requested rows are spread over the table
    frames, batch_seeds = [], np.random.SeedSequence(seed).generate_state(max(1, -(-n // batch_size)))
    dtype = transformer.column_dtype(condition_column) if condition_column else None
    permuted = [values[i] for i in np.argsort(order)] if condition_column else None
    for batch, start in enumerate(range(0, n, batch_size)):
        stop = min(n, start + batch_size)
        condition_matrix = batch_values = None
        if condition_column is not None:
            batch_values = pl.Series(condition_column, permuted[start:stop], dtype=dtype)
            condition_matrix = transformer.transform_column(condition_column, batch_values)
            if transformer.column_kinds[condition_column] == "categorical":
                _check_known_conditions(condition_column, batch_values, condition_matrix)
            if condition_profile is not None:
                condition_matrix = np.hstack([condition_matrix, condition_profile.encode(batch_values)])
        latents = generator.sample(stop - start, condition_matrix, seed=int(batch_seeds[batch]), batch_size=batch_size)
        matrix = autoencoder.decode(latents, batch_size, seed=int(batch_seeds[batch]))
        # The generator was asked for this condition value: the row carries it exactly, it is not decoded.
        known = batch_values.to_frame() if condition_column is not None else None
        frame = transformer.inverse_transform(matrix, code_decoder, int(batch_seeds[batch]), known)
        frames.append(frame)
        if progress:
            progress(stop, n)
    if not frames:
        return transformer.inverse_transform(np.zeros((0, transformer.output_dim)))
    return pl.concat(frames, rechunk=True)


def _check_known_conditions(column: str, values: pl.Series, matrix: np.ndarray) -> None:
    """A categorical condition value never seen in training encodes as an all-zero group: refuse it by name."""
    unknown = values.filter(pl.Series(matrix.sum(1) == 0) & values.is_not_null())
    if unknown.len():
        raise ValueError(
            f"condition value(s) {unknown.unique().to_list()[:5]} of {column!r} were never seen in training"
        )


@dataclass
class FitReport:
    """What `TableSynthesizer.fit` did, with timings; `to_dict()` is JSON-ready for MLflow / asset metadata."""

    train_rows: int
    holdout_rows: int
    encoded_dim: int
    encode_seconds: float
    autoencoder: dict = field(default_factory=dict)
    gan: dict = field(default_factory=dict)
    seconds: float = 0.0
    validation_rows: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


class TableSynthesizer:
    """Fit on a table, sample any number of rows (optionally with exact condition counts), save/load as JSON+npz.

    The `latent_gan` kind of the registry (`base.Synthesizer`): transformer + feature autoencoder + latent GAN."""

    kind = "latent_gan"

    def __init__(
        self,
        column_kinds: dict[str, ColumnKind],
        config: SynthesizerConfig | None = None,
        seed: int = 0,
        code_vectors: CodeVectors | None = None,
        condition_column: str | None = None,
    ):
        if condition_column is not None and column_kinds.get(condition_column) not in ("categorical", "icd10cm"):
            raise ValueError(f"condition_column {condition_column!r} must be a categorical or icd10cm column")
        self.column_kinds, self.config, self.seed = dict(column_kinds), config or SynthesizerConfig(), seed
        self.code_vectors, self.condition_column = code_vectors, condition_column
        self.transformer: TableTransformer | None = None
        self.autoencoder: FeatureAutoencoder | None = None
        self.generator: LatentGenerator | None = None
        self.condition_pool: ConditionPool | None = None
        self.condition_profile = None  # a ConditionProfile when the stages were fitted with one

    def fit(
        self, train_df: pl.DataFrame, holdout_df: pl.DataFrame | None = None, progress: Progress | None = None
    ) -> FitReport:
        """Encode, train the autoencoder, then the GAN; `progress(done, total)` counts epochs of both models."""
        started = time.perf_counter()
        features = encode_features(train_df, self.column_kinds, self.config, self.seed, self.code_vectors, holdout_df)
        encode_seconds = time.perf_counter() - started
        total = self.config.autoencoder_epochs + self.config.gan_epochs
        ae_progress = (lambda done, _, **figures: progress(done, total, **figures)) if progress else None
        self.autoencoder, ae_report = fit_feature_autoencoder(features, self.config, self.seed, ae_progress)
        offset = self.config.autoencoder_epochs
        gan_progress = (lambda done, _, **figures: progress(offset + done, total, **figures)) if progress else None
        self.generator, gan_report = fit_latent_gan(
            features, self.autoencoder, self.config, self.seed, self.condition_column, gan_progress
        )
        self.transformer = features.transformer
        if self.condition_column is not None:
            self.condition_pool = ConditionPool.from_series(train_df[features.train_rows][self.condition_column])
        return FitReport(
            len(features.train_rows),
            len(features.holdout_rows),
            features.transformer.output_dim,
            encode_seconds,
            ae_report,
            gan_report,
            time.perf_counter() - started,
            0 if features.validation_rows is None else len(features.validation_rows),
        )

    def sample(
        self,
        n: int,
        conditions: dict | None = None,
        code_decoder: CodeDecoder | None = None,
        seed: int | None = None,
        progress: Progress | None = None,
    ) -> pl.DataFrame:
        """`n` synthetic rows; `conditions` = {condition value: exact row count}."""
        if self.generator is None:
            raise ValueError("the synthesizer is not fitted")
        return sample_rows(
            self.transformer,
            self.autoencoder,
            self.generator,
            n,
            self.seed if seed is None else seed,
            self.condition_column,
            self.condition_pool,
            conditions,
            code_decoder,
            self.config.sample_batch_size,
            progress,
            self.condition_profile,
        )

    def params(self) -> dict:
        """Kind, hyperparameters, seed and condition column, JSON-ready."""
        return {
            "kind": self.kind,
            "config": self.config.model_dump(mode="json"),
            "seed": self.seed,
            "condition_column": self.condition_column,
            "condition_profile": self.condition_profile.features if self.condition_profile else None,
        }

    def save(self, directory: str | Path) -> Path:
        """Write `synthesizer.json`, `transformer/`, `autoencoder.{json,npz}`, `generator.{json,npz}`."""
        if self.generator is None:
            raise ValueError("the synthesizer is not fitted")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.transformer.save(directory / "transformer")
        self.autoencoder.save(directory)
        self.generator.save(directory)
        if self.condition_profile is not None:
            self.condition_profile.save(directory)
        manifest = {
            "format_version": FORMAT_VERSION,
            "kind": self.kind,
            "column_kinds": self.column_kinds,
            "config": self.config.model_dump(mode="json"),
            "seed": self.seed,
            "condition_column": self.condition_column,
            "condition_pool": asdict(self.condition_pool) if self.condition_pool else None,
        }
        (directory / "synthesizer.json").write_text(json.dumps(manifest, indent=1, default=str))
        return directory

    @classmethod
    def load(cls, directory: str | Path, code_vectors: CodeVectors | None = None) -> TableSynthesizer:
        """Read a synthesizer written by `save`; another format version fails with a clear message."""
        directory = Path(directory)
        manifest = json.loads((directory / "synthesizer.json").read_text())
        if manifest.get("format_version") != FORMAT_VERSION:
            raise SynthesizerVersionError(
                f"{directory / 'synthesizer.json'} has format_version {manifest.get('format_version')}, "
                f"this synth-ehr reads {FORMAT_VERSION}; refit the synthesizer"
            )
        synthesizer = cls(
            manifest["column_kinds"],
            SynthesizerConfig(**manifest["config"]),
            manifest["seed"],
            code_vectors,
            manifest["condition_column"],
        )
        synthesizer.transformer = TableTransformer.load(directory / "transformer", code_vectors)
        synthesizer.autoencoder = FeatureAutoencoder.load(directory)
        synthesizer.generator = LatentGenerator.load(directory)
        pool = manifest["condition_pool"]
        synthesizer.condition_pool = ConditionPool(**pool) if pool else None
        from synth_ehr_assets.core.synth.condition_profile import ConditionProfile

        synthesizer.condition_profile = ConditionProfile.load(directory)
        return synthesizer

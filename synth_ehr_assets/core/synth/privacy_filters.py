"""Privacy filters applied to synthetic claims before release (DESIGN §6 safeguards).

- `generalise`: quasi-identifiers coarsened per the spec (age to N-year bands, service date to the month).
- `exact_copy_mask`: rows equal to a source row on the quasi-identifiers + the order-free dx and px code sets,
  compared after generalising both sides the same way (so a banded age still matches its source person).
- `near_duplicate_mask`: rows whose RMS feature distance (Euclidean / √dim in the fitted transformer's encoded
  space) to the closest training row is below a threshold.
- `mint_ids`: new claim and patient ids drawn from the release seed, never equal to a source id.
"""

from __future__ import annotations

import functools

import numpy as np
import polars as pl

from synth_ehr_assets.core.schema import DX_COLUMNS, PX_COLUMNS, QUASI_IDENTIFIERS
from synth_ehr_assets.core.spec import PrivacyConfig

ID_DIGITS = 14
_CHUNK_ROWS = 4096


def generalise(claims: pl.DataFrame, privacy: PrivacyConfig) -> pl.DataFrame:
    """Coarsen quasi-identifiers: age to the lower bound of its band, service date to the 1st of the month."""
    exprs = []
    if privacy.age_band_years > 1:
        band = privacy.age_band_years
        exprs.append(((pl.col("age") // band) * band).cast(claims.schema["age"]).alias("age"))
    if privacy.date_granularity == "month":
        exprs.append(pl.col("service_date").dt.truncate("1mo").alias("service_date"))
    return claims.with_columns(exprs) if exprs else claims


def _code_set_hash(columns: list[str]) -> pl.Expr:
    """Order-free hash of the distinct codes in `columns`: XOR of the hashes of each code's first occurrence."""
    terms = []
    for position, column in enumerate(columns):
        repeat = pl.any_horizontal([pl.col(column) == pl.col(e) for e in columns[:position]]) if position else None
        first = (
            pl.col(column).is_not_null() if repeat is None else pl.col(column).is_not_null() & ~repeat.fill_null(False)
        )
        terms.append(pl.when(first).then(pl.col(column).hash(seed=0)).otherwise(pl.lit(0, dtype=pl.UInt64)))
    return functools.reduce(lambda left, right: left.xor(right), terms)


def copy_keys(claims: pl.DataFrame) -> pl.DataFrame:
    """The exact-match key of each row: its quasi-identifiers plus order-free hashes of its dx and px code sets."""
    return claims.select(
        *QUASI_IDENTIFIERS, _code_set_hash(DX_COLUMNS).alias("dx_set"), _code_set_hash(PX_COLUMNS).alias("px_set")
    )


def copy_mask(claims: pl.DataFrame, source_keys: pl.DataFrame) -> pl.Series:
    """True for each row whose `copy_keys` appear among `source_keys` (already generalised like `claims`)."""
    keyed = copy_keys(claims).with_row_index("_row")
    hits = keyed.join(source_keys, on=list(source_keys.columns), how="semi", nulls_equal=True)["_row"]
    return pl.Series("exact_copy", np.isin(np.arange(claims.height), hits.to_numpy()))


def exact_copy_mask(synthetic: pl.DataFrame, source: pl.DataFrame, privacy: PrivacyConfig) -> pl.Series:
    """True for each synthetic row equal to some source row on quasi-identifiers + dx/px code sets, compared
    after generalising both sides (XOR-of-hash sets: a false match needs a 64-bit collision)."""
    source_keys = copy_keys(generalise(source, privacy)).unique()
    return copy_mask(generalise(synthetic, privacy), source_keys)


def nearest_distances(queries: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """RMS distance (Euclidean / √dim) of each query row to its closest reference row, in bounded memory."""
    import torch

    queries = np.ascontiguousarray(queries, dtype=np.float32)
    reference = torch.from_numpy(np.ascontiguousarray(reference, dtype=np.float32))
    if queries.ndim != 2 or reference.ndim != 2 or queries.shape[1] != reference.shape[1]:
        raise ValueError(f"feature matrices disagree: queries {queries.shape}, reference {tuple(reference.shape)}")
    if reference.shape[0] == 0:
        raise ValueError("no reference rows to compare against")
    out = np.empty(len(queries), dtype=np.float64)
    with torch.inference_mode():
        for start in range(0, len(queries), _CHUNK_ROWS):
            block = torch.from_numpy(queries[start : start + _CHUNK_ROWS])
            out[start : start + len(block)] = torch.cdist(block, reference).min(dim=1).values.double().numpy()
    return out / np.sqrt(max(queries.shape[1], 1))


def near_duplicate_mask(synthetic_features: np.ndarray, train_features: np.ndarray, threshold: float) -> np.ndarray:
    """True where a synthetic row lies closer than `threshold` (RMS distance) to a training row; all False at 0."""
    if threshold <= 0:
        return np.zeros(len(synthetic_features), dtype=bool)
    return nearest_distances(synthetic_features, train_features) < threshold


def mint_ids(count: int, prefix: str, rng: np.random.Generator, taken: pl.Series | None = None) -> pl.Series:
    """`count` distinct random ids `<prefix><ID_DIGITS digits>` that collide with nothing in `taken`."""
    taken = (taken if taken is not None else pl.Series([], dtype=pl.String)).drop_nulls().cast(pl.String)
    chosen = pl.Series([], dtype=pl.String)
    while chosen.len() < count:
        draws = pl.Series(rng.integers(0, 10**ID_DIGITS, size=count - chosen.len(), dtype=np.int64))
        fresh = prefix + draws.cast(pl.String).str.zfill(ID_DIGITS)
        fresh = fresh.filter(~fresh.is_in(taken.implode()) & ~fresh.is_in(chosen.implode()) & fresh.is_first_distinct())
        chosen = pl.concat([chosen, fresh])
    return chosen.alias("id")

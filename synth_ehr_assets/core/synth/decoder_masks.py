"""Hard masks of the calibrated code decoder beyond the row's age/sex/setting group (`code_mapper`): which codes of
a slot's pool a decoded row may carry. Each mask reads the rows' context once per slot (`row_state`) and answers
per chunk of rows from numpy arrays alone (`allowed`), so decoding a slot costs a fixed number of polars calls
however many chunks it takes.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from synth_ehr_assets.core import schema

AGE_EVIDENCE = 8  # training claims a diagnosis needs before the decades it was never seen at are ruled out


class SecondaryAgeSupport:
    """Secondary diagnoses only at age decades training saw them at (any slot), for codes with `AGE_EVIDENCE`
    claims: alcohol dependence on a newborn's claim, or dementia at 20, has no support however the prior smooths."""

    decades = 13

    def __init__(self, pool: list[str], train_claims: pl.DataFrame):
        position = {code: i for i, code in enumerate(pool)}
        long = pl.concat([
            train_claims.select(pl.col(c).cast(pl.String).alias("code"), (pl.col("age") // 10).cast(pl.Int64).alias("decade"))
            for c in schema.DX_COLUMNS if c in train_claims.columns
        ]).drop_nulls().filter(pl.col("code").is_in(pool))
        self.seen = np.zeros((self.decades, len(pool)), dtype=bool)
        pairs = long.unique()
        self.seen[pairs["decade"].clip(0, self.decades - 1).to_numpy(),
                  pairs["code"].replace_strict(position, return_dtype=pl.Int64).to_numpy()] = True
        counts = long.group_by("code").agg(n=pl.len())
        thin = np.ones(len(pool), dtype=bool)
        thin[counts.filter(pl.col("n") >= AGE_EVIDENCE)["code"].replace_strict(position, return_dtype=pl.Int64).to_numpy()] = False
        self.seen[:, thin] = True  # too few claims to rule any age out

    def row_state(self, rows: pl.DataFrame) -> np.ndarray | None:
        """Each row's age decade (-1: unknown age, nothing ruled out); None when the rows carry no age."""
        if "age" not in rows.columns:
            return None
        decade = (rows["age"].cast(pl.Float64).fill_null(-10) // 10).to_numpy()
        return np.where(decade >= 0, np.clip(decade, 0, self.decades - 1), -1).astype(np.int64)

    def allowed(self, state: np.ndarray | None, chunk: slice) -> np.ndarray | None:
        if state is None:
            return None
        decade = state[chunk]
        allowed = self.seen[np.maximum(decade, 0)]
        allowed[decade < 0] = True
        return allowed


class ProcedureRules:
    """Procedures a row may carry beyond its setting: the age/sex band of the code (`edits_procedures`) and, unless
    codes are widened, a procedure billed in training with the row's principal category (`px_dx_unsupported`)."""

    def __init__(self, pool: list[str], pairs: pl.DataFrame | None):
        """`pairs`: the (px, category) pairs training supports (`TrainingSupport.px_dx`); None when widened."""
        from synth_ehr_assets.core.synth.edits_procedures import ADULT_MAX, _band_table

        table = pl.DataFrame({"code": pool}).join(_band_table(tuple(pool)), on="code", how="left", maintain_order="left")
        self.min_age = table["min_age"].fill_null(0).to_numpy()
        self.max_age = table["max_age"].fill_null(ADULT_MAX).to_numpy()
        self.sex = table["band_sex"].fill_null("").to_numpy()
        self.categories: dict[str, int] = {}  # principal category → row of `supported`; other rows: the last
        self.supported = np.ones((1, len(pool)), dtype=bool)
        if pairs is not None:
            position = {code: i for i, code in enumerate(pool)}
            grouped = pairs.group_by("category").agg("px").sort("category")
            self.supported = np.zeros((grouped.height + 1, len(pool)), dtype=bool)
            self.supported[-1] = True
            for row, (category, codes) in enumerate(grouped.iter_rows()):
                self.categories[category] = row
                self.supported[row, [position[c] for c in codes if c in position]] = True

    def row_state(self, rows: pl.DataFrame) -> dict:
        """Each row's age, sex and principal category row of `supported`."""
        state = {}
        if "age" in rows.columns and "sex" in rows.columns:
            state["age"] = rows["age"].cast(pl.Float64).fill_null(-1).to_numpy()
            state["sex"] = rows["sex"].cast(pl.String).fill_null("").to_numpy()
        categories = rows["dx_1"].cast(pl.String).str.slice(0, 3)
        state["category"] = categories.replace_strict(self.categories, default=len(self.supported) - 1,
                                                      return_dtype=pl.Int64).to_numpy()
        return state

    def allowed(self, state: dict, chunk: slice) -> np.ndarray:
        allowed = self.supported[state["category"][chunk]]
        if "age" in state:
            age, sex = state["age"][chunk, None], state["sex"][chunk, None]
            allowed &= (age >= self.min_age[None, :]) & (age <= self.max_age[None, :])
            allowed &= (self.sex[None, :] == "") | (self.sex[None, :] == sex)
        return allowed

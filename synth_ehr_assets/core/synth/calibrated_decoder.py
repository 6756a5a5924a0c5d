"""Calibrated code decoding (DESIGN §6): the code of a secondary diagnosis or procedure slot is drawn from a
posterior over the slot's admissible codes, never taken as the argmax nearest code.

    P(code | row, generated vector v) ∝ P(code | principal, setting) · lift(code | codes already on the claim)
                                         · exp(-|v - e(code)|² / 2σ²)

The prior and the lift come from the training claims (`code_prior`); the likelihood says how well a code explains
the vector the GAN generated for the slot, in the transformer's PCA space. σ is calibrated on the training rows
themselves (`calibrate_sigma`): the spread of the decoded slot vectors around the true code's vector when training
rows go through the autoencoder, widened by how far GAN output sits from the codes. The argmax nearest code
(`CodeMapper`) turned a few codes into hubs, because blurred generated vectors fall nearest to the same handful of
codes (a rare Huntington's code on a fifth of all claims); drawing from the posterior gives every code the share of
claims its prior and likelihood give it. Admissibility (age/sex edits, setting) and the ban on repeating a code on
one claim are hard masks.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from synth_ehr_assets.core import schema
from synth_ehr_assets.core.synth.code_mapper import CodeMapper
from synth_ehr_assets.core.synth.code_prior import CONTEXT_COLUMNS, CodePrior, ContextLift, PairLift, secondary_columns

CHUNK_CELLS = 1 << 22  # rows × codes scored at once
DEFAULT_SIGMA = 1.0
# The lifts of every code already on the claim are summed as if each said something new (naive Bayes), but
# comorbidities come in correlated clusters: at full weight a cluster overcounts (demo: COPD with acute infection,
# J44.0, on 34% of pneumonia claims against training's 12%, 2.8× over-represented); 0.8 keeps co-occurrence R²
# within 0.02 of full weight and brings the largest over-representation to 1.9×.
PAIR_WEIGHT = 0.8


class CalibratedCodeMapper(CodeMapper):
    """`CodeDecoder` sampling each secondary / procedure code from its posterior (module docstring); the
    principal code is carried as sampled (the GAN's condition)."""

    def __init__(self, transformer, train_claims: pl.DataFrame, code_index=None, widen: bool = False,
                 seed: int = 0, sigma: float | None = None, pair_weight: float = PAIR_WEIGHT, support=None,
                 context_weight: float = 1.0):
        super().__init__(transformer, train_claims, code_index, widen)
        self.rng = np.random.default_rng([seed, 11])
        from synth_ehr_assets.core.synth.marginal_matching import MIN_TRAIN_ROWS

        # on a small source the (category, level) lifts mostly restate its few training rows (DCR on the tiny release)
        self.pair_weight = pair_weight
        self.context_weight = context_weight if train_claims.height >= MIN_TRAIN_ROWS else 0.0
        self.priors, self.lifts, self.context_lifts = {}, {}, {}
        for kind, columns in (("secondary", secondary_columns()), ("procedure", schema.PX_COLUMNS)):
            if kind in self.indexes:
                pool = self.indexes[kind].codes.tolist()
                self.priors[kind] = CodePrior(train_claims, pool, columns)
                self.lifts[kind] = PairLift(train_claims, pool, columns)
                self.context_lifts[kind] = ContextLift(train_claims, pool, columns, CONTEXT_COLUMNS[kind])
        self.sigma = {kind: (sigma or DEFAULT_SIGMA) for kind in self.priors}
        if "procedure" in self.indexes:
            from synth_ehr_assets.core.synth.rules import TrainingSupport

            support = support or TrainingSupport.from_claims(train_claims, widen=widen)
            pairs = None if support.widen else support.px_dx
            self._procedure_rules = _ProcedureRules(self.indexes["procedure"].codes.tolist(), pairs)
        settings = support.principal_settings if support is not None else None
        self._principal_settings = None
        if settings is not None and settings.height:
            self._principal_settings = {dx: set(types) for dx, types in settings.group_by("dx_1").agg("claim_type").iter_rows()}
        if "secondary" in self.indexes:
            self._secondary_ages = _AgeSupport(self.indexes["secondary"].codes.tolist(), train_claims)
        self.calibration: dict[str, dict[float, float]] = {}  # σ → mean log probability of real codes

    def category_mask(self, column: str, categories: list, context: pl.DataFrame) -> np.ndarray | None:
        """A principal code's claim type only among those training billed it in (`principal_setting_unsupported`):
        decoding the GAN's most likely allowed claim type instead of rejecting the row afterwards, which at 50,000
        claims dropped 42% of all sampled rows. Principals training never saw may take any claim type."""
        if column != "claim_type" or not self._principal_settings or "dx_1" not in context.columns:
            return None
        names = [str(c) for c in categories]
        principals = context["dx_1"].cast(pl.String).fill_null("")
        distinct = principals.unique().to_list()
        table = np.ones((len(distinct), len(names)), dtype=bool)
        for i, code in enumerate(distinct):
            seen = self._principal_settings.get(code)
            if seen:
                table[i] = [name in seen for name in names]
        which = principals.replace_strict({c: i for i, c in enumerate(distinct)}, return_dtype=pl.Int64).to_numpy()
        return table[which]

    def _positions(self, kind: str, group_id) -> np.ndarray:
        """Pool positions of the codes admissible for the group (all when all or none are allowed)."""
        size = len(self.indexes[kind])
        allowed = None if group_id is None else self._allowed[kind][group_id]
        if allowed is None or allowed.all() or not allowed.any():
            return np.arange(size)
        return np.flatnonzero(allowed)

    def _earlier(self, kind: str, context: pl.DataFrame | None) -> list[pl.Series]:
        if context is None:
            return []
        columns = secondary_columns() if kind == "secondary" else schema.PX_COLUMNS
        return [context[c] for c in columns if c in context.columns]

    def _nearest_ids(self, kind: str, group_id, queries: np.ndarray, rows: np.ndarray, context) -> np.ndarray:
        if kind not in self.priors or context is None or "dx_1" not in context.columns:
            return super()._nearest_ids(kind, group_id, queries, rows, context)
        positions = self._positions(kind, group_id)
        index = self.indexes[kind]
        vectors = index.vectors[positions]
        half_sq = (vectors * vectors).sum(1) / 2
        setting = context["claim_type"] if "claim_type" in context.columns else pl.Series([None] * context.height)
        earlier = self._earlier(kind, context)
        pool_ids = self._pool_ids[kind]
        position_of = np.full(len(index), -1)
        position_of[positions] = np.arange(len(positions))
        chosen = np.empty(len(rows), dtype=np.int64)
        step = max(1, CHUNK_CELLS // len(positions))
        inv_var = 1.0 / self.sigma[kind] ** 2
        for start in range(0, len(rows), step):
            part = rows[start:start + step]
            picked = pl.Series(part)
            logits = self.priors[kind].log_prior_rows(context["dx_1"].gather(picked), setting.gather(picked))[:, positions]
            lift = self.lifts[kind].rows([s.gather(picked) for s in earlier])
            if lift is not None:
                logits += self.pair_weight * lift[:, positions]
            around = self.context_lifts[kind].rows(context[part]) if self.context_weight else None
            if around is not None:
                logits += self.context_weight * around[:, positions]
            q = queries[start:start + step]
            # -|q - c|²/2σ² up to a per-row constant: (q·c - |c|²/2)/σ²
            logits += (q @ vectors.T - half_sq) * inv_var
            if kind == "procedure":
                self._procedure_rules.mask(logits, positions, context, picked)
            elif kind == "secondary":
                self._secondary_ages.mask(logits, positions, context, picked)
            for series in earlier:  # a code already on the claim is never drawn again
                taken = series.gather(picked).cast(pl.String)
                ids = taken.replace_strict(self.lifts[kind].index, default=-1, return_dtype=pl.Int64).to_numpy()
                local = np.where(ids >= 0, position_of[np.maximum(ids, 0)], -1)
                hit = np.flatnonzero(local >= 0)
                logits[hit, local[hit]] = -np.inf
            gumbel = -np.log(-np.log(self.rng.random(logits.shape, dtype=np.float32) + 1e-20) + 1e-20)
            chosen[start:start + step] = positions[np.argmax(logits + gumbel, axis=1)]
        return pool_ids[chosen]


AGE_EVIDENCE = 8  # training claims a diagnosis needs before the decades it was never seen at are ruled out


class _AgeSupport:
    """Secondary diagnoses only at age decades training saw them at (any slot), for codes with `AGE_EVIDENCE`
    claims: alcohol dependence on a newborn's claim, or dementia at 20, has no support however the prior smooths."""

    def __init__(self, pool: list[str], train_claims: pl.DataFrame):
        position = {code: i for i, code in enumerate(pool)}
        long = pl.concat([
            train_claims.select(pl.col(c).cast(pl.String).alias("code"), (pl.col("age") // 10).cast(pl.Int64).alias("decade"))
            for c in schema.DX_COLUMNS if c in train_claims.columns
        ]).drop_nulls().filter(pl.col("code").is_in(pool))
        self.decades = 13
        self.seen = np.zeros((self.decades, len(pool)), dtype=bool)
        pairs = long.unique()
        self.seen[pairs["decade"].clip(0, self.decades - 1).to_numpy(),
                  pairs["code"].replace_strict(position, return_dtype=pl.Int64).to_numpy()] = True
        counts = long.group_by("code").agg(n=pl.len())
        thin = np.ones(len(pool), dtype=bool)
        thin[counts.filter(pl.col("n") >= AGE_EVIDENCE)["code"].replace_strict(position, return_dtype=pl.Int64).to_numpy()] = False
        self.seen[:, thin] = True  # too few claims to rule any age out

    def mask(self, logits: np.ndarray, positions: np.ndarray, context: pl.DataFrame, picked: pl.Series) -> None:
        if "age" not in context.columns:
            return
        decade = (context["age"].gather(picked).cast(pl.Float64).fill_null(-10) // 10).to_numpy()
        known = decade >= 0
        rows = np.clip(decade, 0, self.decades - 1).astype(np.int64)
        allowed = self.seen[rows][:, positions] | ~known[:, None]
        usable = allowed.any(1)
        logits[~allowed & usable[:, None]] = -np.inf


class _ProcedureRules:
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

    def mask(self, logits: np.ndarray, positions: np.ndarray, context: pl.DataFrame, picked: pl.Series) -> None:
        """Set the logits of inadmissible procedures to -inf in place (rows left with none keep theirs: the edits
        reject and resample them)."""
        allowed = np.ones(logits.shape, dtype=bool)
        if "age" in context.columns and "sex" in context.columns:
            age = context["age"].gather(picked).cast(pl.Float64).fill_null(-1).to_numpy()[:, None]
            sex = context["sex"].gather(picked).cast(pl.String).fill_null("").to_numpy()[:, None]
            band_sex = self.sex[positions][None, :]
            allowed &= (age >= self.min_age[positions]) & (age <= self.max_age[positions])
            allowed &= (band_sex == "") | (band_sex == sex)
        categories = context["dx_1"].gather(picked).cast(pl.String).str.slice(0, 3)
        rows = categories.replace_strict(self.categories, default=len(self.supported) - 1, return_dtype=pl.Int64)
        allowed &= self.supported[rows.to_numpy()][:, positions]
        usable = allowed.any(1)
        logits[~allowed & usable[:, None]] = -np.inf


SIGMA_GRID = (0.35, 0.5, 0.7, 1.0, 1.4, 2.0, 2.8, 4.0, 5.6, 8.0, 16.0, 64.0)
CALIBRATION_ROWS = 2000


def generated_matrix(synthesizer, principal: pl.Series, seed: int) -> np.ndarray:
    """Encoded rows the synthesizer generates for these principal codes (before any decoding)."""
    transformer = synthesizer.transformer
    condition = transformer.transform_column(synthesizer.condition_column, principal)
    if getattr(synthesizer, "condition_profile", None) is not None:
        condition = np.hstack([condition, synthesizer.condition_profile.encode(principal)])
    latents = synthesizer.generator.sample(principal.len(), condition, seed=seed)
    return synthesizer.autoencoder.decode(latents, seed=seed)


def calibrate_sigma(mapper: CalibratedCodeMapper, synthesizer, train_claims: pl.DataFrame,
                    seed: int = 0, rows: int = CALIBRATION_ROWS) -> dict[str, float]:
    """Per slot kind, the σ under which the posterior gives real training codes the highest mean log probability
    when the vectors are what the synthesizer generates for the same principal code: for each sampled training
    claim the generator draws a row conditioned on its dx_1, and each slot filled on both is scored against the
    real code, prior included. Vectors that say little about the real codes (blurred GAN output) get a wide σ and
    the prior decides; informative vectors get a narrow one. Sets and returns `mapper.sigma`."""
    sample = train_claims.sample(min(rows, train_claims.height), seed=seed) if train_claims.height else train_claims
    if not sample.height:
        return dict(mapper.sigma)
    transformer = synthesizer.transformer
    decoded = generated_matrix(synthesizer, sample[synthesizer.condition_column].cast(pl.String), seed)
    for kind in mapper.priors:
        columns = secondary_columns() if kind == "secondary" else schema.PX_COLUMNS
        index, prior = mapper.indexes[kind], mapper.priors[kind]
        position = {code: i for i, code in enumerate(index.codes.tolist())}
        half_sq = (index.vectors * index.vectors).sum(1) / 2
        scores = {sigma: [] for sigma in SIGMA_GRID}
        for column in columns:
            if column not in transformer.column_slices:
                continue
            block = decoded[:, transformer.column_slices[column]]
            truth = sample[column].cast(pl.String).replace_strict(position, default=-1, return_dtype=pl.Int64)
            rows_with = np.flatnonzero((truth.to_numpy() >= 0) & (block[:, 0] > 0.5))
            if not rows_with.size:
                continue
            log_prior = prior.log_prior_rows(sample["dx_1"].gather(rows_with), sample["claim_type"].gather(rows_with))
            closeness = block[rows_with, 1:] @ index.vectors.T - half_sq
            true = truth.to_numpy()[rows_with]
            for sigma in SIGMA_GRID:
                logits = log_prior + closeness / sigma**2
                top = logits.max(1, keepdims=True)
                log_norm = top[:, 0] + np.log(np.exp(logits - top).sum(1))
                scores[sigma].append(logits[np.arange(len(true)), true] - log_norm)
        if any(scores[s] for s in SIGMA_GRID):
            means = {s: float(np.concatenate(v).mean()) for s, v in scores.items() if v}
            mapper.sigma[kind] = max(means, key=means.get)
            mapper.calibration[kind] = means
    return dict(mapper.sigma)

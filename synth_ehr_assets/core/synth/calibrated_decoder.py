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
from synth_ehr_assets.core.synth.code_mapper import CodeMapper, _slot_kind
from synth_ehr_assets.core.synth.code_prior import CONTEXT_COLUMNS, CodePrior, ContextLift, PairLift, secondary_columns
from synth_ehr_assets.core.synth.decoder_masks import ProcedureRules, SecondaryAgeSupport

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
            self._procedure_rules = ProcedureRules(self.indexes["procedure"].codes.tolist(), pairs)
        settings = support.principal_settings if support is not None else None
        self._principal_settings = None
        if settings is not None and settings.height:
            self._principal_settings = {dx: set(types) for dx, types in settings.group_by("dx_1").agg("claim_type").iter_rows()}
        if "secondary" in self.indexes:
            self._secondary_ages = SecondaryAgeSupport(self.indexes["secondary"].codes.tolist(), train_claims)
        self.calibration: dict[str, dict[float, float]] = {}  # σ → mean log probability of real codes
        self._group_tables: dict[str, np.ndarray] = {}
        self._sex_of_principal: dict[str, set[str] | None] = {}

    def category_mask(self, column: str, categories: list, context: pl.DataFrame) -> np.ndarray | None:
        """What a row's principal code allows of a categorical column, so that the GAN's most likely allowed
        value is decoded instead of the row being rejected afterwards:
        - claim type: only those training billed the principal in (`principal_setting_unsupported`; rejecting
          afterwards dropped 42% of all sampled rows at 50,000 claims); principals training never saw take any;
        - sex: the one sex a sex-specific principal allows by the CMS edits (`age_sex_edit`: prostate cancer
          on a woman's claim was 99% of C61's generated rows at 200,000 claims)."""
        if "dx_1" not in context.columns:
            return None
        if column == "claim_type" and self._principal_settings:
            allowed = self._principal_settings.get
        elif column == "sex":
            allowed = self._principal_sex
        else:
            return None
        names = [str(c) for c in categories]
        principals = context["dx_1"].cast(pl.String).fill_null("")
        distinct = principals.unique().to_list()
        table = np.ones((len(distinct), len(names)), dtype=bool)
        for i, code in enumerate(distinct):
            seen = allowed(code)
            if seen:
                table[i] = [name in seen for name in names]
        which = principals.replace_strict({c: i for i, c in enumerate(distinct)}, return_dtype=pl.Int64).to_numpy()
        return table[which]

    def _principal_sex(self, code: str) -> set[str] | None:
        """{"F"} or {"M"} for a principal the CMS sex edits restrict to one sex at every age, else None."""
        if code not in self._sex_of_principal:
            from synth_ehr_assets.core import age_sex_edits

            table = age_sex_edits.conflicts([code])[0] if code else None  # (age bands, sex keys F/M/other)
            only = None
            if table is not None:
                never_f, never_m = table[:, 0].all(), table[:, 1].all()
                only = {"M"} if never_f and not never_m else {"F"} if never_m and not never_f else None
            self._sex_of_principal[code] = only
        return self._sex_of_principal[code]

    def _group_masks(self, kind: str) -> np.ndarray:
        """(groups, pool) admissible codes per row group; a group allowing none keeps all (the edits reject)."""
        if kind not in self._group_tables:
            table = self._allowed[kind].copy()
            table[~table.any(1)] = True
            self._group_tables[kind] = table
        return self._group_tables[kind]

    def __call__(self, slot: str, vectors: np.ndarray, present: np.ndarray, context: pl.DataFrame | None = None):
        kind = _slot_kind(slot)
        if kind not in self.priors or context is None or "dx_1" not in context.columns:
            return super().__call__(slot, vectors, present, context)
        ids = np.full(len(vectors), -1, dtype=np.int64)
        rows = np.flatnonzero(present)
        if rows.size:
            groups = self._row_groups(kind, context)
            ids[rows] = self._pool_ids[kind][self._draw(kind, None if groups is None else groups[rows],
                                                        vectors[rows], context[rows])]
        return self.vocabulary.gather(pl.Series(ids).set(pl.Series(ids < 0), None)).alias(slot)

    def _draw(self, kind: str, groups: np.ndarray | None, queries: np.ndarray, rows: pl.DataFrame) -> np.ndarray:
        """Pool positions drawn from each row's posterior (Gumbel-max). The rows' context is read once here;
        the chunks below use numpy arrays only."""
        index = self.indexes[kind]
        vectors, size = index.vectors, len(index)
        half_sq = (vectors * vectors).sum(1) / 2
        setting = rows["claim_type"] if "claim_type" in rows.columns else pl.Series([None] * rows.height)
        prior_table, prior_of_row = self.priors[kind].log_prior_index(rows["dx_1"], setting)
        columns = secondary_columns() if kind == "secondary" else schema.PX_COLUMNS
        earlier = [self.lifts[kind].ids(rows[c]) for c in columns if c in rows.columns]
        around = self.context_lifts[kind].row_ids(rows) if self.context_weight else []
        mask = self._procedure_rules if kind == "procedure" else self._secondary_ages if kind == "secondary" else None
        mask_state = mask.row_state(rows) if mask is not None else None
        group_masks = self._group_masks(kind) if groups is not None else None
        log_lift, inv_var = self.lifts[kind].log_lift, 1.0 / self.sigma[kind] ** 2
        chosen = np.empty(rows.height, dtype=np.int64)
        step = max(1, CHUNK_CELLS // size)
        for start in range(0, rows.height, step):
            part = slice(start, min(start + step, rows.height))
            logits = prior_table[prior_of_row[part]]
            for ids in earlier:
                has = np.flatnonzero(ids[part] >= 0)
                logits[has] += self.pair_weight * log_lift[ids[part][has]]
            for ids, table in around:
                has = np.flatnonzero(ids[part] >= 0)
                logits[has] += self.context_weight * table[ids[part][has]]
            # -|q - c|²/2σ² up to a per-row constant: (q·c - |c|²/2)/σ²
            logits += (queries[part] @ vectors.T - half_sq) * inv_var
            allowed = group_masks[groups[part]] if group_masks is not None else np.ones(logits.shape, dtype=bool)
            extra = mask.allowed(mask_state, part) if mask is not None else None
            if extra is not None:  # rows whose group leaves none of these codes keep the group's
                usable = (extra & allowed).any(1)
                allowed &= extra | ~usable[:, None]
            logits[~allowed] = -np.inf
            for ids in earlier:  # a code already on the claim is never drawn again
                hit = np.flatnonzero(ids[part] >= 0)
                logits[hit, ids[part][hit]] = -np.inf
            gumbel = -np.log(-np.log(self.rng.random(logits.shape, dtype=np.float32) + 1e-20) + 1e-20)
            chosen[part] = np.argmax(logits + gumbel, axis=1)
        return chosen


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

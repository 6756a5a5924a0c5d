"""Each principal diagnosis's inpatient share, planned and decoded.

Inpatient rows fail more edits than office visits, so filling a principal's rows with whatever survives would
halve the inpatient share: `SettingCells` plans rows per (principal, inpatient or other) from the principal's
training share and keeps a round's survivors only while their cell is short.

The latent GAN also under-generates inpatient rows of principals that are mostly billed elsewhere: pneumonia J18.9
came out 4% inpatient against 35% in training, so holding the cells used to mean generating tens of thousands of
rows per round to find the few inpatient ones. `SettingQuotaDecoder` instead decodes claim type so that a round's
planned share of each principal's rows is inpatient: the rows whose generated claim-type scores lean most toward
inpatient (largest margin over their best other allowed type) become inpatient, the others take their best
non-inpatient type. The GAN still orders the rows, so the inpatient ones are those it made most inpatient-like;
stay, DRG and charges are then drawn per setting (`setting_draws`) and every edit screens them.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from synth_ehr_assets.core.synth.code_mapper import CONDITION_COLUMN

INPATIENT = "inpatient"
SMOOTHING = 10  # pseudo-rows pulling a cell's acceptance rate toward its principal's


class SettingCells:
    """Planned rows per principal and setting (inpatient / other) and the rows filled so far. Principals training
    never saw have no cells (any setting fills them)."""

    def __init__(self, plan: dict[str, int], train_claims: pl.DataFrame, rng: np.random.Generator):
        shares = train_claims.group_by(pl.col(CONDITION_COLUMN).cast(pl.String)).agg(
            share=(pl.col("claim_type") == INPATIENT).mean()
        )
        self.share = {code: share for code, share in shares.iter_rows() if share is not None}
        self.planned: dict[str, list[int]] = {}  # code -> [inpatient, other]
        for code, rows in plan.items():
            if code in self.share:  # stochastic rounding: the total keeps training's share with little noise
                inpatient = int(np.floor(rows * self.share[code] + rng.random()))
                self.planned[code] = [inpatient, rows - inpatient]
        self.filled = {code: [0, 0] for code in self.planned}
        self.sampled = {code: [0, 0] for code in self.planned}
        self.survived = {code: [0, 0] for code in self.planned}
        self.inpatient_planned = self._inpatient_total()
        self.inpatient_moved = 0  # inpatient rows moved to another principal's cell (`resize`, `release_failing`)

    def __bool__(self) -> bool:
        return bool(self.planned)

    def resize(self, plan: dict[str, int], rng: np.random.Generator) -> None:
        """After `principal_plan.reallocate`: each principal's cells sum to its plan again. Rows a principal gave
        away come off its cells' shortfalls; the inpatient rows among them stay inpatient with the principals
        that gained rows (weighted by their training inpatient share), so the inpatient total holds. The rest
        of a gain is split by the principal's training share; then any inpatient rows still lost become inpatient
        rows of principals that can take them (`_place_inpatient`)."""
        before = self._inpatient_total()
        cut_inpatient, shrunk = 0, set()
        for code, cells in self.planned.items():
            delta = plan.get(code, 0) - sum(cells)
            if delta < 0:
                shrunk.add(code)
                short = [max(cells[i] - self.filled[code][i], 0) for i in (0, 1)]
                cut_in = min(short[0], round(-delta * short[0] / max(sum(short), 1)))
                cut_out = min(short[1], -delta - cut_in)
                cells[0], cells[1] = cells[0] - cut_in, cells[1] - cut_out
                cut_inpatient += cut_in
        gains = {code: plan.get(code, 0) - sum(cells) for code, cells in self.planned.items()}
        gains = {code: delta for code, delta in gains.items() if delta > 0}
        inherited = self._spread(cut_inpatient, {c: d for c, d in gains.items() if self.share[c] > 0}, rng)
        leftover = cut_inpatient - sum(inherited.values())
        if leftover > 0:  # too few receivers are ever inpatient: they hand rows to principals that are
            free = {c: d - inherited.get(c, 0) for c, d in gains.items() if d > inherited.get(c, 0)}
            takers = {c: sum(cells) for c, cells in self.planned.items()
                      if c not in gains and c not in shrunk and self.share[c] > 0}
            leftover = min(leftover, sum(free.values())) if takers else 0
            moved = self._spread(leftover, {c: leftover for c in takers}, rng,
                                 weights={c: self.share[c] * n for c, n in takers.items()})
            taken = self._spread(leftover, free, rng, by_share=False)
            for code, n in taken.items():
                plan[code] -= n
                gains[code] -= n
            for code, n in moved.items():
                plan[code] += n
                self.planned[code][0] += n
                self.inpatient_moved += n
        for code, delta in gains.items():
            keep = inherited.get(code, 0)
            extra = keep + int(rng.binomial(delta - keep, self.share[code]))
            self.planned[code][0] += extra
            self.planned[code][1] += delta - extra
        self._place_inpatient(before - self._inpatient_total(), set(), rng)

    def _spread(self, rows: int, room: dict[str, int], rng: np.random.Generator, by_share: bool = True,
                weights: dict[str, float] | None = None) -> dict[str, int]:
        """`rows` spread over `room`'s codes, at most `room[code]` each, weighted by `weights` (default: inpatient
        share × room, or room alone without `by_share`)."""
        codes = [c for c in room if room[c] > 0]
        cap = np.array([room[c] for c in codes], dtype=np.int64)
        if weights is None:
            weights = {c: (self.share[c] if by_share else 1.0) * room[c] for c in codes}
        weight = np.array([weights[c] for c in codes], dtype=np.float64)
        if not codes or weight.sum() <= 0:
            return {}
        placed = np.zeros(len(codes), dtype=np.int64)
        while rows > 0 and ((cap > placed) * weight).sum() > 0:
            open_ = (cap > placed) * weight
            draw = np.minimum(rng.multinomial(rows, open_ / open_.sum()), cap - placed)
            placed += draw
            rows -= int(draw.sum())
        return {code: int(n) for code, n in zip(codes, placed) if n}

    def release_failing(self, overall: float, rng: np.random.Generator, min_sampled: int = 20) -> int:
        """A cell whose rows keep failing (acceptance under a quarter of `overall` after `min_sampled` rows; e.g.
        inpatient rows of a principal whose inpatient edits nothing generated passes) gives its shortfall to its
        principal's other cell, so rounds stop generating rows for it; inpatient rows given up that way become
        inpatient rows of other principals (`_place_inpatient`). Returns rows moved."""
        moved, lost, failing_codes = 0, 0, set()
        for code, cells in self.planned.items():
            for i in (0, 1):
                short = cells[i] - self.filled[code][i]
                sampled, survived = self.sampled[code][i], self.survived[code][i]
                if short > 0 and sampled >= min_sampled and survived < sampled * overall / 4:
                    cells[i], cells[1 - i] = cells[i] - short, cells[1 - i] + short
                    moved += short
                    lost += short if i == 0 else -short
                    failing_codes.add(code)
        self._place_inpatient(lost, failing_codes, rng)
        return moved

    def _place_inpatient(self, rows: int, exclude: set[str], rng: np.random.Generator) -> None:
        """Turn `rows` unfilled other-setting rows of principals billed inpatient in training into inpatient rows
        (each principal keeps its planned rows), weighted by inpatient share × unfilled rows."""
        if rows <= 0:
            return
        room = {c: self.planned[c][1] - self.filled[c][1] for c in self.planned
                if c not in exclude and self.share[c] > 0 and self.planned[c][1] > self.filled[c][1]}
        for code, count in self._spread(rows, room, rng).items():
            self.planned[code][0] += count
            self.planned[code][1] -= count
            self.inpatient_moved += count

    def _inpatient_total(self) -> int:
        return sum(c[0] for c in self.planned.values())

    def need(self, code: str, rate: float, min_rate: float) -> tuple[float, float] | None:
        """(rows to generate, inpatient share of them) for a principal with cells, from each cell's shortfall and
        its smoothed acceptance rate; None without cells or nothing short."""
        if code not in self.planned:
            return None
        wanted = []
        for i in (0, 1):
            short = max(self.planned[code][i] - self.filled[code][i], 0)
            cell_rate = (self.survived[code][i] + SMOOTHING * rate) / (self.sampled[code][i] + SMOOTHING)
            wanted.append(short / max(cell_rate, min_rate))
        total = wanted[0] + wanted[1]
        return (total, wanted[0] / total) if total > 0 else None

    def count_sampled(self, frame: pl.DataFrame) -> None:
        self._count(frame, self.sampled)

    def keep(self, accepted: pl.DataFrame) -> pl.DataFrame:
        """The rows of `accepted` (in order) that fit a short cell; principals without cells pass unchanged."""
        self._count(accepted, self.survived)
        keyed = accepted.with_columns(_code=pl.col(CONDITION_COLUMN).cast(pl.String), _in=_inpatient_index())
        codes = list(self.planned)
        room = lambda i: pl.col("_code").replace_strict(  # noqa: E731
            codes, [max(self.planned[c][i] - self.filled[c][i], 0) for c in codes], default=None, return_dtype=pl.Int64
        )
        rank = pl.int_range(pl.len()).over("_code", "_in")
        limit = pl.when(pl.col("_in") == 0).then(room(0)).otherwise(room(1))
        kept = keyed.filter(limit.is_null() | (rank < limit))
        self._count(kept, self.filled)
        return kept.drop("_code", "_in")

    def report(self) -> dict:
        return {"inpatient_rows_planned": self.inpatient_planned,
                "inpatient_rows_filled_in_cells": sum(c[0] for c in self.filled.values()),
                "inpatient_rows_moved_between_principals": self.inpatient_moved}

    def _count(self, frame: pl.DataFrame, into: dict[str, list[int]]) -> None:
        counts = frame.group_by(pl.col(CONDITION_COLUMN).cast(pl.String), _inpatient_index()).len()
        for code, index, count in counts.iter_rows():
            if code in into:
                into[code][index] += count


def _inpatient_index() -> pl.Expr:
    """0 for an inpatient row, 1 for any other setting."""
    return pl.when(pl.col("claim_type").cast(pl.String) == INPATIENT).then(0).otherwise(1).alias("_in")


PROFILE_COLUMNS = ("age", "sex", "payer", "provider_specialty")
PRIOR_ROWS = 20  # pseudo-rows at the overall inpatient share in each profile cell


class InpatientProfile:
    """How much more often training bills a row inpatient given its age decade, sex, payer and specialty:
    summed smoothed log-odds ratios against the overall share (naive Bayes across the columns). The quota uses
    it to pick which generated rows become inpatient, so that inpatient claims keep training's demographics
    (older, more often Medicare, hospitalists) rather than those of the office visits they were generated as."""

    def __init__(self, train_claims: pl.DataFrame):
        inpatient = (train_claims["claim_type"].cast(pl.String) == INPATIENT).cast(pl.Float64)
        overall = float(inpatient.mean() or 0.0)
        self.tables: dict[str, dict] = {}
        if not 0 < overall < 1:
            return
        base = np.log(overall / (1 - overall))
        for column in PROFILE_COLUMNS:
            if column not in train_claims.columns:
                continue
            key = _profile_key(train_claims[column], column)
            counts = pl.DataFrame({"key": key, "y": inpatient}).group_by("key").agg(n=pl.len(), k=pl.col("y").sum())
            share = (counts["k"] + PRIOR_ROWS * overall) / (counts["n"] + PRIOR_ROWS)
            self.tables[column] = dict(zip(counts["key"].to_list(), (np.log(share / (1 - share)) - base).to_list()))

    def score(self, rows: pl.DataFrame) -> np.ndarray:
        total = np.zeros(rows.height)
        for column, table in self.tables.items():
            if column in rows.columns:
                key = _profile_key(rows[column], column)
                total += key.replace_strict(table, default=0.0, return_dtype=pl.Float64).to_numpy()
        return total


def _profile_key(values: pl.Series, column: str) -> pl.Series:
    if column == "age":
        return (values.cast(pl.Float64) // 10).cast(pl.Int64).cast(pl.String).fill_null("")
    return values.cast(pl.String).fill_null("")


class SettingQuotaDecoder:
    """A code decoder that also decodes claim type to `share[principal]` inpatient rows (a round's plan); every
    other call is the wrapped decoder's. Principals without a share, and rows whose allowed types leave no choice,
    decode as usual."""

    def __init__(self, decoder, share: dict[str, float], rng: np.random.Generator,
                 profile: InpatientProfile | None = None, column: str = "claim_type", group: str = "dx_1"):
        self.decoder, self.share, self.rng, self.column, self.group = decoder, share, rng, column, group
        self.profile = profile

    def __call__(self, *args, **kwargs):
        return self.decoder(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self.decoder, name)

    def category_quota(self, column: str, categories: list, scores: np.ndarray, context: pl.DataFrame):
        names = [str(c) for c in categories]
        if column != self.column or INPATIENT not in names or self.group not in context.columns or not self.share:
            return None
        inpatient = names.index(INPATIENT)
        others = scores.copy()
        others[:, inpatient] = -np.inf
        best_other = others.argmax(1)
        margin = scores[:, inpatient] - others.max(1)
        if self.profile is not None:  # the row's demographics, plus the generated margin in standard deviations
            finite = np.isfinite(margin)
            spread = margin[finite].std() if finite.any() else 0.0
            margin = self.profile.score(context) + np.where(finite, margin, 0.0) / max(spread, 1e-9)
        can_be_inpatient = np.isfinite(scores[:, inpatient])
        can_be_other = np.isfinite(others.max(1))
        chosen = np.full(len(scores), -1, dtype=np.int64)
        principals = context[self.group].cast(pl.String).fill_null("").to_numpy()
        order = np.argsort(principals, kind="stable")
        values, starts = np.unique(principals[order], return_index=True)
        for value, rows in zip(values, np.split(order, starts[1:])):
            share = self.share.get(value)
            if share is None:
                continue
            free = rows[can_be_inpatient[rows] & can_be_other[rows]]  # rows with a choice to make
            wanted = share * free.size
            count = int(np.floor(wanted) + (self.rng.random() < wanted - np.floor(wanted)))
            ranked = free[np.argsort(-margin[free], kind="stable")]
            chosen[ranked[:count]] = inpatient
            chosen[ranked[count:]] = best_other[ranked[count:]]
        return chosen

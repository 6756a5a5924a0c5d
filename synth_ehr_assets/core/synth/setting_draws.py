"""What the claim's setting fixes in training, kept in synthetic rows: the DRG and stay of inpatient rows, and the
charge distribution of each claim type.

DRG and stay (`InpatientDetails`) are drawn given the principal diagnosis the way training stays go.
The DRG follows from the principal diagnosis (the MS-DRG grouper's first step is the principal's MDC) and the
stay from the DRG, but in the GAN both are decoded from one blurred latent: DRGs came back from other body
systems, and the stays, a column filled on 4% of rows only, collapsed onto 4-5 days. Here an inpatient row's DRG
is drawn from the training DRGs of its principal code (smoothed toward its category and all inpatient claims, so
a code seen once borrows its category's DRGs), and its stay from the training stays of that DRG (its category's,
then every inpatient stay, when the DRG was seen fewer than `MIN_STAYS` times).

Charges (`ChargesBySetting`): the GAN ranks charges well within a claim type (a chemotherapy infusion above an
office visit) but blurs the settings' scales into each other (outpatient p90 4× the training p90). Each claim
type's charges are mapped, rank for rank, onto that claim type's training charge quantiles: a randomised
probability integral transform, u = (rank + U(0, 1)) / n within the claim type of the batch, then the training
quantile at u. The order the GAN gave (and so what it learned of charges given codes) is kept; the scale per
setting is training's. Allowed and paid follow as shares of the charge.
"""

from __future__ import annotations

import numpy as np
import polars as pl

SMOOTHING = 5.0
MIN_STAYS = 10


class InpatientDetails:
    """Fitted on training claims; `apply(frame, rng)` redraws DRG and stay of the frame's inpatient rows."""

    def __init__(self, train: pl.DataFrame):
        inpatient = train.filter((pl.col("claim_type") == "inpatient") & pl.col("drg").is_not_null()).select(
            pl.col("dx_1").cast(pl.String), pl.col("drg").cast(pl.String), pl.col("los_days").cast(pl.Int64)
        ).with_columns(category=pl.col("dx_1").str.slice(0, 3))
        self.fitted = inpatient.height > 0
        if not self.fitted:
            return
        self.drgs = sorted(inpatient["drg"].unique().to_list())
        position = {drg: i for i, drg in enumerate(self.drgs)}
        overall = np.bincount(inpatient["drg"].replace_strict(position).to_numpy(), minlength=len(self.drgs))
        self.overall = overall / overall.sum()
        self.by_category = self._shares(inpatient, "category", position, lambda _: self.overall)
        self.by_code = self._shares(inpatient, "dx_1", position, lambda code: self.by_category.get(code[:3], self.overall))
        self.stays_by_drg = {k: np.sort(v) for k, v in inpatient.group_by("drg").agg("los_days").iter_rows()}
        self.stays_by_category = {k: np.sort(v) for k, v in inpatient.group_by("category").agg("los_days").iter_rows()}
        self.all_stays = np.sort(inpatient["los_days"].to_numpy())

    @staticmethod
    def _shares(frame: pl.DataFrame, key: str, position: dict, parent) -> dict[str, np.ndarray]:
        out = {}
        for value, drgs in frame.group_by(key).agg("drg").iter_rows():
            counts = np.bincount([position[d] for d in drgs], minlength=len(position))
            out[value] = (counts + SMOOTHING * parent(value)) / (len(drgs) + SMOOTHING)
        return out

    def _drg_share(self, code: str) -> np.ndarray:
        share = self.by_code.get(code)
        return share if share is not None else self.by_category.get(code[:3], self.overall)

    def _stays(self, drg: str, code: str) -> np.ndarray:
        stays = self.stays_by_drg.get(drg)
        if stays is not None and len(stays) >= MIN_STAYS:
            return stays
        stays = self.stays_by_category.get(code[:3])
        return stays if stays is not None and len(stays) >= MIN_STAYS else self.all_stays

    def apply(self, frame: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
        """`frame` (claim columns) with DRG and stay of its inpatient rows redrawn; other rows untouched."""
        if not self.fitted or not frame.height:
            return frame
        rows = np.flatnonzero((frame["claim_type"] == "inpatient").fill_null(False).to_numpy())
        if not rows.size:
            return frame
        codes = frame["dx_1"].cast(pl.String).gather(rows).fill_null("").to_list()
        drgs, stays = [], []
        for code in codes:
            share = self._drg_share(code)
            drg = self.drgs[int(rng.choice(len(self.drgs), p=share / share.sum()))]
            pool = self._stays(drg, code)
            drgs.append(drg)
            stays.append(int(pool[int(rng.integers(len(pool)))]))
        drg_column = frame["drg"].cast(pl.String).scatter(rows, drgs)
        stay_column = frame["los_days"].scatter(rows, pl.Series(stays, dtype=frame["los_days"].dtype))
        return frame.with_columns(drg_column.cast(frame["drg"].dtype), stay_column)


QUANTILE_GRID = np.linspace(0, 1, 1001)


class ChargesBySetting:
    """Training charge quantiles per claim type; `apply(frame, rng)` maps each claim type's charges onto them."""

    def __init__(self, train: pl.DataFrame):
        self.quantiles = {}
        for setting, charges in train.group_by(pl.col("claim_type").cast(pl.String)).agg("charge_amount").iter_rows():
            values = np.asarray([c for c in charges if c is not None], dtype=np.float64)
            if values.size >= MIN_STAYS:
                self.quantiles[setting] = np.quantile(values, QUANTILE_GRID)

    def apply(self, frame: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
        if not self.quantiles or not frame.height:
            return frame
        charge = frame["charge_amount"].cast(pl.Float64).to_numpy().copy()
        setting = frame["claim_type"].cast(pl.String).fill_null("").to_numpy()
        for name, quantiles in sorted(self.quantiles.items()):
            rows = np.flatnonzero((setting == name) & np.isfinite(charge))
            if not rows.size:
                continue
            ranks = np.argsort(np.argsort(charge[rows], kind="stable"), kind="stable")
            u = (ranks + rng.random(rows.size)) / rows.size
            charge[rows] = np.round(np.interp(u, QUANTILE_GRID, quantiles), 2)
        return frame.with_columns(pl.Series("charge_amount", charge, dtype=frame["charge_amount"].dtype))

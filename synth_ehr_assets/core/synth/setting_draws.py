"""What the claim's setting fixes in training, kept in synthetic rows: the DRG and stay of inpatient rows, and the
charge distribution of each claim type.

DRG and stay (`InpatientDetails`) are drawn given the principal diagnosis the way training stays go.
The DRG follows from the principal diagnosis (the MS-DRG grouper's first step is the principal's MDC) and the
stay from the DRG, but in the GAN both are decoded from one blurred latent: DRGs came back from other body
systems, and the stays, a column filled on 4% of rows only, collapsed onto 4-5 days. Here an inpatient row's DRG
is drawn from the training DRGs of its principal code (smoothed toward its category and all inpatient claims, so
a code seen once borrows its category's DRGs), and its stay from the training stays of that DRG (its category's,
then every inpatient stay, when the DRG was seen fewer than `MIN_STAYS` times). The charge of an inpatient row then
follows its DRG and stay as in training, log charge = a(DRG) + b · log stay + noise (b and the noise pooled over
DRGs, a(DRG) shrunk toward the mean for DRGs seen rarely): the GAN's charge ranked rows of one claim type, but an
inpatient row's DRG and stay are drawn afterwards, so a 12-day stay could carry the charge of a 1-day one (stay ×
charge correlation 0.16 against training's 0.47 on the demo). Allowed and paid keep their shares of the charge.

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
        self._fit_charges(train)

    @staticmethod
    def _shares(frame: pl.DataFrame, key: str, position: dict, parent) -> dict[str, np.ndarray]:
        out = {}
        for value, drgs in frame.group_by(key).agg("drg").iter_rows():
            counts = np.bincount([position[d] for d in drgs], minlength=len(position))
            out[value] = (counts + SMOOTHING * parent(value)) / (len(drgs) + SMOOTHING)
        return out

    def _fit_charges(self, train: pl.DataFrame) -> None:
        rows = train.filter((pl.col("claim_type") == "inpatient") & pl.col("drg").is_not_null()
                            & (pl.col("charge_amount") > 0) & (pl.col("los_days") > 0)).select(
            pl.col("drg").cast(pl.String), pl.col("los_days").cast(pl.Float64).log().alias("x"),
            pl.col("charge_amount").cast(pl.Float64).log().alias("y"),
        )
        self.charge_model = None
        if rows.height < MIN_STAYS:
            return
        centred = rows.with_columns((pl.col("x") - pl.col("x").mean().over("drg")).alias("dx"),
                                    (pl.col("y") - pl.col("y").mean().over("drg")).alias("dy"))
        spread = float((centred["dx"] ** 2).sum())
        slope = float((centred["dx"] * centred["dy"]).sum()) / spread if spread > 0 else 0.0
        rows = rows.with_columns(a=pl.col("y") - slope * pl.col("x"))
        mean_a = float(rows["a"].mean())
        per_drg = rows.group_by("drg").agg(pl.col("a").sum(), n=pl.len())
        intercept = {drg: (total + SMOOTHING * mean_a) / (n + SMOOTHING) for drg, total, n in per_drg.iter_rows()}
        residual = rows["a"] - rows["drg"].replace_strict(intercept, return_dtype=pl.Float64)
        self.charge_model = (intercept, mean_a, slope, float(residual.std() or 0.0))

    def _charges(self, drgs: list[str], stays: list[int], rng: np.random.Generator) -> np.ndarray:
        intercept, mean_a, slope, noise = self.charge_model
        a = np.array([intercept.get(drg, mean_a) for drg in drgs])
        log_charge = a + slope * np.log(np.maximum(stays, 1)) + noise * rng.standard_normal(len(drgs))
        return np.round(np.exp(log_charge), 2)

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
        frame = frame.with_columns(drg_column.cast(frame["drg"].dtype), stay_column)
        return self._with_charges(frame, rows, drgs, stays, rng) if self.charge_model else frame

    def _with_charges(self, frame: pl.DataFrame, rows: np.ndarray, drgs: list[str], stays: list[int],
                      rng: np.random.Generator) -> pl.DataFrame:
        """New inpatient charges; allowed and paid keep their shares, rounded to the cent without crossing."""
        old = frame["charge_amount"].cast(pl.Float64).gather(rows).to_numpy()
        allowed = frame["allowed_amount"].cast(pl.Float64).gather(rows).to_numpy()
        paid = frame["paid_amount"].cast(pl.Float64).gather(rows).to_numpy()
        charge = self._charges(drgs, stays, rng)
        allowed_share = np.clip(np.divide(allowed, old, out=np.zeros_like(old), where=old > 0), 0, 1)
        paid_share = np.clip(np.divide(paid, allowed, out=np.zeros_like(old), where=allowed > 0), 0, 1)
        new_allowed = np.minimum(np.round(charge * allowed_share, 2), charge)
        new_paid = np.minimum(np.round(new_allowed * paid_share, 2), new_allowed)
        return frame.with_columns(
            frame[name].cast(pl.Float64).scatter(rows, values).cast(frame[name].dtype)
            for name, values in (("charge_amount", charge), ("allowed_amount", new_allowed), ("paid_amount", new_paid))
        )


QUANTILE_GRID = np.linspace(0, 1, 1001)


class ChargesBySetting:
    """Training charge quantiles per claim type; `apply(frame, rng)` maps each claim type's charges onto them."""

    def __init__(self, train: pl.DataFrame):
        self.quantiles = {}
        for setting, charges in train.group_by(pl.col("claim_type").cast(pl.String)).agg("charge_amount").iter_rows():
            values = np.asarray([c for c in charges if c is not None], dtype=np.float64)
            if setting is not None and values.size >= MIN_STAYS:  # a row without a claim type maps onto none
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

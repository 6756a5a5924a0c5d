"""Rows a journey release left alone, given to a patient that fits them (issue 15, `journey_release`).

A row the release assembly cannot place keeps the values it was screened with and used to become a patient of one
claim: 3.4% of the rows of a 50,000-claim benchmark release, 18% of its patients, which halved the
claims-per-patient median. `attach_alone` offers each such row to the assembled patients of its sex as their claim
before the first or after the last: the row keeps its age and codes, takes the patient's region and payer and a
new date at which a person born on a day the patient's claims all leave open is the row's age (and inside the
training window), within the model's 90th-percentile gap of the patient's first or last claim. Among the patients
that fit, the row goes to the one with the least cost, in days: a payer change costs `OTHER_PAYER`, each chronic
condition the row adds `NEW_CHRONIC` and each the patient has but the row lacks `MISSING_CHRONIC` (persistence),
a principal-category step the journey model never saw `UNSEEN_STEP` (transitions), and the new gap's distance
from a gap drawn from the model (after the earlier claim's setting) counts as it is. The caller screens the moved rows again as the release screen does and checks the patients
that received rows (journey edits, sequence copies), taking back what fails.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from synth_ehr_assets.core.synth.journey_chronic import row_conditions

YEAR = 365.25
KEY = "_release_row"  # the row key `journey_release` gives every kept row
OTHER_PAYER = 10_000.0  # any patient of the row's payer that fits comes first
NEW_CHRONIC, MISSING_CHRONIC, UNSEEN_STEP = 400.0, 100.0, 300.0


def _birth_window(day: float, age: float) -> tuple[float, float]:
    """(latest excluded, last possible) birth day of someone `age` years old on `day`: floor((day − b) / YEAR) = age."""
    return day - (age + 1) * YEAR, day - age * YEAR


def attach_alone(rows: pl.DataFrame, alone: pl.Series, model, rng: np.random.Generator) -> pl.DataFrame:
    """One row per row of `alone` (`_release_row` keys) that a patient fits: its key, the `patient_id`, `region`
    and `payer` it takes and its new `service_date` (see the module docstring)."""
    chosen = pl.col(KEY).is_in(alone.implode())
    days = pl.col("service_date").cast(pl.Int32)
    _, chronic = row_conditions(rows.select(pl.col("^dx_.*$")))
    rows = rows.with_columns(_chronic=pl.Series([sorted(c) for c in chronic], dtype=pl.List(pl.String)),
                             _cat=pl.col("dx_1").cast(pl.String).str.slice(0, 3).fill_null(""))
    people = (rows.filter(~chosen).sort("service_date", KEY)
              .with_columns(_low=days - (pl.col("age") + 1) * YEAR, _high=days - pl.col("age") * YEAR)
              .group_by("patient_id", maintain_order=True)
              .agg(pl.col("sex", "region", "payer").first(), first=days.min(), last=days.max(),
                   last_type=pl.col("claim_type").last().cast(pl.String), first_cat=pl.col("_cat").first(),
                   last_cat=pl.col("_cat").last(), chronic=pl.col("_chronic").flatten().unique().drop_nulls(),
                   low=pl.col("_low").max(), high=pl.col("_high").min()))
    out = {KEY: [], "patient_id": [], "region": [], "payer": [], "service_date": []}
    if people.is_empty():
        return _moves(out, rows)
    sex, payer = (people[c].cast(pl.String).fill_null("").to_numpy() for c in ("sex", "payer"))
    first, last = people["first"].to_numpy().astype(np.float64), people["last"].to_numpy().astype(np.float64)
    low, high = people["low"].to_numpy().copy(), people["high"].to_numpy().copy()
    kinds = sorted(set(people["last_type"].to_list()) | set(rows["claim_type"].cast(pl.String).to_list()))
    last_kind = np.array([kinds.index(t) for t in people["last_type"].to_list()], dtype=np.int64)
    ceiling, (window_start, window_end) = model.gaps["*"][90], model.window
    held = [set(c) for c in people["chronic"].to_list()]
    first_cat, last_cat = people["first_cat"].to_list(), people["last_cat"].to_list()
    waiting = rows.filter(chosen).select(KEY, pl.col("claim_type").cast(pl.String), "age",
                                         pl.col("sex", "payer").cast(pl.String).fill_null(""), "_cat", "_chronic")
    waiting = waiting.sample(fraction=1.0, shuffle=True, seed=int(rng.integers(2**31)))
    for row, claim_type, age, row_sex, row_payer, cat, row_chronic in waiting.iter_rows():
        # days at which the row's age fits a birth day every claim of the patient allows
        earliest = np.maximum(np.floor(low + age * YEAR) + 1, window_start)
        latest = np.minimum(np.ceil(high + (age + 1) * YEAR) - 1, window_end)
        # a gap drawn after the earlier claim's setting: the patient's last claim's, or the row's when it comes first
        after_gap = last + np.array([model.draw_gap(kind, rng) for kind in kinds])[last_kind]
        before_gap = first - model.draw_gap(claim_type, rng)
        after = np.clip(after_gap, np.maximum(earliest, last + 1), np.minimum(latest, last + ceiling))
        before = np.clip(before_gap, np.maximum(earliest, first - ceiling), np.minimum(latest, first - 1))
        fits_after = (sex == row_sex) & (np.maximum(earliest, last + 1) <= np.minimum(latest, last + ceiling))
        fits_before = (sex == row_sex) & (np.maximum(earliest, first - ceiling) <= np.minimum(latest, first - 1))
        if not (fits_after | fits_before).any():
            continue
        row_chronic = set(row_chronic)
        penalty = np.where(payer == row_payer, 0.0, OTHER_PAYER) + np.array(
            [NEW_CHRONIC * len(row_chronic - h) + MISSING_CHRONIC * len(h - row_chronic) for h in held])
        unseen_after = np.array([cat not in model.transitions.get(c, {}) for c in last_cat]) * UNSEEN_STEP
        unseen_before = np.array([c not in model.transitions.get(cat, {}) for c in first_cat]) * UNSEEN_STEP
        miss_after = np.where(fits_after, np.abs(after - after_gap) + penalty + unseen_after, np.inf)
        miss_before = np.where(fits_before, np.abs(before - before_gap) + penalty + unseen_before, np.inf)
        miss = np.minimum(miss_after, miss_before) + rng.random(len(people)) * 1e-3  # ties: a seeded draw
        p = int(np.argmin(miss))
        day = float(after[p] if miss_after[p] <= miss_before[p] else before[p])
        row_low, row_high = _birth_window(day, float(age))
        low[p], high[p] = max(low[p], row_low), min(high[p], row_high)
        if day > last[p]:
            last[p], last_kind[p], last_cat[p] = day, kinds.index(claim_type), cat
        if day < first[p]:
            first[p], first_cat[p] = day, cat
        held[p] |= row_chronic
        for name, value in ((KEY, row), ("patient_id", people["patient_id"][p]), ("region", people["region"][p]),
                            ("payer", people["payer"][p]), ("service_date", int(math.floor(day)))):
            out[name].append(value)
    return _moves(out, rows)


def _moves(out: dict[str, list], rows: pl.DataFrame) -> pl.DataFrame:
    """The moves collected in `out` as a frame typed like `rows`' columns."""
    schema = {KEY: rows.schema[KEY], "patient_id": pl.String, "region": rows.schema["region"],
              "payer": rows.schema["payer"], "service_date": pl.Int32}
    return pl.DataFrame(out, schema=schema).with_columns(pl.col("service_date").cast(pl.Date))

"""The patient-level half of the `journey` synthesizer (issue 15): who a patient is and how their claims follow.

Fitted on the training patients (`patient_id`), aggregated only (no patient's sequence is stored):

- `lengths`: claims per patient by age decade × sex at the first claim (cells of fewer than `min_support`
  patients fall back to all patients), capped at the training 99th percentile;
- `gaps`: quantiles (101 points) of the days from a claim to the patient's next claim, by the earlier claim's
  `claim_type` (after an inpatient stay the next claim comes sooner: follow-up) and, where supported, by the
  patient's number of claims (`journey_intensity`: busy patients are seen more often), and `admissions`, the share
  of next claims that are inpatient stays by number of claims and age band;
- `transitions`: principal category (dx_1's 3-character category) → next claim's principal category, counted in
  distinct patients; a pair seen in fewer than `min_support` patients is dropped (never used verbatim) and each row
  is smoothed toward the category marginal with weight `smoothing`;
- `recurrence`: per principal category, the share of patients with a later claim whose category comes back
  later (chronic categories come back, acute ones resolve), and `revisit`, the share of next claims whose category
  is one of the patient's earlier ones other than the previous claim's. A category seen in fewer than
  `min_support` patients gets the overall rate.

`assemble` turns a frame of decoded claims into patients without generating any claim content: it repeatedly takes
an unused row as a patient's first claim (weighted by 1 / the expected length of its age × sex cell, so that the
claim-level demographics stay those of the rows), draws the patient's number of claims, then each next claim's gap
(from the gaps of patients with that many claims, cut so that the claims still to come fit in the training window),
whether it is an inpatient stay (at the `admissions` share; categories with a fitting row of that setting first) and
its principal category from (1 − revisit) × smoothed transition row + revisit × the patient's history weighted by
recurrence, restricted to categories with an unused row that fits the patient (same sex, screened age within
`AGE_SLACK` of the patient's age at that date, newborn codes only in the first 28 days after birth; with probability
`carry` to those whose fitting rows carry a chronic condition of the patient), and within it the fitting row of the
drawn setting that keeps the chronic set and repeats the previous claim's recurring codes (`SHARED_WEIGHT`), has the
patient's payer, then the closest age. A fitting row must also pass the journey edits (`journey_edits`: death last,
one diabetes type, CKD stage order, maternity order and spacing); a category without one is dropped and another
drawn. No row fits: the journey ends. The patient keeps the first row's sex, region and payer; birth is placed so
that the first claim keeps its age, later ages follow the dates, and the whole journey lies uniformly inside the
training date window.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from synth_ehr_assets.core.synth.journey_chronic import carry_share, code_recurrence, row_conditions
from synth_ehr_assets.core.synth.journey_edits import (AGE_TIGHT_CODES, YOUNG_AGE, YOUNG_TIGHT_CODES, PatientState,
                                                     RowFacts, age_slack, codes_with)
from synth_ehr_assets.core.synth.journey_intensity import age_band, fit_intensity, length_bucket
from synth_ehr_assets.core.synth.journey_steps import next_weights, transition_tables

MODEL_FILE = "journey_model.json"
GAP_QUANTILES = np.linspace(0, 1, 101)
NEWBORN = ("P", "Z38")  # perinatal chapter and liveborn infants: only in a patient's first 28 days
NEWBORN_DAYS = 28
EDIT_TRIES = 8  # categories drawn for a next claim before the journey ends for want of an allowed row
AGE_SLACK = 10  # years: a next claim comes from a row of the patient's sex this close to their age at its date
MAX_AGE = 124
# The row choice weighs a candidate's codes that the previous claim also had, each by how often training patients'
# next claims code it again (`code_recurrence`), and a chronic condition coded only once so far more than one coded
# again: without either, recurring secondary codes (hypertension, hyperlipidaemia, GERD) came back about half as
# often as in the source. On 50,000 reference claims (the train patients' model assembling an independent
# reference population, 10 holdout-sized draws) transition R² 0.885 → 0.901 against the real holdout's 0.917,
# chronic persistence 0.894 → 0.905 against 0.872; the shared-code weight alone lowered persistence to 0.860.
# The release benchmark (benchmarks/results/journeys_50k_recurrence): R² 0.829 → 0.866, but the claims-per-patient
# median 4.9 → 4.2 (holdout 5.0).
SHARED_WEIGHT = 2.0
ONCE_WEIGHT = 1.0
SEXES = {"F": 0, "M": 1}  # any other value: a third group


def _category(column: str = "dx_1") -> pl.Expr:
    return pl.col(column).cast(pl.String).str.slice(0, 3)


def _band(age: int) -> str:
    return str(min(int(age) // 10, 9))


@dataclass
class JourneyModel:
    min_support: int = 5
    smoothing: float = 1.0
    lengths: dict[str, list[list[int]]] = field(default_factory=dict)  # "band|sex" → [[length, patients], ...]
    gaps: dict[str, list[float]] = field(default_factory=dict)  # claim type (|length bucket) → 101 gap quantiles
    admissions: dict[str, float] = field(default_factory=dict)  # "length bucket|age band" → inpatient next share
    admission_all: float = 0.0
    transitions: dict[str, dict[str, int]] = field(default_factory=dict)
    marginal: dict[str, float] = field(default_factory=dict)
    recurrence: dict[str, float] = field(default_factory=dict)
    recurrence_all: float = 0.0
    code_recurrence: dict[str, float] = field(default_factory=dict)  # dx code → share coded again on the next claim
    carry: float = 0.0  # share of next claims carrying one of the patient's earlier chronic conditions (if any)
    revisit: float = 0.0
    window: list[int] = field(default_factory=list)  # first / last training service date, days since the epoch

    @classmethod
    def fit(cls, train: pl.DataFrame, min_support: int = 5, smoothing: float = 1.0) -> JourneyModel:
        claims = (train.select("patient_id", "service_date", "claim_type", "age", "sex", cat=_category())
                  .with_columns(pl.int_range(pl.len()).alias("_tie")).sort("patient_id", "service_date", "_tie")
                  .with_columns(visit=pl.int_range(pl.len()).over("patient_id"), visits=pl.len().over("patient_id")))
        model = cls(min_support=min_support, smoothing=smoothing)
        first = claims.filter(pl.col("visit") == 0)
        cap = int(first["visits"].quantile(0.99))
        first = first.with_columns(pl.col("visits").clip(1, cap), cell=pl.format(
            "{}|{}", (pl.col("age") // 10).clip(0, 9), pl.col("sex")))
        for cell, part in [("*", first), *((c, first.filter(pl.col("cell") == c)) for c in first["cell"].unique())]:
            if part.height >= min_support:
                counts = part.group_by("visits").len().sort("visits")
                model.lengths[cell] = [[int(a), int(b)] for a, b in counts.iter_rows()]
        nxt = claims.with_columns(next_date=pl.col("service_date").shift(-1).over("patient_id"),
                                  next_cat=pl.col("cat").shift(-1).over("patient_id"),
                                  next_type=pl.col("claim_type").shift(-1).over("patient_id")).drop_nulls("next_date")
        nxt = nxt.with_columns(gap=(pl.col("next_date") - pl.col("service_date")).dt.total_days())
        for kind, part in [("*", nxt), *nxt.partition_by("claim_type", as_dict=True).items()]:
            name = kind if isinstance(kind, str) else kind[0]
            if part.height >= min_support:
                model.gaps[name] = [float(v) for v in np.quantile(part["gap"].to_numpy(), GAP_QUANTILES)]
        busy_gaps, model.admissions, model.admission_all = fit_intensity(nxt, GAP_QUANTILES, min_support)
        model.gaps.update(busy_gaps)
        pairs = nxt.group_by("cat", "next_cat").agg(patients=pl.col("patient_id").n_unique())
        for a, b, n in pairs.filter(pl.col("patients") >= min_support).iter_rows():
            model.transitions.setdefault(a, {})[b] = int(n)
        share = claims["cat"].value_counts(normalize=True)
        model.marginal = {c: float(s) for c, s in share.iter_rows()}
        seen = claims.group_by("patient_id", "cat").agg(first=pl.col("visit").min(), last=pl.col("visit").max(),
                                                        visits=pl.col("visits").first())
        at_risk = seen.filter(pl.col("first") < pl.col("visits") - 1).with_columns(back=pl.col("last") > pl.col("first"))
        model.recurrence_all = float(at_risk["back"].mean()) if at_risk.height else 0.0
        rates = at_risk.group_by("cat").agg(n=pl.len(), rate=pl.col("back").mean()).filter(pl.col("n") >= min_support)
        model.recurrence = {c: float(r) for c, _, r in rates.iter_rows()}
        history = claims.select("patient_id", "visit", "cat")
        earlier = nxt.select("patient_id", "visit", "cat", "next_cat").join(
            history.rename({"visit": "h_visit", "cat": "h_cat"}), on="patient_id")
        earlier = earlier.filter((pl.col("h_visit") < pl.col("visit")) & (pl.col("h_cat") == pl.col("next_cat"))
                                 & (pl.col("next_cat") != pl.col("cat")))
        model.revisit = earlier.select("patient_id", "visit").unique().height / max(nxt.height, 1)
        model.carry = carry_share(train)
        model.code_recurrence = code_recurrence(train, min_support)
        days = train["service_date"].cast(pl.Int32)
        model.window = [int(days.min()), int(days.max())]
        return model

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / MODEL_FILE
        path.write_text(json.dumps(asdict(self), indent=0))
        return path

    @classmethod
    def load(cls, directory: str | Path) -> JourneyModel:
        return cls(**json.loads((Path(directory) / MODEL_FILE).read_text()))

    def _length(self, age: int, sex: str, rng: np.random.Generator) -> int:
        table = np.asarray(self.lengths.get(f"{_band(age)}|{sex}", self.lengths["*"]), dtype=np.float64)
        return int(rng.choice(table[:, 0], p=table[:, 1] / table[:, 1].sum()))

    def _mean_length(self, age: int, sex: str) -> float:
        table = np.asarray(self.lengths.get(f"{_band(age)}|{sex}", self.lengths["*"]), dtype=np.float64)
        return float((table[:, 0] * table[:, 1]).sum() / table[:, 1].sum())

    def draw_gap(self, claim_type: str, rng: np.random.Generator, bucket: int | None = None, most: int | None = None) -> int:
        """Days to the next claim after one of `claim_type` in a patient of length `bucket`; at most `most` (a draw
        from the distribution cut there) when given."""
        points = self.gaps.get(f"{claim_type}|{bucket}") or self.gaps.get(claim_type, self.gaps["*"])
        top = 1.0 if most is None else float(np.interp(max(most, 1), points, GAP_QUANTILES))
        gap = max(1, int(round(np.interp(rng.random() * top, GAP_QUANTILES, points))))
        return gap if most is None else min(gap, max(most, 1))

    def assemble(self, rows: pl.DataFrame, seed: int, key_prefix: str = "J") -> pl.DataFrame:
        """`rows` (decoded claims) grouped into patients: `patient_id` = a patient key, demographics constant per
        patient, dates and ages along each journey; rows with a newborn code after a patient's 28th day dropped."""
        rng = np.random.default_rng([seed, 15])
        n = rows.height
        if n == 0:
            return rows.with_columns(pl.lit(None, dtype=pl.String).alias("patient_id"))
        names = rows.select(_category())["dx_1"].fill_null("").to_list()
        categories = sorted(set(names))
        index = {c: i for i, c in enumerate(categories)}
        cats = np.array([index[c] for c in names], dtype=np.int64)
        tables = transition_tables(self, categories)
        ages, sexes = rows["age"].fill_null(0).to_numpy(), rows["sex"].cast(pl.String).fill_null("").to_list()
        types = rows["claim_type"].cast(pl.String).to_list()
        newborn_rows = codes_with(rows, NEWBORN)
        slack = age_slack(codes_with(rows, AGE_TIGHT_CODES) | (codes_with(rows, YOUNG_TIGHT_CODES) & (ages < YOUNG_AGE)),
                          AGE_SLACK)
        codes, chronic = row_conditions(rows)
        recurs = self.code_recurrence
        facts = RowFacts.of(codes, rows["drg"] if "drg" in rows.columns else None, ages)
        holders: dict[str, set[int]] = {}  # chronic condition → unused rows carrying it
        for r, found in enumerate(chronic):
            for x in found:
                holders.setdefault(x, set()).add(r)
        pools: list[list[int]] = [[] for _ in categories]
        for i, c in enumerate(cats):
            pools[c].append(i)
        ages = np.clip(ages.astype(np.int64), 0, MAX_AGE)
        sex_index = np.array([SEXES.get(x, len(SEXES)) for x in sexes], dtype=np.int64)
        payers = rows["payer"].cast(pl.String).to_list()
        # unused rows without a newborn code per category × sex × age, and unused newborn rows per category × sex
        grown = np.zeros((len(categories), len(SEXES) + 1, MAX_AGE + 1), dtype=np.int64)
        np.add.at(grown, (cats[~newborn_rows], sex_index[~newborn_rows], ages[~newborn_rows]), 1)
        stay_rows = (rows["claim_type"].cast(pl.String) == "inpatient").to_numpy() & ~newborn_rows
        stays = np.zeros_like(grown)  # the inpatient stays among them
        np.add.at(stays, (cats[stay_rows], sex_index[stay_rows], ages[stay_rows]), 1)
        newborn_left = np.zeros((len(categories), len(SEXES) + 1), dtype=np.int64)
        np.add.at(newborn_left, (cats[newborn_rows], sex_index[newborn_rows]), 1)
        anchor_weight = np.array([1.0 / self._mean_length(a, s) for a, s in zip(ages, sexes)])
        used = np.zeros(n, dtype=bool)
        patient, offset, first_row = (np.zeros(n, dtype=np.int64) for _ in range(3))
        start_day, birth_day = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
        order = rng.permutation(n)
        span_start, span_end = self.window
        k, left = 0, n
        while left:
            free = np.flatnonzero(~used)
            w = anchor_weight[free]
            i = int(free[rng.choice(len(free), p=w / w.sum())])
            length = min(self._length(int(ages[i]), sexes[i], rng), left)
            busy = length_bucket(length)  # gaps and admissions follow how many claims the patient will have
            into_year = int(rng.integers(0, NEWBORN_DAYS if newborn_rows[i] else 365))
            born = int(np.ceil(int(ages[i]) * 365.25)) + into_year  # days from birth to the first claim: age kept
            journey, days, history = [i], [0], np.zeros(len(categories))
            history[cats[i]] += 1
            conditions, seen = set(chronic[i]), dict.fromkeys(chronic[i], 1)
            state = PatientState(facts)

            def take(j):
                used[j] = True
                pools[cats[j]].remove(j)
                if newborn_rows[j]:
                    newborn_left[cats[j], sex_index[j]] -= 1
                else:
                    grown[cats[j], sex_index[j], ages[j]] -= 1
                    stays[cats[j], sex_index[j], ages[j]] -= int(stay_rows[j])
                for x in chronic[j]:
                    holders[x].discard(j)

            take(i)
            state.add(i, 0)
            while len(journey) < length and not state.dead:
                # the claims still to come fit inside the training window, as every source journey does
                day = days[-1] + self.draw_gap(types[journey[-1]], rng, busy,
                                               most=span_end - span_start - days[-1] - (length - len(journey) - 1))
                infant = born + day <= NEWBORN_DAYS  # newborn codes only in the first 28 days
                age_then, sex = int((born + day) // 365.25), sex_index[i]
                low, high = max(age_then - AGE_SLACK, 0), age_then + AGE_SLACK

                def fits_patient(r, sex=sex, age_then=age_then, infant=infant) -> bool:
                    return sex_index[r] == sex and (infant if newborn_rows[r] else abs(ages[r] - age_then) <= slack[r])

                # rows of the patient's sex and about their age at that date (their codes passed the edits there)
                open_rows = grown[:, sex, low:high + 1].sum(axis=1) + (newborn_left[:, sex] if infant else 0)
                if not (open_rows > 0).any():
                    break  # no row fits the patient any more: the journey ends here
                weights = next_weights(self, tables, int(cats[journey[-1]]), history, open_rows > 0)
                if conditions and rng.random() < self.carry:  # a claim carrying the patient's chronic conditions
                    once = [x for x in conditions if seen[x] == 1] or conditions  # not yet coded again first
                    fits = [r for x in once for r in holders[x] if fits_patient(r)]
                    carrying = np.zeros(len(categories), dtype=bool)
                    carrying[cats[fits]] = True  # categories with a row that fits the patient and carries one
                    if (weights * carrying).sum() > 0:
                        weights = weights * carrying
                # an inpatient stay next or not, at the share of patients this busy and this old
                admit = rng.random() < self.admissions.get(f"{busy}|{age_band(age_then)}", self.admission_all)
                open_stays = stays[:, sex, low:high + 1].sum(axis=1)
                setting = open_stays > 0 if admit else open_rows - open_stays > 0
                if (weights * setting).sum() > 0:
                    weights = weights * setting
                final, pool = len(journey) == length - 1, []
                for _ in range(EDIT_TRIES):  # a category with a row the journey edits allow
                    if weights.sum() <= 0:
                        break
                    c = int(rng.choice(len(categories), p=weights / weights.sum()))
                    pool = [j for j in pools[c] if fits_patient(j) and state.allows(j, day, final)]
                    if pool:
                        break
                    weights[c] = 0.0
                if not pool:
                    break
                last = codes[journey[-1]]
                once = {x for x in conditions if seen[x] == 1}
                # the drawn setting first; the patient's chronic set (rows carrying it first, conditions coded only
                # once more so, rows adding new chronic conditions last) against the previous claim's codes it
                # repeats, weighted by how often they recur;
                # then the patient's payer (procedures are billed to the payers training saw), then the closest age
                j = min(pool, key=lambda r: (stay_rows[r] != admit, len(chronic[r] - conditions)
                                             - len(conditions & chronic[r]) - ONCE_WEIGHT * len(once & chronic[r]) - SHARED_WEIGHT * sum(
                                                 recurs.get(x, 0.0) for x in last & codes[r]),
                                             payers[r] != payers[i], abs(ages[r] - age_then), order[r]))
                take(j)
                state.add(j, day)
                conditions |= chronic[j]
                for x in chronic[j]:
                    seen[x] = seen.get(x, 0) + 1
                days.append(day)
                journey.append(j)
                history[c] += 1
            left -= len(journey)
            room = span_end - span_start - days[-1]
            start = span_start + (int(rng.integers(0, room + 1)) if room > 0 else 0)
            for j, d in zip(journey, days):
                patient[j], offset[j], first_row[j] = k, d, i
                start_day[j], birth_day[j] = start, start - born
            k += 1
        service = start_day + offset
        age = np.floor((service - birth_day) / 365.25).astype(np.int64)
        out = rows.with_columns(
            patient_id=pl.Series([f"{key_prefix}{p}" for p in patient], dtype=pl.String),
            service_date=pl.Series(service.astype(np.int32)).cast(pl.Date),
            age=pl.Series(np.maximum(age, 0)).cast(rows.schema["age"]),
            sex=rows["sex"].gather(first_row), region=rows["region"].gather(first_row),
            payer=rows["payer"].gather(first_row),
        )
        late = service - birth_day > NEWBORN_DAYS
        return out.filter(~pl.Series(newborn_rows & late))

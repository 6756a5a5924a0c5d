"""`generate_reference_claims`: the design-driven reference population as a canonical claims table."""

from __future__ import annotations


import numpy as np
import polars as pl

from synth_ehr_assets.core import schema
from synth_ehr_assets.core.reference import encounters as enc
from synth_ehr_assets.core.reference.amounts import claim_amounts
from synth_ehr_assets.core.reference.benefits import PLAN_NAMES
from synth_ehr_assets.core.reference.billing import ELECTIVE_DRGS, billing_rules
from synth_ehr_assets.core.reference.vaccines import childhood_vaccines
from synth_ehr_assets.core.reference.calendar import SEASONS, shift_to_open_days, window_calendar
from synth_ehr_assets.core.reference.claims import (
    BIRTH, GENERAL, LOS_FACTOR, NEW_PATIENT_SHARE, POSTPARTUM, PRENATAL, Claims, Schedule, general_claims, reorder, schedule,
)
from synth_ehr_assets.core.reference.diagnoses import claim_diagnoses, drop_excluded
from synth_ehr_assets.core.reference.drg import retier
from synth_ehr_assets.core.reference.maternity import maternity_claims
from synth_ehr_assets.core.reference.population import GESTATION_DAYS, WINDOW_DAYS, Patients, draw_patients
from synth_ehr_assets.core.reference.tables import SPECIALTIES, Tables, reference_tables
from synth_ehr_assets.core.progress import Progress

# Bump when the design or the generator changes what a (n_claims, seed) pair produces (cache keys use it).
REFERENCE_VERSION = "4"
CHUNK_PATIENTS = 10_000
WINDOW_START_EPOCH_DAY = 19_723  # 2024-01-01 as days since 1970-01-01
OFFICE_LEVELS = (.6, 1.7, 2.8)  # complexity score cut points for E/M levels 2|3|4|5
ED_LEVELS = (0.0, .8, 1.6, 2.4)  # ... for ED levels 1|2|3|4|5
PREVENTIVE_AGES = (1, 5, 12, 18, 40, 65)  # preventive E/M age bands (9938x/9939x, digits 1-7)
# Medicare preventive visits (42 CFR 410.15-16; Medicare Claims Processing Manual ch. 12, 30.6.1.1): the "Welcome
# to Medicare" examination G0402 once, in the first 12 months of Part B (here: at 65, as patients entering Medicare
# at 65 have it), then the initial annual wellness visit G0438 once per lifetime, then G0439 every later year. A
# patient past 65 has had an initial visit before the window unless drawn otherwise: about a fifth (CMS Part B
# national summary: G0438 runs at roughly a quarter of the volume of G0439).
INITIAL_WELLNESS_SHARE = .2
WELCOME_AGE = 65
# a preventive visit (9938x/9939x, G0402/G0438/G0439) at most once every 11 full months from age 3 (Medicare's
# wellness-visit frequency; commercial and Medicaid plans cover one a year; Bright Futures well-child visits are
# yearly from age 3, more often before): a scheduled visit sooner than that after the last one is not made
PREVENTIVE_INTERVAL_DAYS, PREVENTIVE_FREQUENT_BEFORE_AGE = 335, 3


def generate_reference_claims(
    n_claims: int, seed: int, release_id: str, progress: Progress | None = None, detail: bool = False,
) -> pl.DataFrame | tuple[pl.DataFrame, pl.DataFrame]:
    """`n_claims` claims of the reference population in `schema.CLAIM_SCHEMA`; same (n, seed) → same table.

    `progress(done, total)` is called after each chunk of ~70,000 claims. `detail=True` also returns a frame of
    what the canonical schema has no column for (claim_id, plan, deductible, copay, coinsurance, patient amount,
    line allowed amounts), keyed by claim_id, for tests, benchmarks and the X12 export.
    """
    if not isinstance(n_claims, (int, np.integer)) or n_claims < 0:
        raise ValueError(f"n_claims must be a non-negative integer, got {n_claims!r}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    tables = reference_tables()
    parts, done, chunk = [], 0, 0
    while done < n_claims:
        part = _chunk(np.random.default_rng([seed, chunk]), tables, chunk)
        take = min(part.height, n_claims - done)
        parts.append(part.head(take))
        done, chunk = done + take, chunk + 1
        if progress is not None:
            progress(done, n_claims)
    if not parts:
        claims = schema.empty_claims()
        empty = pl.DataFrame(schema={"claim_id": pl.String, "plan": pl.String, **{c: pl.Float64 for c in DETAIL_COLUMNS}})
        return (claims, empty) if detail else claims
    frame = pl.concat(parts)
    claims = _finish(frame, tables, seed, release_id)
    return (claims, _detail(frame, seed)) if detail else claims


DETAIL_COLUMNS = ["deductible", "copay", "coinsurance", "patient_amount",
                  *(f"line_allowed_{j}" for j in range(1, schema.PX_SLOTS + 1))]


def _detail(frame: pl.DataFrame, seed: int) -> pl.DataFrame:
    row = pl.int_range(pl.len(), dtype=pl.Int64).cast(pl.String).str.zfill(9)
    plan = pl.Series("plan", ("", *PLAN_NAMES), dtype=pl.String)
    return frame.select(
        pl.format("RC{}-{}", pl.lit(seed), row).alias("claim_id"),
        pl.lit(plan).gather(pl.col("plan") + 1).alias("plan"),
        *(pl.col(c).cast(pl.Float64) for c in DETAIL_COLUMNS),
    )


def _chunk(rng: np.random.Generator, T: Tables, chunk: int) -> pl.DataFrame:
    P = draw_patients(rng, CHUNK_PATIENTS, T.index, rare_floor=chunk == 0)
    S = schedule(rng, P)
    C = Claims(len(S.pid))
    general_claims(rng, T, P, S, C)
    _calendar(rng, T, P, S, C)
    maternity_claims(rng, T, P, S, C)
    childhood_vaccines(rng, T, S, C)
    keep = _preventive_frequency(S, C)
    reorder(S, keep)
    reorder(C, keep)
    primary = _primary_care(rng, S.age)
    C.specialty = np.where(C.specialty < 0, primary, C.specialty)
    dx = drop_excluded(T, claim_diagnoses(rng, T, P, S, C))
    _code_severity(T, C, dx)
    px = billing_rules(T, P, S, C, _procedures(rng, T, P, S, C))
    year = window_calendar()["year"][S.day].astype(np.int64)
    amounts = claim_amounts(rng, T, P, S, C, px, dx[:, 0], year)
    sharing = amounts.sharing
    columns = {
        "patient": (S.pid + chunk * CHUNK_PATIENTS).astype(np.int64), "day": S.day.astype(np.int32),
        "claim_type": C.claim_type, "los_days": C.los, "age": S.age, "female": P.female[S.pid],
        "region": P.region[S.pid].astype(np.int8), "payer": P.payer[S.pid].astype(np.int8), "drg": C.drg,
        "charge_amount": amounts.charge, "allowed_amount": amounts.allowed, "paid_amount": amounts.paid,
        "specialty": C.specialty, "plan": P.plan[S.pid], "deductible": np.round(sharing.deductible, 2),
        "copay": np.round(sharing.copay, 2) + 0.0, "coinsurance": np.round(sharing.coinsurance, 2) + 0.0,  # no -0.0
        "patient_amount": np.round(amounts.allowed - amounts.paid, 2),
    }
    columns |= {name: dx[:, j] for j, name in enumerate(schema.DX_COLUMNS)}
    columns |= {name: px[:, j] for j, name in enumerate(schema.PX_COLUMNS)}
    columns |= {f"line_allowed_{j + 1}": amounts.line_allowed[:, j] for j in range(schema.PX_SLOTS)}
    return pl.DataFrame(columns)


def _calendar(rng: np.random.Generator, T: Tables, P: Patients, S: Schedule, C: Claims) -> None:
    """Office and scheduled claims off holidays and most weekends (`calendar.py`), then rows back in date order."""
    elective = np.isin(C.drg, ELECTIVE_DRGS)
    general, prenatal, postpartum = S.kind == GENERAL, S.kind == PRENATAL, S.kind == POSTPARTUM
    office = (general & (C.claim_type == 0)) | prenatal | postpartum
    scheduled = general & (((C.claim_type == 1) & (C.evaluation != enc.EVALUATIONS.index("ed"))) | elective)
    setting = np.select([office, scheduled], [0, 1], 2)
    pid = S.pid
    lmp = P.delivery_day[pid] - GESTATION_DAYS
    first = np.where(P.newborn[pid], P.birth_day[pid] + 1, 0)
    low = np.select([prenatal, postpartum], [np.maximum(lmp + 42, 0), P.delivery_day[pid] + 14], first)
    high = np.where(prenatal, P.delivery_day[pid] - 1, WINDOW_DAYS - 1)
    newborn = P.newborn[pid]

    def same(old: np.ndarray, new: np.ndarray) -> np.ndarray:
        age = lambda d: np.where(newborn, (d - P.birth_day[pid]) // 365.25, P.age0[pid] + np.floor(P.phase[pid] + d / 365.25))
        band = lambda d: np.digitize(d - P.birth_day[pid], [8, 29]) * newborn
        return (age(old) == age(new)) & (band(old) == band(new))

    in_season = np.ones((len(pid), 12), bool)
    for visit in enc.PREVENTIVE + enc.ACUTE:
        if visit.season:
            in_season[C.principal == T.index[visit.code]] = np.array(SEASONS[visit.season]) > 0
    S.day = shift_to_open_days(rng, S.day, setting, low, high, same, in_season)
    S.age_days = np.where(newborn, S.day - P.birth_day[pid], S.age_days)
    order = np.lexsort((S.kind != BIRTH, S.day, S.pid))
    reorder(S, order)
    reorder(C, order)


def _code_severity(T: Tables, C: Claims, dx: np.ndarray) -> None:
    """The DRG tier follows the listed secondaries (`drg.py`); a stay's length and charge follow its new tier."""
    C.drg, tier = retier(T.vocab, dx, C.drg)
    stay = C.severity >= 0
    old, new = C.severity[stay], tier[stay]
    C.base_charge[stay] *= np.array(enc.SEVERITY_MULTIPLIER)[new] / np.array(enc.SEVERITY_MULTIPLIER)[old]
    C.los[stay] = np.maximum(1, np.round(C.los[stay] * np.array(LOS_FACTOR)[new] / np.array(LOS_FACTOR)[old]))


def _primary_care(rng: np.random.Generator, age: np.ndarray) -> np.ndarray:
    adult = np.where(rng.random(len(age)) < .6, SPECIALTIES.index("family_medicine"), SPECIALTIES.index("internal_medicine"))
    return np.where(age < 18, SPECIALTIES.index("pediatrics"), adult).astype(np.int16)


def compact(codes: np.ndarray, width: int) -> np.ndarray:
    """Move the filled (>= 0) entries of each row to the left, keep `width` columns, pad with -1."""
    order = np.argsort(codes < 0, axis=1, kind="stable")
    packed = np.take_along_axis(codes, order, axis=1)[:, :width]
    if packed.shape[1] < width:
        packed = np.pad(packed, ((0, 0), (0, width - packed.shape[1])), constant_values=-1)
    return packed


def _procedures(rng: np.random.Generator, T: Tables, P: Patients, S: Schedule, C: Claims) -> np.ndarray:
    """E/M code (office level by complexity, preventive by age, ED level) first, then the reason's procedures."""
    n = len(S.pid)
    burden = np.minimum(P.burden[S.pid], 6)
    new = rng.random(n) < NEW_PATIENT_SHARE
    score = C.acuity + .35 * burden + rng.normal(0, .6, n)
    level = np.digitize(score, OFFICE_LEVELS)
    office = np.where(new, _idx(T, "9920{}", range(2, 6))[level], _idx(T, "9921{}", range(2, 6))[level])
    band = np.digitize(S.age, PREVENTIVE_AGES)
    preventive = np.where(new, _idx(T, "9938{}", range(1, 8))[band], _idx(T, "9939{}", range(1, 8))[band])
    # Medicare pays the annual wellness visit instead of the 9938x/9939x codes: G0438 once, G0439 after it
    medicare = P.payer[S.pid] == 0
    wellness = medicare & (C.evaluation == enc.EVALUATIONS.index("preventive"))
    rank = _rank_per_patient(S.pid, S.day, wellness)
    welcome = (rank == 0) & (S.age == WELCOME_AGE)
    after_welcome = (rank == 1) & np.isin(S.pid, S.pid[welcome])
    initial = ((rank == 0) & ~welcome & (rng.random(n) < INITIAL_WELLNESS_SHARE)) | after_welcome
    medicare_code = np.select([welcome, initial], [T.index["G0402"], T.index["G0438"]], T.index["G0439"])
    preventive = np.where(medicare, medicare_code, preventive)
    ed_level = np.digitize(C.acuity + .3 * burden + rng.normal(0, .7, n), ED_LEVELS)
    # a hospital's ED levels count resources: levels 4-5 need a diagnostic work-up (ACEP facility level guidelines)
    ed_level = np.where((ed_level >= 3) & (C.px < 0).all(axis=1), 2, ed_level)
    ed = _idx(T, "9928{}", range(1, 6))[ed_level]
    evaluation = np.select(
        [C.evaluation == enc.EVALUATIONS.index(name) for name in ("office", "preventive", "ed")], [office, preventive, ed], -1
    )
    return compact(np.concatenate([evaluation[:, None], C.px], axis=1), schema.PX_SLOTS)


def _preventive_frequency(S: Schedule, C: Claims) -> np.ndarray:
    """Row numbers to keep: every row but preventive visits sooner than `PREVENTIVE_INTERVAL_DAYS` after the
    patient's previous kept one (age 3 and over)."""
    rows = np.flatnonzero((C.evaluation == enc.EVALUATIONS.index("preventive")) & (S.age >= PREVENTIVE_FREQUENT_BEFORE_AGE))
    rows = rows[np.lexsort((rows, S.day[rows], S.pid[rows]))]
    keep = np.ones(len(S.pid), bool)
    last_pid, last_day = -1, 0
    for row, pid, day in zip(rows.tolist(), S.pid[rows].tolist(), S.day[rows].tolist()):
        if pid == last_pid and day - last_day < PREVENTIVE_INTERVAL_DAYS:
            keep[row] = False
        else:
            last_pid, last_day = pid, day
    return np.flatnonzero(keep)


def _rank_per_patient(pid: np.ndarray, day: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... over each patient's rows among `mask` in date order (ties: row order); -1 off the mask."""
    rows = np.flatnonzero(mask)
    rows = rows[np.lexsort((rows, day[rows], pid[rows]))]
    out = np.full(len(pid), -1, np.int64)
    if rows.size:
        start = np.r_[True, pid[rows][1:] != pid[rows][:-1]]
        first = np.maximum.accumulate(np.where(start, np.arange(rows.size), 0))
        out[rows] = np.arange(rows.size) - first
    return out


def _idx(T: Tables, pattern: str, digits) -> np.ndarray:
    return np.array([T.index[pattern.format(d)] for d in digits], np.int32)


def _finish(df: pl.DataFrame, T: Tables, seed: int, release_id: str) -> pl.DataFrame:
    vocab = pl.Series("vocab", T.vocab, dtype=pl.String)

    def lookup(values, column: str) -> pl.Expr:
        return pl.lit(pl.Series(values, dtype=pl.String)).gather(pl.col(column)).alias(column)

    def code(column: str) -> pl.Expr:
        return pl.lit(vocab).gather(pl.when(pl.col(column) >= 0).then(pl.col(column))).alias(column)

    row = pl.int_range(pl.len(), dtype=pl.Int64).cast(pl.String).str.zfill(9)
    out = df.select(
        pl.lit(release_id, dtype=pl.String).alias("release_id"),
        pl.format("RC{}-{}", pl.lit(seed), row).alias("claim_id"),
        pl.format("RP{}-{}", pl.lit(seed), pl.col("patient").cast(pl.String).str.zfill(8)).alias("patient_id"),
        lookup(schema.CLAIM_TYPES, "claim_type"),
        (pl.col("day") + WINDOW_START_EPOCH_DAY).cast(pl.Date).alias("service_date"),
        "los_days", "age",
        pl.when(pl.col("female")).then(pl.lit("F")).otherwise(pl.lit("M")).alias("sex"),
        lookup(schema.REGIONS, "region"), lookup(schema.PAYERS, "payer"),
        *(code(c) for c in schema.DX_COLUMNS), *(code(c) for c in schema.PX_COLUMNS),
        pl.when(pl.col("drg") != "").then(pl.col("drg")).alias("drg"),
        "charge_amount", "allowed_amount", "paid_amount",
        lookup(SPECIALTIES, "specialty").alias("provider_specialty"),
    )
    return schema.conform(out)

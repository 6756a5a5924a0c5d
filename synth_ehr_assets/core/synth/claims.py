"""Synthetic claims (DESIGN §6): sample → nearest valid code → generalise → clinical edits → privacy filters.

A row that fails an edit or a privacy filter is dropped and resampled (bounded rounds), never patched; the
report gives the rejection rate per rule. Coverage targets ("at least N claims whose principal diagnosis is X /
in category Y") are met by sampling exactly that many rows conditioned on dx_1 = X, then resampling any of them
that fail. Edits run on the generalised values, i.e. on what is released. Same inputs + seed → same table.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import polars as pl

from synth_ehr_assets.core import schema
from synth_ehr_assets.core.spec import CodesConfig, PrivacyConfig
from synth_ehr_assets.core.synth import privacy_filters, rules
from synth_ehr_assets.core.synth.code_mapper import CONDITION_COLUMN, CodeMapper
from synth_ehr_assets.core.synth.condition_profile import ConditionProfile
from synth_ehr_assets.core.synth.marginal_matching import DEFAULT_MATCHED, MarginalMatcher, PreselectingDecoder
from synth_ehr_assets.core.synth.setting_cells import InpatientProfile, SettingCells, SettingQuotaDecoder
from synth_ehr_assets.core.synth.setting_draws import ChargesBySetting, InpatientDetails
from synth_ehr_assets.core.synth.principal_plan import coverage_conditions, principal_plan, reallocate
from synth_ehr_assets.core.synth.transformer import TableTransformer
from synth_ehr_assets.core.progress import Progress

CONDITION_POOL_FILE = "principal_pool.json"
CLAIM_COLUMN_KINDS: dict[str, str] = {
    "claim_type": "categorical",
    "service_date": "numerical",
    "los_days": "numerical",
    "age": "numerical",
    "sex": "categorical",
    "region": "categorical",
    "payer": "categorical",
    **{c: "icd10cm" for c in schema.DX_COLUMNS},
    **{c: "icd10cm" for c in schema.PX_COLUMNS},
    "drg": "categorical",
    "charge_amount": "numerical",
    "allowed_amount": "numerical",
    "paid_amount": "numerical",
    "provider_specialty": "categorical",
}
# What the synthesizer models differs from the claim columns where the claim's setting fixes a value:
# - amounts after the charge as shares of the amount before them (allowed/charge, paid/allowed), so every decoded
#   row has 0 ≤ paid ≤ allowed ≤ charge by construction, not by rejection;
# - the length of stay as `stay_days`, present on inpatient claims only and learned from inpatient stays alone
#   (≥ 1 day), while professional and outpatient claims carry a stay of 0 and no DRG by definition of the setting.
# Without this a decoded inpatient row often came back with a stay of 0 or no DRG and was rejected, and the
# resampling then under-represented inpatient claims.
AMOUNT_SHARES = {"allowed_share": ("allowed_amount", "charge_amount"), "paid_share": ("paid_amount", "allowed_amount")}
MODEL_COLUMN_KINDS: dict[str, str] = {
    **{name: kind for name, kind in CLAIM_COLUMN_KINDS.items() if name not in ("los_days", "allowed_amount", "paid_amount")},
    "stay_days": "numerical",
    **dict.fromkeys(AMOUNT_SHARES, "numerical"),
}
_INPATIENT = pl.col("claim_type") == "inpatient"
PROFILE_COLUMNS = ("sex", "claim_type", "payer")  # with the age band: the principal's profile (ConditionProfile)
MAX_ROUNDS = 12
REALLOCATE_ROUND = 4  # from this round on, free rows of a principal code that keeps failing go to other codes
CELL_ROUNDS = 10  # rounds holding each principal's inpatient share (`SettingCells`); later rounds fill any setting
MIN_ACCEPTANCE = 0.02  # oversampling never assumes that fewer than 2% of sampled rows survive
OVERSAMPLE = 1.1
# With marginal matching a round generates MATCHING_OVERSAMPLE × the rows it needs, keeps PRESELECT_MARGIN × of
# them by the matched draw before any code is decoded, and chooses again among the survivors of the edits.
MATCHING_OVERSAMPLE = 2.5
PRESELECT_MARGIN = 1.3
FIRST_ROUND_ACCEPTANCE = 0.9  # assumed before any row was screened (rows are mapped to admissible codes)
CLAIM_ID_PREFIX, PATIENT_ID_PREFIX = "SC", "SP"


def model_frame(claims: pl.DataFrame) -> pl.DataFrame:
    """Claims → the synthesizer's columns (`MODEL_COLUMN_KINDS`): amount shares and the inpatient stay. Over a
    base of 0 the share is 0, not missing: a missing share taught the model to leave paid empty on 1% of rows."""
    shares = [
        pl.when(pl.col(base) > 0).then(pl.col(amount) / pl.col(base))
        .otherwise(pl.when(pl.col(amount).is_not_null()).then(0.0)).alias(share)
        for share, (amount, base) in AMOUNT_SHARES.items()
    ]
    stay = pl.when(_INPATIENT).then(pl.col("los_days")).otherwise(None).alias("stay_days")
    return claims.with_columns(*shares, stay).select(list(MODEL_COLUMN_KINDS))


def claims_frame(modelled: pl.DataFrame) -> pl.DataFrame:
    """The synthesizer's columns → claim columns. Money is in cents: the charge is rounded to the cent, then each
    share is clipped to [0, 1] and its product rounded to the cent, which keeps paid ≤ allowed ≤ charge (a product
    with a share ≤ 1 never exceeds its base, and rounding to the cent grid the base lies on cannot cross it);
    non-inpatient claims get a stay of 0 and no DRG."""
    allowed = (pl.col("charge_amount") * pl.col("allowed_share").clip(0, 1)).round(2)
    return (
        modelled.with_columns(pl.col("charge_amount").round(2))
        .with_columns(
            allowed_amount=allowed,
            los_days=pl.when(_INPATIENT).then(pl.col("stay_days")).otherwise(pl.lit(0)).cast(pl.Int32),
            drg=pl.when(_INPATIENT).then(pl.col("drg")).otherwise(None),
        )
        .with_columns(paid_amount=pl.when(pl.col("allowed_amount") == 0).then(0.0)
                      .otherwise((pl.col("allowed_amount") * pl.col("paid_share").clip(0, 1)).round(2)))
        .drop([*AMOUNT_SHARES, "stay_days"])
    )


def code_decoder(decoding: str, synthesizer, train_claims, code_index, widen: bool, seed: int, sigma=None,
                 support=None):
    """The `CodeDecoder` of `synthesizer.code_decoding`: calibrated posterior draws (σ calibrated on the training
    rows against what the synthesizer generates, unless given), or the argmax nearest code."""
    if decoding == "argmax":
        return CodeMapper(synthesizer.transformer, train_claims, code_index, widen)
    if decoding != "calibrated":
        raise ValueError(f"synthesizer.code_decoding must be 'calibrated' or 'argmax', got {decoding!r}")
    from synth_ehr_assets.core.synth.calibrated_decoder import CalibratedCodeMapper, calibrate_sigma

    mapper = CalibratedCodeMapper(synthesizer.transformer, train_claims, code_index, widen, seed=seed, sigma=sigma,
                                  support=support)
    if sigma is None and getattr(synthesizer, "generator", None) is not None:
        calibrate_sigma(mapper, synthesizer, train_claims, seed)
    return mapper


class SynthesisError(RuntimeError):
    """Synthetic claims could not be completed (e.g. a coverage code whose rows keep failing an edit)."""


def encode_claim_features(source_claims: pl.DataFrame, config, seed: int, code_vectors, folder: Path,
                          train_only: tuple[str, ...] = ()):
    """Fit the transformer on the seeded train split of `source_claims` (ordered by claim_id) and save it, the
    encoded split and the training counts of principal codes (the GAN's condition pool) under `folder`.
    Returns (table `release_id, claim_id, split`, `EncodedFeatures`)."""
    from synth_ehr_assets.core.synth.synthesizer import ConditionPool, encode_features

    source = source_claims.sort("claim_id")
    patients = source["patient_id"] if config.holdout_by_patient and "patient_id" in source.columns else None
    forced = source["claim_id"].is_in(list(train_only)).to_numpy()  # planted canaries stay in train
    features = encode_features(model_frame(source), MODEL_COLUMN_KINDS, config, seed, code_vectors, groups=patients,
                               forced_train=forced)
    train = source[features.train_rows]
    profile = ConditionProfile.fit(train, CONDITION_COLUMN, PROFILE_COLUMNS)
    profile.save(folder)
    features.condition_extra = profile.encode(train[CONDITION_COLUMN])
    features.save(folder)
    pool = ConditionPool.from_series(train[CONDITION_COLUMN])
    (Path(folder) / CONDITION_POOL_FILE).write_text(json.dumps({"values": pool.values, "weights": pool.weights}))
    holdout = pl.int_range(pl.len()).is_in(features.holdout_rows.tolist())
    validation = pl.int_range(pl.len()).is_in([] if features.validation_rows is None else features.validation_rows.tolist())
    split = source.select("release_id", "claim_id").with_columns(
        split=pl.when(holdout).then(pl.lit("holdout")).when(validation).then(pl.lit("validation"))
        .otherwise(pl.lit("train"))
    )
    return split, features


def assemble_synthesizer(features_folder: Path, transformer, autoencoder, generator, config, seed: int):
    """A claims `TableSynthesizer` from the stages fitted one asset at a time (condition: dx_1)."""
    from synth_ehr_assets.core.synth.synthesizer import ConditionPool, TableSynthesizer

    synthesizer = TableSynthesizer(MODEL_COLUMN_KINDS, config, seed, transformer.code_vectors, CONDITION_COLUMN)
    synthesizer.transformer, synthesizer.autoencoder, synthesizer.generator = transformer, autoencoder, generator
    synthesizer.condition_pool = ConditionPool(**json.loads((Path(features_folder) / CONDITION_POOL_FILE).read_text()))
    synthesizer.condition_profile = ConditionProfile.load(features_folder)
    return synthesizer


def release_blocks(spec) -> dict:
    """The parts of a release spec that synthesis reads, as keyword arguments of `synthesize_claims`."""
    return {
        "release_id": spec.release_id, "seed": spec.seed, "coverage": spec.coverage, "codes": spec.codes,
        "privacy": spec.privacy, "decoding": spec.synthesizer.code_decoding,
        "sigma": spec.synthesizer.code_likelihood_sigma, "matched": spec.synthesizer.matched_marginals,
    }


def synthesize_claims(
    synthesizer,
    n_rows: int,
    *,
    code_index,
    train_claims: pl.DataFrame,
    seed: int,
    privacy: PrivacyConfig,
    release_id: str = "",
    coverage: list | None = None,
    codes: CodesConfig | None = None,
    decoding: str = "calibrated",
    sigma: float | None = None,
    matched: list[str] | tuple[str, ...] = DEFAULT_MATCHED,
    progress: Progress | None = None,
    protected_claims: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, dict]:
    """`n_rows` synthetic claims in `CLAIM_SCHEMA` and a report (rounds, rejections per rule, coverage, timings).

    `synthesizer` is a fitted `base.Synthesizer` on `MODEL_COLUMN_KINDS` conditioned on dx_1; `code_index` the
    catalog `NearestCodeIndex` (vectors of codes unseen in training); `protected_claims` (default:
    `train_claims`) the source rows no synthetic row may copy and whose ids are never reused. `seed`, `coverage`,
    `codes` and `privacy` are the release's blocks (`release_blocks(spec)`); `decoding` picks the code decoder
    (`calibrated`: `calibrated_decoder`, `argmax`: nearest admissible code); `matched` the columns whose training
    marginals choose which surviving rows a round keeps (`marginal_matching`; empty: the first ones).
    Every row is sampled conditioned on its principal code (`principal_plan`); a rejected row is resampled with
    the same principal code, in at most `MAX_ROUNDS` rounds.
    """
    started = time.perf_counter()
    protected = train_claims if protected_claims is None else protected_claims
    codes = codes or CodesConfig()
    statistics = getattr(synthesizer, "release_statistics", None)
    if statistics is not None:  # a DP kind: every training statistic below is read from its own DP output instead
        train_claims = statistics(code_index, seed, codes.widen_to_catalog)
    rng = np.random.default_rng([seed, 1])
    coverage_rows, coverage = coverage_conditions(coverage or [], train_claims, rng)
    plan = principal_plan(n_rows, coverage_rows, train_claims, rng)
    support = rules.TrainingSupport.from_claims(train_claims, widen=codes.widen_to_catalog)  # edits and decoder
    screen = _Screen(synthesizer.transformer, privacy, protected, train_claims, support)
    mapper = code_decoder(decoding, synthesizer, train_claims, code_index, codes.widen_to_catalog, seed, sigma, support)
    cells, inpatient_profile = SettingCells(plan, train_claims, rng), InpatientProfile(train_claims)
    inpatient, charges = InpatientDetails(train_claims), ChargesBySetting(train_claims)
    matcher = MarginalMatcher(train_claims, matched)
    # before codes are decoded the amounts are still shares or on the GAN's scale: they are matched afterwards only
    prematcher = matcher.without({"charge_amount", *AMOUNT_SHARES, *dict(AMOUNT_SHARES.values())})
    # While the cells hold each principal's inpatient share, raking claim type as well works against them: after
    # the first round a round's rows are the principals still short, mostly inpatient ones, and raking them to
    # the population's 4% inpatient kept pneumonia's inpatient rows from ever being decoded (200,000 claims: four
    # rounds of 220,000 rows each to gain 4,000 rows).
    cell_matchers = (matcher.without({"claim_type"}), prematcher.without({"claim_type"})) if cells else (matcher, prematcher)
    oversample = MATCHING_OVERSAMPLE if matcher.columns else OVERSAMPLE
    kept: list[pl.DataFrame] = []
    have = dict.fromkeys(plan, 0)
    sampled, survived = dict.fromkeys(plan, 0), dict.fromkeys(plan, 0)
    rounds = reallocated = topped_up = 0
    spare = pl.DataFrame()
    while any(have[code] < plan[code] for code in plan):
        if rounds == MAX_ROUNDS:
            short = {code: plan[code] - have[code] for code in plan if have[code] < plan[code]}
            missing = sum(short.values())
            if not any(c in coverage_rows for c in short) and missing <= max(5, n_rows // 200) and spare.height >= missing:
                # a handful of free rows whose principal never passed: rows that passed every edit and filter for
                # other principals (left over by the last round) take their place; the report counts them
                kept.append(spare.head(missing))
                topped_up = missing
                break
            raise SynthesisError(
                f"after {MAX_ROUNDS} rounds, rows still missing per principal code: {dict(list(short.items())[:20])}; "
                f"rows rejected per rule: { {k: v for k, v in screen.rejected.items() if v} }"
            )
        rounds += 1
        overall = sum(survived.values()) / max(sum(sampled.values()), 1) if rounds > 1 else FIRST_ROUND_ACCEPTANCE
        if rounds == REALLOCATE_ROUND or rounds >= MAX_ROUNDS - 2:  # the last tries move every free row still missing
            reallocated += reallocate(plan, have, coverage_rows, survived, sampled, rng, rounds >= MAX_ROUNDS - 2)
            cells.resize(plan, rng)
            cells.release_failing(overall, rng)
        holding_cells = rounds < CELL_ROUNDS and bool(cells)
        request, decode, inpatient_share = {}, {}, {}
        for code in plan:
            if have[code] < plan[code]:
                rate = (survived[code] + 10 * overall) / (sampled[code] + 10)  # smoothed toward the overall rate
                need = (plan[code] - have[code]) / max(rate, MIN_ACCEPTANCE)
                by_cell = cells.need(code, rate, MIN_ACCEPTANCE) if holding_cells else None
                if by_cell is not None:
                    need, inpatient_share[code] = by_cell
                request[code] = math.ceil(need * oversample)
                decode[code] = math.ceil(need * PRESELECT_MARGIN)
        round_seed = int(np.random.SeedSequence([seed, rounds]).generate_state(1)[0])
        decoder = SettingQuotaDecoder(mapper, inpatient_share, np.random.default_rng([seed, rounds, 7]), inpatient_profile)
        round_matcher, round_prematcher = cell_matchers if holding_cells else (matcher, prematcher)
        if round_prematcher.columns and rounds < MAX_ROUNDS - 2:  # the last tries decode every row they generate
            fractions = {code: min(1.0, decode[code] / request[code]) for code in request}
            decoder = PreselectingDecoder(decoder, round_prematcher, fractions, np.random.default_rng([seed, rounds, 6]))
        frame = synthesizer.sample(sum(request.values()), conditions=request, code_decoder=decoder, seed=round_seed)
        frame = frame.with_columns(pl.col(CONDITION_COLUMN).cast(pl.String))
        frame = charges.apply(frame, np.random.default_rng([seed, rounds, 4]))  # before the shares become amounts
        frame = inpatient.apply(claims_frame(frame), np.random.default_rng([seed, rounds, 3]))
        for code, count in frame[CONDITION_COLUMN].value_counts().iter_rows():  # rows decoded and screened
            if code in sampled:
                sampled[code] += count
        cells.count_sampled(frame)
        accepted = screen(schema.conform(frame))
        for code, count in accepted[CONDITION_COLUMN].value_counts().iter_rows():
            survived[code] += count
        accepted = round_matcher.ordered(accepted, np.random.default_rng([seed, rounds, 5]), CONDITION_COLUMN,
                                   {code: plan[code] - have[code] for code in plan})
        if holding_cells:  # hold each principal's inpatient share; the last rounds let go
            accepted = cells.keep(accepted)
        missing_rows = pl.col(CONDITION_COLUMN).replace_strict(
            list(plan), [plan[c] - have[c] for c in plan], default=0, return_dtype=pl.Int64
        )
        needed = pl.int_range(pl.len()).over(CONDITION_COLUMN) < missing_rows
        spare = accepted.filter(~needed & ~pl.col(CONDITION_COLUMN).is_in(list(coverage_rows)))
        accepted = accepted.filter(needed)
        for code, count in accepted[CONDITION_COLUMN].value_counts().iter_rows():
            have[code] += count
        kept.append(accepted)
        if progress:
            progress(sum(have.values()), n_rows)
    if (finish := getattr(synthesizer, "assemble_release", None)) is not None:  # journey: patients of all kept rows
        kept = [finish(pl.concat(kept), seed, screen, protected)]
    claims = _with_ids(pl.concat(kept), release_id, seed, protected)
    total_sampled = sum(sampled.values())
    for item in coverage:
        item["achieved"] = int(claims.filter(_target_expr(item)).height)
    report = {
        "rows": claims.height,
        "rounds": rounds,
        "principal_codes": len(plan),
        "reallocated_rows": reallocated,
        "topped_up_rows": topped_up,
        "sampled_rows": total_sampled,
        "rejected_rows": screen.rejected_rows,
        "rejection_rate": screen.rejected_rows / max(total_sampled, 1),
        "rejected_by_rule": dict(screen.rejected),
        "rejection_rate_by_rule": {rule: n / max(total_sampled, 1) for rule, n in screen.rejected.items()},
        "dropped_by_privacy": dict(screen.privacy_dropped),
        "coverage": coverage,
        "code_pools": mapper.pool_sizes,
        **cells.report(),
        "code_decoding": decoding,
        "code_likelihood_sigma": getattr(mapper, "sigma", None),
        "seconds": time.perf_counter() - started,
    }
    report["rows_per_second"] = claims.height / max(report["seconds"], 1e-9)
    return claims, report


def _target_expr(item: dict) -> pl.Expr:
    if item["code"] is not None:
        return pl.col(CONDITION_COLUMN) == item["code"]
    return pl.col(CONDITION_COLUMN).str.starts_with(item["category"])


class _Screen:
    """Generalise, then drop rows failing an edit, copying a protected row, or lying too close to a train row."""

    def __init__(self, transformer: TableTransformer, privacy: PrivacyConfig, protected: pl.DataFrame,
                 train: pl.DataFrame, support):
        self.transformer, self.privacy = transformer, privacy
        self.support = support
        self.copy_keys = privacy_filters.copy_keys(privacy_filters.generalise(protected, privacy)).unique()
        threshold = privacy.near_duplicate_distance
        self.train_features = (
            transformer.transform(model_frame(train)) if threshold > 0 else None
        )
        self.rejected: dict[str, int] = {rule: 0 for rule in rules.RULES}
        self.privacy_dropped = {"exact_copy": 0, "near_duplicate": 0}
        self.rejected_rows = 0

    def __call__(self, frame: pl.DataFrame) -> pl.DataFrame:
        frame = privacy_filters.generalise(frame, self.privacy)
        violations = rules.violations_by_row(frame, self.support)
        for rule, rows in rules.rule_counts(violations).items():
            self.rejected[rule] += rows
        passing = frame.filter(~pl.int_range(frame.height).is_in(violations["_row"].unique().implode()))
        drop = np.zeros(passing.height, dtype=bool)
        if self.privacy.drop_exact_matches and passing.height:
            copies = privacy_filters.copy_mask(passing, self.copy_keys).to_numpy()
            self.privacy_dropped["exact_copy"] += int(copies.sum())
            drop |= copies
        if self.train_features is not None and passing.height:
            features = self.transformer.transform(model_frame(passing))
            near = privacy_filters.near_duplicate_mask(
                features, self.train_features, self.privacy.near_duplicate_distance
            )
            self.privacy_dropped["near_duplicate"] += int((near & ~drop).sum())
            drop |= near
        self.rejected_rows += frame.height - passing.height + int(drop.sum())
        return passing.filter(pl.Series(~drop))


def _with_ids(claims: pl.DataFrame, release_id: str, seed: int, protected: pl.DataFrame) -> pl.DataFrame:
    """New claim and patient ids, release id, canonical schema, deterministic order. One patient per claim, unless
    the sampled rows carry a patient key in `patient_id` (the `journey` kind): then one minted id per key."""
    rng = np.random.default_rng([seed, 2])
    taken = pl.concat([protected["claim_id"].cast(pl.String), protected["patient_id"].cast(pl.String)])
    claim_ids = privacy_filters.mint_ids(claims.height, CLAIM_ID_PREFIX, rng, taken)
    keys = claims["patient_id"].cast(pl.String) if "patient_id" in claims.columns else None
    if keys is None or keys.null_count():
        patient_ids = privacy_filters.mint_ids(claims.height, PATIENT_ID_PREFIX, rng, taken)
    else:
        unique = keys.unique(maintain_order=True)
        minted = privacy_filters.mint_ids(unique.len(), PATIENT_ID_PREFIX, rng, taken)
        patient_ids = keys.replace_strict(unique, minted)
    claims = claims.with_columns(
        pl.lit(release_id).alias("release_id"), claim_ids.alias("claim_id"), patient_ids.alias("patient_id")
    )
    return schema.conform(claims).sort("service_date", "claim_id")

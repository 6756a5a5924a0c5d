"""Attack-based privacy risks (anonymeter): singling out, linkability and attribute inference, with intervals whose
upper limits hold jointly at 95% over the four attacks (Bonferroni: each one-sided at 98.75%).

Each attack runs against a seeded sample of the real training claims and, as the control, an equal sample of the
real holdout (rows the model never saw); the risk is anonymeter's residual success on train over the control, so a
risk of 0 means the synthetic table helps an attacker against members no more than against strangers. The
attacker sees one row per claim in `attack_view`: demographics, service day, setting, amounts, the first three
diagnoses, the first procedure, the DRG, the specialty and a sensitive-diagnosis flag (HIV, mental health,
substance use in any slot). Linkability joins the demographics + dates half to the codes half; inference guesses
the sensitive flag from everything but the codes. A guess on one target does not depend on the others, so
inference attacks `INFERENCE_TRAIN_MULTIPLE` × as many train targets as control rows: the holdout caps the
control, and the train side's sampling noise was what moved the demo's inference risk from 0.012 to 0.089 between
attack seeds on one synthetic table. Singling out counts queries that match one row, which depends on how many
rows are searched, so it (and linkability, whose anonymeter evaluator takes one count) uses equal sides. Every
draw is seeded; the univariate attack uses every
univariate query that singles out a synthetic row (anonymeter orders them by an unordered polars group-by, so a
subset of them would change from run to run).
"""

from __future__ import annotations

import logging
import math
import os
import time
import warnings

import polars as pl

from synth_ehr_assets.core.evaluation.figures import require
from synth_ehr_assets.core.evaluation.features import held_out_by_patient
from synth_ehr_assets.core.evaluation.sdmetrics_bridge import patient_order, subsample_patients
from synth_ehr_assets.core.schema import DX_COLUMNS
from synth_ehr_assets.core.spec import GateThresholds

logger = logging.getLogger(__name__)

ATTACKS = ("singling_out_univariate", "singling_out_multivariate", "linkability", "inference_sensitive_dx")
FAMILY_CONFIDENCE = 0.95
# two-sided level whose upper limit is one-sided at 1 - (1 - FAMILY_CONFIDENCE) / 4
CONFIDENCE = 1 - 2 * (1 - FAMILY_CONFIDENCE) / len(ATTACKS)
INFERENCE_TRAIN_MULTIPLE = 3
# B20 HIV disease, Z21 asymptomatic HIV, F10-F19 substance use, F20-F48 psychotic, mood and anxiety disorders
SENSITIVE_DX = r"^(B20|Z21|F1[0-9]|F2[0-9]|F3[0-9]|F4[0-8])"
DEMOGRAPHICS_AND_DATES = ["age", "sex", "region", "payer", "claim_type", "service_day"]
CODES = ["dx_1", "dx_2", "dx_3", "px_1", "drg"]
INFERENCE_AUX = ["age", "sex", "region", "payer", "claim_type", "service_day", "los_days", "charge_amount",
                 "paid_amount", "px_1", "drg", "provider_specialty"]
SECRET = "sensitive_dx"


def _sensitive(claims: pl.DataFrame) -> pl.Series:
    codes = pl.concat_list(DX_COLUMNS).list.drop_nulls()
    return claims.select(codes.list.eval(pl.element().str.contains(SENSITIVE_DX)).list.any()).to_series()


def matched_targets(real_train: pl.DataFrame, real_holdout: pl.DataFrame, rows: int, seed: int, multiple: int = 1):
    """(train targets, control targets): `rows` seeded holdout rows and up to `multiple` × as many train rows, in
    chunks of the control's size with its count of sensitive flags, so a base-rate gap between two real samples
    (claims cluster by patient) is not read as leakage. The first `rows` train targets are one matched chunk.

    With a holdout of whole patients both samples are whole patients in seeded order: a row sample of the large
    train split holds ~1 claim per patient, which singles out more easily than the holdout's ~3, and that gap alone
    read as a multivariate singling-out risk of 0.058 on the demo. With a claim-level split, rows at random.
    """
    if held_out_by_patient(real_train, real_holdout):
        control, ordered = subsample_patients(real_holdout, rows, seed + 1), patient_order(real_train, seed)
    else:
        control = real_holdout.sample(min(rows, real_holdout.height), seed=seed + 1, shuffle=True)
        ordered = real_train.sample(fraction=1.0, shuffle=True, seed=seed)
    flagged = int(_sensitive(control).sum())
    train_flag = _sensitive(ordered)
    parts = [ordered.filter(train_flag == value) for value in (True, False)]
    wanted = (flagged, control.height - flagged)
    if any(part.height < n for part, n in zip(parts, wanted)):
        raise ValueError(f"attack risks: train has {parts[0].height} sensitive / {parts[1].height} other claims, "
                         f"the control sample needs {wanted[0]} / {wanted[1]}")
    chunks = min([multiple] + [part.height // n for part, n in zip(parts, wanted) if n])
    train = pl.concat([
        pl.concat([part.slice(k * n, n) for part, n in zip(parts, wanted)]).sample(fraction=1.0, shuffle=True,
                                                                                   seed=seed + k)
        for k in range(chunks)
    ])
    return train, control.sample(fraction=1.0, shuffle=True, seed=seed)


def attack_view(claims: pl.DataFrame):
    """The attacker's columns as a pandas frame (anonymeter works on pandas)."""
    codes = pl.concat_list(DX_COLUMNS).list.drop_nulls()
    return claims.select(
        "age", "sex", "region", "payer", "claim_type",
        pl.col("service_date").cast(pl.Int32).alias("service_day"),
        "los_days", "charge_amount", "paid_amount", *CODES[:4], "drg", "provider_specialty",
        codes.list.eval(pl.element().str.contains(SENSITIVE_DX)).list.any().cast(pl.String).alias(SECRET),
    ).to_pandas()


def risk_figures(name: str, results) -> dict[str, float]:
    """One attack's figures from anonymeter's `EvaluationResults` (at `CONFIDENCE`)."""
    from anonymeter.stats.confidence import residual_success

    risk = results.risk()
    # the half-width before clipping to [0, 1]: a clipped interval would make its own bound
    error = residual_success(attack_rate=results.attack_rate, control_rate=results.control_rate).error
    return {
        f"attack_risk.{name}": float(risk.value),
        f"attack_risk_half_width.{name}": float(error),
        f"attack_risk_ci_low.{name}": float(risk.ci[0]),
        f"attack_risk_ci_high.{name}": float(risk.ci[1]),
        f"attack_success_train.{name}": float(results.attack_rate.value),
        f"attack_success_control.{name}": float(results.control_rate.value),
    }


def _singling_out(train, synth, control, rows: int, univariate: int, seed: int) -> dict[str, float]:
    from anonymeter.evaluators import SinglingOutEvaluator

    figures: dict[str, float] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "attack no better than baseline": the expected case for a safe release
        for mode, attacks in (("univariate", max(univariate, 1)), ("multivariate", rows)):
            evaluator = SinglingOutEvaluator(ori=train, syn=synth, control=control, n_attacks=attacks, seed=seed)
            figures |= risk_figures(f"singling_out_{mode}", evaluator.evaluate(mode=mode).results(CONFIDENCE))
    return figures


def _linkability_and_inference(train, targets, synth, control, rows: int) -> dict[str, float]:
    from anonymeter.evaluators import InferenceEvaluator, LinkabilityEvaluator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        linkability = LinkabilityEvaluator(ori=train, syn=synth, control=control, n_attacks=rows,
                                           aux_cols=(DEMOGRAPHICS_AND_DATES, CODES))
        figures = risk_figures("linkability", linkability.evaluate(n_jobs=1).results(CONFIDENCE))
        inference = InferenceEvaluator(ori=targets, syn=synth, control=control, aux_cols=INFERENCE_AUX,
                                       secret=SECRET, n_attacks=len(targets))
        return figures | risk_figures("inference_sensitive_dx", inference.evaluate(n_jobs=1).results(CONFIDENCE))


def attack_risks(real_train: pl.DataFrame, real_holdout: pl.DataFrame, synthetic: pl.DataFrame, seed: int,
                 attack_rows: int = 2000) -> dict[str, float]:
    """The four risks with their intervals and success rates on `attack_rows` control rows (fewer when the holdout
    is smaller) and as many matched train targets. Real rows must be generalised like the release."""
    import numpy as np
    from anonymeter.evaluators.singling_out_evaluator import univariate_singling_out_queries
    from joblib import Parallel, delayed

    rows = min(attack_rows, real_train.height // 2, real_holdout.height)
    if rows < 50:
        raise ValueError(f"attack risks need at least 50 real holdout and 100 train rows; got {rows} targets")
    started = time.perf_counter()
    # Whole pre-drawn samples as targets: anonymeter's own target draw is unseeded, a full draw is a permutation.
    targets, control = (attack_view(frame) for frame in
                        matched_targets(real_train, real_holdout, rows, seed, INFERENCE_TRAIN_MULTIPLE))
    train, synth = targets.iloc[:rows], attack_view(synthetic)
    figures: dict[str, float] = {"attack_rows": float(rows), "attack_inference_train_targets": float(len(targets)),
                                 "attack_family_confidence": FAMILY_CONFIDENCE}
    unique_synth = pl.from_pandas(synth).unique(maintain_order=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        univariate = len(univariate_singling_out_queries(unique_synth, n_queries=10**9,
                                                         rng=np.random.default_rng(seed)))
    figures["singling_out_univariate_queries"] = float(univariate)
    # singling out (about 60% of the time) in a second worker beside linkability and inference; seeded alike
    jobs = [(_singling_out, (train, synth, control, rows, univariate, seed)),
            (_linkability_and_inference, (train, targets, synth, control, rows))]
    workers = min(len(jobs), os.cpu_count() or 1)
    for part in Parallel(n_jobs=workers, backend="loky")(delayed(job)(*args) for job, args in jobs):
        figures |= part
    # the time is logged, not a figure: a report figure that changes between identical runs reads as drift
    logger.info("attack risks on %d targets in %.1fs: %s", rows, time.perf_counter() - started,
                ", ".join(f"{a} {figures[f'attack_risk_ci_high.{a}']:.3f}" for a in ATTACKS))
    return figures


def attack_bound(half_width: float, gates: GateThresholds) -> float:
    """Bound on an upper confidence limit: `max_attack_risk`, or `attack_risk_noise_factor` × the interval's
    half-width when the real rows are too few to resolve the threshold (a rare secret leaves a wide interval)."""
    return max(gates.max_attack_risk, gates.attack_risk_noise_factor * half_width)


def attack_risk_rows(privacy: pl.DataFrame, gates: GateThresholds) -> list[dict]:
    """Per attack: risk, interval, half-width, bound and verdict (the gate's derivation, shown as is)."""
    rows = []
    for name in ATTACKS:
        value, low, high, half_width = (require(privacy, f"{kind}.{name}") for kind in
                                        ("attack_risk", "attack_risk_ci_low", "attack_risk_ci_high",
                                         "attack_risk_half_width"))
        bound = attack_bound(half_width, gates)
        rows.append({"attack": name, "risk": value, "ci_low": low, "ci_high": high, "half_width": half_width,
                     "bound": bound, "passed": not math.isnan(high) and high <= bound})
    return rows


def attack_risk_gate(privacy: pl.DataFrame, gates: GateThresholds):
    """Every attack's upper limit (jointly 95%) within its bound (value = the largest upper limit over its bound)."""
    from synth_ehr_assets.core.evaluation.gates import GateResult

    rows = attack_risk_rows(privacy, gates)
    failing = {r["attack"]: r["ci_high"] for r in rows if not r["passed"]}
    worst = max(rows, key=lambda r: r["ci_high"] / r["bound"])
    text = f"{int(require(privacy, 'attack_rows'))} targets per side; " + "; ".join(
        f"{r['attack']} {r['risk']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}] ≤ {r['bound']:.3f}"
        + ("" if r["bound"] == gates.max_attack_risk else f" (= {gates.attack_risk_noise_factor} × half-width)")
        for r in rows
    )
    return GateResult("attack_risk", not failing, worst["ci_high"], worst["bound"], text, failing)

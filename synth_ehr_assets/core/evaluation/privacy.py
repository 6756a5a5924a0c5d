"""Privacy report: how much the synthetic claims reveal about the real training claims (DESIGN §8).

Exact matches on quasi-identifiers + code set, distance to closest record (own implementation and sdmetrics),
nearest-neighbour distance ratio, a distance-based membership-inference attack, the real-holdout null of both
(`distance_null.py`), uniqueness of
quasi-identifier combinations and, when given, the note PHI scan totals. Returns flat floats plus `tables`.
Real rows are generalised like the synthetic ones (`privacy` config) before quasi-identifiers are compared.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import polars as pl

from synth_ehr_assets.core.evaluation import distances
from synth_ehr_assets.core.evaluation.attack_risk import attack_risks
from synth_ehr_assets.core.evaluation.canaries import canary_report
from synth_ehr_assets.core.evaluation.distance_null import distance_null
from synth_ehr_assets.core.evaluation.features import ClaimEncoder
from synth_ehr_assets.core.evaluation.figures import figures_frame
from synth_ehr_assets.core.evaluation.sdmetrics_bridge import dcr_protection, subsample
from synth_ehr_assets.core.schema import QUASI_IDENTIFIERS
from synth_ehr_assets.core.spec import PrivacyConfig
from synth_ehr_assets.core.synth.privacy_filters import exact_copy_mask, generalise

logger = logging.getLogger(__name__)

CLOSEST_ROWS = 20
_ZERO = 1e-6


def exact_matches(synthetic: pl.DataFrame, real_train: pl.DataFrame, privacy: PrivacyConfig) -> pl.DataFrame:
    """Synthetic rows equal to some training row on quasi-identifiers + code sets (both sides generalised alike)."""
    mask = exact_copy_mask(synthetic, real_train, privacy)
    return synthetic.filter(mask).select("claim_id", *QUASI_IDENTIFIERS)


def quasi_identifier_uniqueness(synthetic: pl.DataFrame, real_train: pl.DataFrame) -> dict[str, float]:
    """Share of synthetic rows whose QI combination is unique among synthetic rows, and the share that is
    also unique in the real training rows (a unique synthetic record pointing at a unique real person)."""

    def unique_combos(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.group_by(QUASI_IDENTIFIERS).len().filter(pl.col("len") == 1).drop("len")

    synthetic_unique = unique_combos(synthetic)
    both_unique = synthetic_unique.join(unique_combos(real_train), on=QUASI_IDENTIFIERS, how="inner", nulls_equal=True)
    rows = max(synthetic.height, 1)
    return {
        "qi_unique_share_synthetic": synthetic_unique.height / rows,
        "qi_unique_share_real": unique_combos(real_train).height / max(real_train.height, 1),
        "qi_unique_matching_unique_real_share": both_unique.height / rows,
    }


def _distance_metrics(
    real_train: pl.DataFrame, real_holdout: pl.DataFrame, synthetic: pl.DataFrame, seed: int, max_rows: int
) -> tuple[dict[str, float], dict[str, pl.DataFrame]]:
    train = subsample(real_train, max_rows, seed)
    holdout = subsample(real_holdout, max_rows, seed + 1)
    synth = subsample(synthetic, max_rows, seed + 2)
    encoder = ClaimEncoder.fit(train)
    train_x, holdout_x, synth_x = (encoder.transform(f) for f in (train, holdout, synth))

    synth_to_train, synth_nearest = distances.nearest(synth_x, train_x, k=2)
    holdout_to_train, _ = distances.nearest(holdout_x, train_x, k=2)
    equal = min(train.height, holdout.height)
    rng = np.random.default_rng(seed)
    member_rows = np.sort(rng.choice(train.height, size=equal, replace=False))
    non_member_rows = np.sort(rng.choice(holdout.height, size=equal, replace=False))
    synth_to_train_equal, _ = distances.nearest(synth_x, train_x[member_rows], k=1)
    synth_to_holdout, _ = distances.nearest(synth_x, holdout_x, k=1)
    members_to_synth, _ = distances.nearest(train_x[member_rows], synth_x, k=1)
    non_members_to_synth, _ = distances.nearest(holdout_x[non_member_rows], synth_x, k=1)

    dcr_synth, dcr_holdout = synth_to_train[:, 0], holdout_to_train[:, 0]
    closer = distances.closer_to_train_share(synth_to_train_equal[:, 0], synth_to_holdout[:, 0])
    metrics = {
        "dcr_synthetic_to_train_median": float(np.median(dcr_synth)),
        "dcr_holdout_to_train_median": float(np.median(dcr_holdout)),
        "dcr_synthetic_to_train_p5": float(np.quantile(dcr_synth, 0.05)),
        "dcr_holdout_to_train_p5": float(np.quantile(dcr_holdout, 0.05)),
        "dcr_zero_share": float(np.mean(dcr_synth < _ZERO)),
        "share_closer_to_train": closer,
        "nndr_synthetic_median": float(np.median(distances.nndr(synth_to_train))),
        "nndr_holdout_median": float(np.median(distances.nndr(holdout_to_train))),
        "membership_inference_auc": distances.membership_inference_auc(
            members_to_synth[:, 0], non_members_to_synth[:, 0]
        ),
        "distance_rows_synthetic": float(synth.height),
        "distance_rows_train": float(train.height),
        "distance_rows_holdout": float(holdout.height),
        "membership_rows": float(equal),
    }
    order = np.argsort(dcr_synth, kind="stable")[:CLOSEST_ROWS]
    closest = pl.DataFrame(
        {
            "claim_id": synth["claim_id"].gather(order),
            "nearest_train_claim_id": train["claim_id"].gather(synth_nearest[order, 0]),
            "dcr": dcr_synth[order],
        }
    )
    histogram = pl.concat(
        [
            pl.DataFrame({"pair": "synthetic_to_train", "distance": dcr_synth}),
            pl.DataFrame({"pair": "holdout_to_train", "distance": dcr_holdout}),
        ]
    )
    return metrics, {"closest_synthetic_rows": closest, "dcr_distances": histogram}


def verbatim_source_strings(synthetic: pl.DataFrame, real_train: pl.DataFrame) -> tuple[dict[str, float], pl.DataFrame]:
    """Distinct source values of every string column (both tables) that appear verbatim in the release, and how
    many of them only one source row holds (those point at a person); per column in the table."""
    rows = []
    for name in [c for c in real_train.columns if c != "release_id" and real_train[c].dtype == pl.String]:
        if name not in synthetic.columns:
            continue
        counts = real_train[name].drop_nulls().value_counts(name="n")
        hits = counts.filter(pl.col(name).is_in(synthetic[name].drop_nulls().cast(pl.String).unique().implode()))
        rows.append({"column": name, "values": hits.height, "unique_values": hits.filter(pl.col("n") == 1).height})
    table = pl.DataFrame(rows, schema={"column": pl.String, "values": pl.Int64, "unique_values": pl.Int64})
    totals = {
        "verbatim_source_values": float(table["values"].sum()),
        "verbatim_unique_source_values": float(table["unique_values"].sum()),
    }
    return totals, table


def phi_summary(phi_hits: pl.DataFrame) -> dict[str, float]:
    """Totals of the note PHI scan: `phi_hits` has one row per scanned note (claim_id, phi_hits count)."""
    missing = {"claim_id", "phi_hits"} - set(phi_hits.columns)
    if missing:
        raise ValueError(f"PHI scan table lacks column(s) {sorted(missing)}; expected claim_id and phi_hits per note")
    hits = phi_hits["phi_hits"].fill_null(0)
    return {
        "phi_notes_scanned": float(phi_hits.height),
        "phi_hits": float(hits.sum()),
        "phi_notes_with_hits_share": float((hits > 0).sum()) / max(phi_hits.height, 1),
    }


def privacy_report(
    real_train: pl.DataFrame,
    real_holdout: pl.DataFrame,
    synthetic: pl.DataFrame,
    seed: int,
    privacy: PrivacyConfig | None = None,
    max_rows: int = 20_000,
    dcr_rows: int = 5000,
    sdmetrics_library_rows: int = 300,
    phi_hits: pl.DataFrame | None = None,
    attack_rows: int = 2000,
    canaries: pl.DataFrame | None = None,
) -> dict:
    """Every privacy figure of DESIGN §8 for one release.

    Own distance metrics (standardised encoding) use up to `max_rows` rows per table; the sdmetrics DCR scores
    use `dcr_rows` synthetic queries (and `sdmetrics_library_rows` for the library cross-check, see
    `dcr_protection`), the anonymeter attacks `attack_rows` targets per side. `phi_hits` (claim_id, phi_hits per
    note) adds the note PHI scan totals; `canaries` (planted in training, see `canaries.py`) are looked for.
    """
    for name, frame in {"real_train": real_train, "real_holdout": real_holdout, "synthetic": synthetic}.items():
        if frame.height == 0:
            raise ValueError(f"privacy_report: table '{name}' is empty; expected claims in the canonical schema")
    started = time.perf_counter()
    privacy = privacy or PrivacyConfig()
    matches = exact_matches(synthetic, real_train, privacy)
    distance_metrics, tables = _distance_metrics(real_train, real_holdout, synthetic, seed, max_rows)
    report: dict = {
        "exact_matches": float(matches.height),
        "exact_match_rate": matches.height / synthetic.height,
        **distance_metrics,
        **dcr_protection(real_train, real_holdout, synthetic, seed, dcr_rows, sdmetrics_library_rows),
        **distance_null(real_train, real_holdout, seed + 5),
        **quasi_identifier_uniqueness(synthetic, generalise(real_train, privacy)),
        **attack_risks(generalise(real_train, privacy), generalise(real_holdout, privacy), synthetic, seed, attack_rows),
    }
    canary_figures, canary_rows = canary_report(
        real_train.clear() if canaries is None else canaries, real_train, real_holdout, synthetic, privacy
    )
    report.update(canary_figures)
    tables["canaries"] = pl.DataFrame(canary_rows, schema=["metric", "column", "value"], orient="row")
    verbatim, tables["verbatim_strings"] = verbatim_source_strings(synthetic, real_train)
    report.update(verbatim)
    tables["exact_matches"] = matches
    if phi_hits is not None:
        report.update(phi_summary(phi_hits))
        tables["phi_hits"] = phi_hits.filter(pl.col("phi_hits") > 0).select("claim_id", "phi_hits")
    report["tables"] = tables
    logger.info(
        "privacy: %d exact matches (rate %.4f), MIA AUC %.3f, sdmetrics DCR overfitting %.3f in %.1fs",
        matches.height, report["exact_match_rate"], report["membership_inference_auc"],
        report["dcr_overfitting_protection"], time.perf_counter() - started,
    )
    return report


def privacy_figures(release_id: str, report: dict, listed: int = 50) -> pl.DataFrame:
    """The report as long rows: headline figures, then the closest synthetic rows (`claim->nearest train claim`),
    exact matches and notes with PHI hits (at most `listed` of each), so a failed gate can name them."""
    tables = report["tables"]
    detail = [
        ("closest_synthetic_dcr", f"{r['claim_id']}->{r['nearest_train_claim_id']}", r["dcr"])
        for r in tables["closest_synthetic_rows"].iter_rows(named=True)
    ]
    detail += [("exact_match", claim_id, 1.0) for claim_id in tables["exact_matches"]["claim_id"].head(listed)]
    if "verbatim_strings" in tables:
        detail += [("verbatim_unique_source_values", c, float(n)) for c, n in
                   tables["verbatim_strings"].select("column", "unique_values").iter_rows()]
    if "canaries" in tables:
        detail += list(tables["canaries"].iter_rows())
    if "phi_hits" in tables:
        noted = tables["phi_hits"].head(listed)
        detail += [("phi_hits", claim_id, hits) for claim_id, hits in noted.select("claim_id", "phi_hits").iter_rows()]
    headline = {k: v for k, v in report.items() if k != "tables"}
    return figures_frame(release_id, "privacy", headline, detail)

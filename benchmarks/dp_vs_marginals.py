"""`dp_latent_gan` against marginal-based DP synthesis (MST: select-measure-generate, McKenna et al. 2021) at the
same ε on the same bounded training rows, both scored by the release's fidelity figures against the same split.

The DP kind's claims come from a finished release run (its warehouse tables); MST is fitted here with mbi 2.0's
graphical-model estimation (mbi ships the estimation, not the mechanisms: the select and measure steps are below).
MST spends ρ (zCDP) in thirds: every 1-way marginal, the spanning-tree choice (exponential mechanism on the L1 gap
between each pair's 2-way marginal and the product of the noisy 1-ways), the tree's 2-way marginals. Values whose
noisy 1-way count is below 3σ merge into one "other" value, decoded to a kept value by its noisy weight.
Procedure, DRG and specialty vocabularies are taken as given (MST's discrete domain), which favours MST slightly.

    python benchmarks/dp_vs_marginals.py --stores /tmp/stores --release dpe4 --epsilon 4
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time

import duckdb
import numpy as np
import polars as pl

from synth_ehr_assets.core import schema

DX_KEPT = ("dx_1", "dx_2", "dx_3", "dx_4")
PX_KEPT = ("px_1", "px_2")


def cdp_rho(epsilon: float, delta: float) -> float:
    """Largest ρ whose zCDP → (ε, δ) conversion ε = ρ + 2√(ρ ln 1/δ) stays within ε."""
    low, high = 0.0, epsilon
    for _ in range(100):
        mid = (low + high) / 2
        low, high = (mid, high) if mid + 2 * math.sqrt(mid * math.log(1 / delta)) <= epsilon else (low, mid)
    return low


def _bins(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)


def discretize(claims: pl.DataFrame, vocab: dict) -> dict[str, np.ndarray]:
    """Claims → one small integer per attribute (the last value of a code attribute is 'none')."""
    out = {c: np.array([vocab[c].index(v) for v in claims[c].to_list()]) for c in ("claim_type", "sex", "region", "payer")}
    out["age"] = _bins(claims["age"].to_numpy().astype(float), np.arange(0, 130, 5.0))
    start = np.datetime64("2015-01", "M")
    months = (claims["service_date"].to_numpy().astype("datetime64[M]") - start).astype(int)
    out["month"] = np.clip(months, 0, 191)
    out["stay"] = _bins(claims["los_days"].to_numpy().astype(float), np.array([0, 1, 2, 3, 4, 5, 7, 10, 15, 30, 1e9]))
    out["charge"] = _bins(np.log10(1 + claims["charge_amount"].to_numpy()), np.linspace(0, 7.01, 72))
    charge, allowed = claims["charge_amount"].to_numpy(), claims["allowed_amount"].to_numpy()
    out["allowed_share"] = _bins(np.where(charge > 0, allowed / np.maximum(charge, 1e-9), 0), np.linspace(0, 1.0001, 11))
    out["paid_share"] = _bins(np.where(allowed > 0, claims["paid_amount"].to_numpy() / np.maximum(allowed, 1e-9), 0),
                              np.linspace(0, 1.0001, 11))
    for column in (*DX_KEPT, *PX_KEPT, "drg", "provider_specialty"):
        index = {v: i for i, v in enumerate(vocab[column])}
        out[column] = np.array([index.get(v, len(index)) for v in claims[column].to_list()])
    return out


def vocabulary(train: pl.DataFrame) -> dict:
    from synth_ehr_assets.core.codes import billable_codes

    catalog = sorted(billable_codes())
    vocab = {"claim_type": list(schema.CLAIM_TYPES), "sex": list(schema.SEXES), "region": list(schema.REGIONS),
             "payer": list(schema.PAYERS)}
    vocab |= dict.fromkeys(DX_KEPT, catalog)
    for column in (*PX_KEPT, "drg", "provider_specialty"):
        vocab[column] = sorted(train[column].drop_nulls().unique().to_list())
    return vocab


def sizes(vocab: dict) -> dict[str, int]:
    fixed = {"age": 26, "month": 192, "stay": 10, "charge": 71, "allowed_share": 10, "paid_share": 10}
    return {**{c: len(v) for c, v in vocab.items() if c in ("claim_type", "sex", "region", "payer")},
            **fixed, **{c: len(vocab[c]) + 1 for c in (*DX_KEPT, *PX_KEPT, "drg", "provider_specialty")}}


def mst(data: dict[str, np.ndarray], shape: dict[str, int], epsilon: float, delta: float, rows: int,
        rng: np.random.Generator) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """MST on integer columns: synthetic integer columns (compressed domain) and each column's kept values."""
    from mbi import Domain, LinearMeasurement
    from mbi.estimation import MirrorDescent

    from synth_ehr_assets.core.synth.dp.mst_fit import spanning_tree

    attrs, rho = list(data), cdp_rho(epsilon, delta)
    sigma1 = math.sqrt(len(attrs) / (2 * rho / 3))
    kept, compressed = {}, {}
    for a in attrs:  # 1-way marginals, then merge the values the noise drowns
        noisy = np.bincount(data[a], minlength=shape[a]) + rng.normal(0, sigma1, shape[a])
        keep = np.flatnonzero(noisy >= 3 * sigma1)
        keep = keep if keep.size else np.array([int(np.argmax(noisy))])
        kept[a] = (keep, np.maximum(noisy[keep], 1e-9))
        lookup = np.full(shape[a], len(keep))
        lookup[keep] = np.arange(len(keep))
        compressed[a] = lookup[data[a]]
    domain = Domain(attrs, [len(kept[a][0]) + 1 for a in attrs])
    n = len(next(iter(compressed.values())))  # the row count is treated as public, as by the DP kind
    one_way = {a: np.append(kept[a][1], max(n - kept[a][1].sum(), 0.0)) for a in attrs}  # other = n - kept
    measurements = [LinearMeasurement(one_way[a], (a,), sigma1) for a in attrs]
    probs = {a: one_way[a] / one_way[a].sum() for a in attrs}
    scores = {}
    for i, a in enumerate(attrs):
        for b in attrs[i + 1:]:
            joint = np.zeros((domain[a], domain[b]))
            np.add.at(joint, (compressed[a], compressed[b]), 1.0)
            scores[(a, b)] = np.abs(joint - n * np.outer(probs[a], probs[b])).sum()
    epsilon_em = math.sqrt(8 * (rho / 3) / (len(attrs) - 1))
    tree = spanning_tree(scores, attrs, epsilon_em, 1.0, rng)
    sigma2 = math.sqrt((len(attrs) - 1) / (2 * rho / 3))
    for a, b in tree:
        joint = np.zeros((domain[a], domain[b]))
        np.add.at(joint, (compressed[a], compressed[b]), 1.0)
        measurements.append(LinearMeasurement((joint + rng.normal(0, sigma2, joint.shape)).ravel(), (a, b), sigma2))
    model = MirrorDescent().estimate(domain, measurements, iters=1000)
    synthetic = model.synthetic_data(rows).to_dict()
    return {a: np.asarray(synthetic[a]) for a in attrs}, {a: kept[a] for a in attrs}


def decode(columns: dict, kept: dict, vocab: dict, rng: np.random.Generator) -> pl.DataFrame:
    """Compressed integers → claims (the 'other' value becomes a kept value drawn by its noisy weight)."""
    n = len(columns["age"])
    values = {}
    for a, codes_ in columns.items():
        keep, weight = kept[a]
        other = codes_ >= len(keep)
        codes_ = codes_.copy()
        codes_[other] = rng.choice(len(keep), int(other.sum()), p=weight / weight.sum())
        values[a] = keep[codes_]
    out = {c: [vocab[c][i] for i in values[c]] for c in ("claim_type", "sex", "region", "payer")}
    out["age"] = np.minimum(values["age"] * 5 + rng.integers(0, 5, n), 124)
    out["service_date"] = (np.datetime64("2015-01-01") + (values["month"] * 30.44 + rng.uniform(0, 28, n)).astype(int))
    stay_edges = np.array([0, 1, 2, 3, 4, 5, 7, 10, 15, 30, 60])
    inpatient = np.array([c == "inpatient" for c in out["claim_type"]])
    stay = stay_edges[values["stay"]] + (rng.uniform(0, 1, n) * (stay_edges[values["stay"] + 1] - stay_edges[values["stay"]])).astype(int)
    out["los_days"] = np.where(inpatient, np.maximum(stay, 1), 0)
    charge = np.round(10 ** (values["charge"] * 0.1 + rng.uniform(0, 0.1, n)) - 1, 2)
    allowed = np.round(charge * (values["allowed_share"] + rng.uniform(0, 1, n)) / 10, 2)
    out |= {"charge_amount": charge, "allowed_amount": allowed,
            "paid_amount": np.round(allowed * (values["paid_share"] + rng.uniform(0, 1, n)) / 10, 2)}
    for c in (*DX_KEPT, *PX_KEPT, "drg", "provider_specialty"):
        out[c] = [vocab[c][i] if i < len(vocab[c]) else None for i in values[c]]
    out["drg"] = [d if inp else None for d, inp in zip(out["drg"], inpatient)]
    frame = pl.DataFrame(out, strict=False).with_columns(
        release_id=pl.lit("mst"), claim_id=pl.format("M{}", pl.int_range(pl.len())),
        patient_id=pl.format("M{}", pl.int_range(pl.len())))
    return schema.conform(frame)


def figures(train: pl.DataFrame, holdout: pl.DataFrame, synthetic: pl.DataFrame, seed: int) -> dict:
    from synth_ehr_assets.core.evaluation.fidelity import fidelity_report
    from synth_ehr_assets.core.evaluation.table_gates import age_sex_gate, codes_valid_gate
    from synth_ehr_assets.core.spec import GateThresholds

    report = fidelity_report(train, holdout, synthetic, seed)
    gates = GateThresholds()
    keep = ("quality_score", "column_shapes_score", "column_pair_trends_score", "principal_dx_prevalence_r2",
            "all_dx_prevalence_r2", "code_structure.cooccurrence_r2")
    return {**{k: round(float(report[k]), 3) for k in keep if k in report},
            "valid_code_share": round(float(codes_valid_gate(synthetic, gates).value), 4),
            "age_sex_violations": int(age_sex_gate(synthetic, gates).value)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stores", required=True)
    parser.add_argument("--release", required=True)
    parser.add_argument("--epsilon", type=float, required=True)
    args = parser.parse_args()
    from synth_ehr_assets.core.spec import load_spec
    from synth_ehr_assets.core.synth.dp.marginals import bound_rows

    spec = load_spec(os.path.join(args.stores, "releases", f"{args.release}.yaml"))
    with duckdb.connect(os.path.join(args.stores, "warehouse.duckdb"), read_only=True) as con:
        read = lambda t: con.sql(f"select * from synth_ehr.{t} where release_id = '{args.release}'").pl()  # noqa: E731
        source, split, dp_claims = read("source_claims"), read("encoded_features"), read("synthetic_claims")
    labelled = source.join(split.select("claim_id", "split"), on="claim_id")
    train, holdout = labelled.filter(pl.col("split") == "train"), labelled.filter(pl.col("split") == "holdout")
    train, holdout = train.drop("split").sort("claim_id"), holdout.drop("split")
    bounded = train[bound_rows(train, spec.privacy.dp_unit, spec.seed)]
    delta = spec.privacy.dp_delta or bounded.height ** -1.1
    vocab = vocabulary(bounded)
    data = discretize(bounded, vocab)
    started = time.perf_counter()
    columns, kept = mst(data, sizes(vocab), args.epsilon, delta, dp_claims.height, np.random.default_rng())
    mst_claims = decode(columns, kept, vocab, np.random.default_rng(spec.seed))
    seconds = time.perf_counter() - started
    result = {"release": args.release, "epsilon": args.epsilon, "delta": delta, "unit": spec.privacy.dp_unit,
              "bounded_rows": bounded.height, "mst_seconds": round(seconds, 1),
              "dp_latent_gan": figures(train, holdout, dp_claims, spec.seed),
              "mst": figures(train, holdout, mst_claims, spec.seed)}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

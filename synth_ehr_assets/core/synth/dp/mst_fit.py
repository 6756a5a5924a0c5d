"""MST's select and measure steps (McKenna, Miklau & Sheldon 2021) on the bounded training rows, in zCDP.

ρ comes from the requested (ε, δ_rdp) by the conversion ε = ρ + 2√(ρ ln 1/δ_rdp) (Bun & Steinke 2016) and is spent
in thirds: (1) every attribute's 1-way marginal (Gaussian, L2 sensitivity 1 each: a row falls in one cell); (2) a
spanning tree chosen edge by edge (Kruskal) with the exponential mechanism on the L1 gap between a pair's 2-way
counts and n × the product of the noisy 1-ways (sensitivity 2: one cell of the joint moves by 1, n·p_a·p_b by at
most 1 in total); (3) the tree's 2-way marginals (Gaussian). Values whose noisy 1-way count stays below the floor
merge into one "other" value (post-processing of step 1).

Domains (`ATTRIBUTES`): public where one exists: the schema's claim types, sexes, regions and payers, ages 0-124 in
5-year bins, months of `privacy.dp_public_date_range`, the stay, charge and share bins below, and the billable
FY2026 ICD-10-CM catalog for the diagnosis slots (under `codes.embed: all`; under 'used' the diagnoses are observed
keys like the next ones). Procedure codes, DRGs and specialties have no public list here:
their observed keys are released only when the noisy 1-way count clears τ = 1 + σ·Φ⁻¹(1 - δ_h/k) (Gaussian sparse
histogram), which costs δ_h = `THRESHOLD_DELTA_SHARE`·δ, charged on top of δ_rdp. The row count is public, as for
`dp_latent_gan`.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import polars as pl
from scipy.special import ndtri

from synth_ehr_assets.core import schema
from synth_ehr_assets.core.synth.dp.budget import THRESHOLD_DELTA_SHARE, PrivacyBudgetError

NULL = "__null__"
DX_KEPT = ("dx_1", "dx_2", "dx_3", "dx_4")  # the slots MST models; later slots are left empty
OBSERVED = ("px_1", "px_2", "drg", "provider_specialty")  # keys only released above τ
EDGES = {
    "age": np.arange(0, 130, 5.0),
    "stay_days": np.array([1, 2, 3, 4, 5, 7, 10, 15, 30, 60, 366], dtype=float),
    "charge_amount": np.concatenate([[0.0, 1.0], np.logspace(0.1, 7, 70)]),  # $0, then log bins to $10M
    "allowed_share": np.linspace(0, 1.0 + 1e-9, 11),
    "paid_share": np.linspace(0, 1.0 + 1e-9, 11),
}
CATEGORIES = {"claim_type": schema.CLAIM_TYPES, "sex": schema.SEXES, "region": schema.REGIONS, "payer": schema.PAYERS}
ATTRIBUTES = (*CATEGORIES, "age", "service_date", *EDGES.keys() - {"age"}, *DX_KEPT, *OBSERVED)


def cdp_rho(epsilon: float, delta: float) -> float:
    """Largest ρ whose zCDP → (ε, δ) conversion ε = ρ + 2√(ρ ln 1/δ) stays within ε."""
    low, high = 0.0, epsilon
    for _ in range(100):
        mid = (low + high) / 2
        low, high = (mid, high) if cdp_epsilon(mid, delta) <= epsilon else (low, mid)
    return low


def cdp_epsilon(rho: float, delta: float) -> float:
    return rho + 2 * math.sqrt(rho * math.log(1 / delta))


def month_keys(first: date, last: date) -> list[str]:
    return [str(d) for d in pl.date_range(first.replace(day=1), last, interval="1mo", eager=True).to_list()]


def observed(dx_catalog: list[str] | None) -> tuple[str, ...]:
    """Attributes whose keys are the observed ones (released above τ): the diagnoses too without a public catalog."""
    return OBSERVED if dx_catalog is not None else (*OBSERVED, *DX_KEPT)


def domains(train_model: pl.DataFrame, dx_catalog: list[str] | None, date_range: tuple[date, date]) -> dict[str, list]:
    """Keys per attribute: public lists, bin numbers, or (`observed`) the observed keys before thresholding."""
    out: dict[str, list] = {name: [*keys, NULL] for name, keys in CATEGORIES.items()}
    out |= {name: [*range(len(edges) - 1), NULL] for name, edges in EDGES.items()}
    out["service_date"] = [*month_keys(*date_range), NULL]
    if dx_catalog is not None:
        out |= dict.fromkeys(DX_KEPT, [*dx_catalog, NULL])
    for name in observed(dx_catalog):
        out[name] = [*sorted(train_model[name].drop_nulls().cast(pl.String).unique().to_list()), NULL]
    return out


def discretize(frame: pl.DataFrame, keys: dict[str, list]) -> dict[str, np.ndarray]:
    """Model-frame rows → one cell number per attribute (a value outside the domain: the NULL cell)."""
    out = {}
    for name in ATTRIBUTES:
        index = {k: i for i, k in enumerate(keys[name])}
        null = index[NULL]
        if name in EDGES:
            x = frame[name].cast(pl.Float64).to_numpy()
            cells = np.clip(np.searchsorted(EDGES[name], np.nan_to_num(x, nan=0.0), side="right") - 1, 0,
                            len(EDGES[name]) - 2)
            out[name] = np.where(np.isfinite(x), cells, null)
        else:
            column = frame[name]
            if name == "service_date":
                column = column.dt.truncate("1mo")
            out[name] = np.array([index.get(v, null) for v in column.cast(pl.String).fill_null(NULL).to_list()])
    return out


def measure(data: dict[str, np.ndarray], keys: dict[str, list], epsilon: float, delta: float,
            rng: np.random.Generator, thresholded: tuple[str, ...] = OBSERVED) -> dict:
    """Select + measure: {keys (kept), weights, tree, arrays (noisy 2-ways), budget}; `rng` draws every noise and every EM choice."""
    attrs, rows = list(ATTRIBUTES), len(next(iter(data.values())))
    delta_threshold = delta * THRESHOLD_DELTA_SHARE
    rho = cdp_rho(epsilon, delta - delta_threshold)
    if rho <= 0:
        raise PrivacyBudgetError(f"privacy.dp_epsilon {epsilon}: no zCDP budget is left at δ {delta:g}")
    sigma1 = math.sqrt(len(attrs) / (2 * rho / 3))
    kept, compressed = {}, {}
    for a in attrs:
        size = len(keys[a])
        noisy = np.bincount(data[a], minlength=size) + rng.normal(0, sigma1, size)
        floor = np.full(size, max(3.0, float(ndtri(1 - 0.5 / max(size, 2)))) * sigma1)
        if a in thresholded:  # a key only the removed row holds clears τ with probability ≤ δ_h / k
            floor[:-1] = 1.0 + sigma1 * float(ndtri(1 - delta_threshold / len(thresholded)))
        keep = np.flatnonzero(noisy >= floor)
        keep = keep if keep.size else np.array([int(np.argmax(noisy))])
        kept[a] = (keep, np.maximum(noisy[keep], 1e-9))
        lookup = np.full(size, len(keep))
        lookup[keep] = np.arange(len(keep))
        compressed[a] = lookup[data[a]]
    shape = {a: len(kept[a][0]) + 1 for a in attrs}  # the last cell: "other" (every value not kept)
    one_way = {a: np.append(kept[a][1], max(rows - kept[a][1].sum(), 0.0)) for a in attrs}
    probs = {a: one_way[a] / one_way[a].sum() for a in attrs}

    def joint(a, b):
        table = np.zeros((shape[a], shape[b]))
        np.add.at(table, (compressed[a], compressed[b]), 1.0)
        return table

    scores = {(a, b): np.abs(joint(a, b) - rows * np.outer(probs[a], probs[b])).sum()
              for i, a in enumerate(attrs) for b in attrs[i + 1:]}
    epsilon_em = math.sqrt(8 * (rho / 3) / (len(attrs) - 1))
    tree = spanning_tree(scores, attrs, epsilon_em, 2.0, rng)  # sensitivity 2 (module docstring)
    sigma2 = math.sqrt((len(attrs) - 1) / (2 * rho / 3))
    arrays = {f"{a}|{b}": joint(a, b) + rng.normal(0, sigma2, (shape[a], shape[b])) for a, b in tree}
    budget = {
        "epsilon": epsilon, "delta": delta, "delta_threshold": delta_threshold, "delta_rdp": delta - delta_threshold,
        "rho": rho, "epsilon_spent": cdp_epsilon(rho, delta - delta_threshold), "rows": rows,
        "sigma_one_way": sigma1, "sigma_two_way": sigma2, "epsilon_exponential": epsilon_em,
        "measurements": {"one_way": len(attrs), "tree_selections": len(attrs) - 1, "two_way": len(tree)},
    }
    return {"keys": {a: [keys[a][i] for i in kept[a][0]] for a in attrs},
            "weights": {a: one_way[a].tolist() for a in attrs}, "tree": [list(e) for e in tree], "arrays": arrays,
            "budget": budget}


def spanning_tree(scores: dict[tuple[str, str], float], attrs: list[str], epsilon_em: float, sensitivity: float,
                  rng: np.random.Generator) -> list[tuple[str, str]]:
    """Kruskal with the exponential mechanism: each edge joining two components is picked with probability
    ∝ exp(ε·score / (2·sensitivity)) among the pairs still joining two components."""
    component = {a: a for a in attrs}

    def root(a):
        while component[a] != a:
            a = component[a]
        return a

    tree = []
    for _ in range(len(attrs) - 1):
        candidates = [pair for pair in scores if root(pair[0]) != root(pair[1])]
        logits = np.array([scores[p] for p in candidates]) * epsilon_em / (2 * sensitivity)
        p = np.exp(logits - logits.max())
        pick = candidates[rng.choice(len(candidates), p=p / p.sum())]
        tree.append(pick)
        component[root(pick[0])] = root(pick[1])
    return tree

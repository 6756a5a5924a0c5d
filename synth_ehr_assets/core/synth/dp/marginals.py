"""Noisy marginals of the bounded training rows (Gaussian mechanism) and the pseudo table drawn from them.

Every column the transformer fits on is summarised by one histogram to which a row adds at most L2 norm 1: a row
falls in one cell (a numeric bin, a category, its principal code, its number of codes), or spreads weight 1/√k over
its k distinct secondary diagnoses or procedures. Domains are public where one exists: the schema's claim types,
sexes, regions and payers, ages 0-124, `PUBLIC_BINS` for amounts, shares and stays, the date range of the spec, and
the billable ICD-10-CM catalog (simple-icd-10-cm) for diagnoses, where cells below a noise threshold are zeroed
(post-processing). Procedures, DRGs and specialties have no public list here, so their keys are the observed ones,
released only when the noisy count clears τ = 1 + σ·Φ⁻¹(1 - δ_h/k) (Gaussian sparse histogram; Wilkins et al.
2024): a key only the removed row holds appears with probability at most δ_h, charged to δ_threshold.

The pseudo table draws each column independently from its histogram (a stay and a DRG only on inpatient rows). The
transformer reads nothing but per-column marginals, so fitting it on the pseudo table is post-processing.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
from scipy.special import ndtri

from synth_ehr_assets.core import schema

MARGINALS_FILE = "dp_marginals.json"
NULL = "__null__"
SECONDARY = schema.DX_COLUMNS[1:]
_SHARE_EDGES = np.linspace(0.0, 1.0 + 1e-9, 51)
PUBLIC_BINS: dict[str, np.ndarray] = {
    "age": np.arange(0, 126, dtype=np.float64),
    "stay_days": np.array([*range(1, 32), 36, 41, 51, 61, 91, 121, 181, 366], dtype=np.float64),
    "charge_amount": np.concatenate([[0.0, 0.01], np.logspace(0, 7, 141)]),  # $0, then $1 … $10M, 20 bins a decade
    "allowed_share": _SHARE_EDGES,
    "paid_share": _SHARE_EDGES,
}
PUBLIC_CATEGORIES = {"claim_type": schema.CLAIM_TYPES, "sex": schema.SEXES, "region": schema.REGIONS,
                     "payer": schema.PAYERS}
OBSERVED_KEYS = {"px": 6, "drg": 1, "provider_specialty": 1, "dx_1": 1, "dx_secondary": len(SECONDARY)}
# histogram -> most keys one row adds weight to, where the keys are the observed ones (diagnoses only when the code
# index is not the whole catalog, `codes.embed: used`)


def bound_rows(train: pl.DataFrame, unit: str, seed: int) -> np.ndarray:
    """Row numbers of `train` the DP kind trains on: all (unit = claim) or one seeded claim per patient."""
    if unit == "claim":
        return np.arange(train.height)
    if "patient_id" not in train.columns or train["patient_id"].null_count():
        raise ValueError("privacy.dp_unit 'patient' needs a patient_id on every source claim; use dp_unit 'claim' "
                         "(a patient with k claims is then protected at about k·ε)")
    order = np.random.default_rng([seed, 70]).permutation(train.height)
    picked = train[order].with_row_index("_row").with_columns(_src=pl.Series(order)).unique("patient_id", keep="first",
                                                                                           maintain_order=True)
    return np.sort(picked["_src"].to_numpy())


def month_edges(first: date, last: date) -> np.ndarray:
    """Day numbers (since 1970-01-01) of month starts from `first`'s month to the month after `last`."""
    months = pl.date_range(first.replace(day=1), last, interval="1mo", eager=True)
    after = pl.Series([last.replace(day=1)]).dt.offset_by("1mo")
    return pl.concat([months, after]).cast(pl.Int32).to_numpy().astype(np.float64)


def histogram_names() -> list[str]:
    """The histograms `noisy_marginals` releases, each one Gaussian mechanism of sensitivity 1."""
    return [*PUBLIC_CATEGORIES, "age", "service_date", "stay_days", "charge_amount", "allowed_share", "paid_share",
            "dx_1", "dx_secondary", "dx_count", "px", "px_count", "drg", "provider_specialty"]


def _numeric_counts(values: pl.Series, edges: np.ndarray) -> np.ndarray:
    x = values.cast(pl.Float64).to_numpy()
    cells = np.zeros(len(edges), dtype=np.float64)  # bins 0..len-2, the last cell counts nulls
    finite = np.isfinite(x)
    np.add.at(cells, np.clip(np.searchsorted(edges, x[finite], side="right") - 1, 0, len(edges) - 2), 1.0)
    cells[-1] = (~finite).sum()
    return cells


def _key_counts(frame: pl.DataFrame, columns: list[str], spread: bool) -> dict[str, float]:
    """Count per key over `columns` (nulls as NULL when one column); with `spread` a row adds 1/√k to each of its
    k distinct keys (nulls skipped), so its weights have L2 norm ≤ 1."""
    long = frame.select(pl.int_range(pl.len()).alias("_r"), *columns).unpivot(index="_r", value_name="key")
    if spread:
        long = long.drop_nulls("key").unique(["_r", "key"])
        long = long.with_columns(w=1.0 / pl.len().over("_r").cast(pl.Float64).sqrt())
    else:
        long = long.with_columns(pl.col("key").cast(pl.String).fill_null(NULL), w=pl.lit(1.0))
    return dict(long.group_by("key").agg(pl.col("w").sum()).iter_rows())


def raw_histograms(train_model: pl.DataFrame, dx_domain: list[str] | None, date_range: tuple[date, date]) -> dict:
    """The exact histograms before noise: name -> {keys, counts, public (domain is public), edges (numerics)}.
    Observed-key histograms carry their null cell (a public key) too. `dx_domain` None: diagnoses by observed key."""
    out: dict[str, dict] = {}
    for name, domain in PUBLIC_CATEGORIES.items():
        counts = _key_counts(train_model, [name], spread=False)
        keys = [*domain, NULL]
        out[name] = {"keys": keys, "counts": np.array([counts.get(k, 0.0) for k in keys]), "public": True}
    for name, column_edges in {**PUBLIC_BINS, "service_date": month_edges(*date_range)}.items():
        keys = [*(str(float(e)) for e in column_edges[:-1]), NULL]
        out[name] = {"keys": keys, "counts": _numeric_counts(train_model[name].cast(pl.Float64), column_edges),
                     "public": True, "edges": column_edges.tolist()}
    for name, columns in (("dx_count", SECONDARY), ("px_count", schema.PX_COLUMNS)):
        present = train_model.select(pl.sum_horizontal(pl.col(c).is_not_null() for c in columns)).to_series()
        keys = [str(k) for k in range(len(columns) + 1)]
        out[name] = {"keys": keys, "counts": np.bincount(present.to_numpy(), minlength=len(keys)).astype(np.float64),
                     "public": True}
    observed = [("px", schema.PX_COLUMNS, True), ("drg", ["drg"], False),
                ("provider_specialty", ["provider_specialty"], False)]
    for name, columns, spread in (("dx_1", ["dx_1"], False), ("dx_secondary", SECONDARY, True)):
        if dx_domain is None:
            observed.append((name, columns, spread))
        else:
            counts = _key_counts(train_model, columns, spread)
            out[name] = {"keys": list(dx_domain), "counts": np.array([counts.get(k, 0.0) for k in dx_domain]),
                         "public": True}
    for name, columns, spread in observed:
        counts = _key_counts(train_model, columns, spread)
        keys = sorted(k for k in counts if k != NULL) + ([NULL] if NULL in counts else [])
        out[name] = {"keys": keys, "counts": np.array([counts[k] for k in keys]), "public": False}
    return out


def noisy_marginals(train_model: pl.DataFrame, dx_domain: list[str] | None, date_range: tuple[date, date], sigma: float,
                    delta_threshold: float, rng: np.random.Generator) -> dict:
    """Every histogram of `histogram_names()` with N(0, σ²) noise per cell, thresholded (module docstring)."""
    raw = raw_histograms(train_model, dx_domain, date_range)
    observed = [name for name, hist in raw.items() if not hist["public"]]
    out: dict[str, dict] = {}
    for name, hist in raw.items():
        keys, counts = hist["keys"], hist["counts"]
        # rounded first: polars sums weighted counts in a thread-dependent order (last-bit differences)
        noisy = np.round(counts, 9) + rng.normal(0.0, sigma, len(counts))
        public_floor = sigma * float(ndtri(1 - 0.5 / max(len(keys), 2)))  # ~0.5 noise-only cells survive
        floor = np.full(len(keys), public_floor)
        if not hist["public"]:  # a key only the removed row holds clears this with probability ≤ δ_h
            floor[:] = 1.0 + sigma * float(ndtri(1 - delta_threshold / len(observed) / OBSERVED_KEYS[name]))
            floor[[i for i, k in enumerate(keys) if k == NULL]] = public_floor
        keep = noisy > floor
        out[name] = {"keys": [k for k, kept in zip(keys, keep) if kept], "counts": noisy[keep].tolist(),
                     "public_domain": hist["public"], "threshold": float(floor.max()) if len(floor) else 0.0}
        if hist["public"] and len(keys) <= 1000:  # the fallback when no cell clears the threshold (not the catalog)
            out[name]["domain"] = [k for k in keys if k != NULL]
        if "edges" in hist:
            out[name]["edges"] = hist["edges"]
    return out


def save_marginals(marginals: dict, folder: str | Path) -> Path:
    path = Path(folder) / MARGINALS_FILE
    path.write_text(json.dumps(marginals))
    return path


def _draw(rng: np.random.Generator, hist: dict, n: int, what: str) -> list[str]:
    if not hist["keys"] and hist.get("domain"):  # nothing cleared the noise: uniform over the public domain
        return [hist["domain"][i] for i in rng.integers(0, len(hist["domain"]), n)]
    if not hist["keys"]:
        raise ValueError(f"the noisy {what} histogram kept no cell: too few rows for this ε (raise privacy.dp_epsilon "
                         "or synthesizer.dp_budget_split.marginals)")
    p = np.asarray(hist["counts"], dtype=np.float64)
    return [hist["keys"][i] for i in rng.choice(len(p), n, p=p / p.sum())]


def _numeric(rng: np.random.Generator, hist: dict, n: int, what: str) -> np.ndarray:
    keys = _draw(rng, hist, n, what)
    edges = np.asarray(hist["edges"])
    lower = {str(float(e)): (e, edges[i + 1]) for i, e in enumerate(edges[:-1])}
    out = np.full(n, np.nan)
    for i, key in enumerate(keys):
        if key != NULL:
            lo, hi = lower[key]
            out[i] = rng.uniform(lo, min(hi, 1.0) if what.endswith("share") else hi)
    return out


def pseudo_table(marginals: dict, n: int, model_schema: dict, rng: np.random.Generator) -> pl.DataFrame:
    """`n` rows in the synthesizer's columns, each column drawn independently from its noisy histogram."""
    columns: dict[str, object] = {}
    for name in PUBLIC_CATEGORIES:
        columns[name] = [None if k == NULL else k for k in _draw(rng, marginals[name], n, name)]
    inpatient = np.array([c == "inpatient" for c in columns["claim_type"]])
    for name in ("age", "service_date", "charge_amount", "allowed_share", "paid_share", "stay_days"):
        values = _numeric(rng, marginals[name], n, name)
        if name == "stay_days":
            values = np.where(inpatient, np.nan_to_num(values, nan=1.0), np.nan)
        if name in ("age", "service_date", "stay_days"):
            values = np.floor(values)
        columns[name] = values
    columns["dx_1"] = _draw(rng, marginals["dx_1"], n, "principal diagnosis")
    for group, slots, count_name in (("dx_secondary", SECONDARY, "dx_count"), ("px", schema.PX_COLUMNS, "px_count")):
        counts = np.array([int(k) for k in _draw(rng, marginals[count_name], n, count_name)])
        hist = marginals[group]
        table = [[None] * n for _ in slots]
        if hist["keys"]:
            p = np.asarray(hist["counts"]) / np.sum(hist["counts"])
            for row in np.flatnonzero(counts):
                k = min(counts[row], len(p))
                for slot, code in enumerate(rng.choice(len(p), k, replace=False, p=p)):
                    table[slot][row] = hist["keys"][code]
        columns.update(dict(zip(slots, table)))
    for name in ("drg", "provider_specialty"):
        drawn = [None if k == NULL else k for k in _draw(rng, marginals[name], n, name)] if marginals[name]["keys"] \
            else [None] * n
        columns[name] = [v if (name != "drg" or inpatient[i]) else None for i, v in enumerate(drawn)]
    frame = pl.DataFrame({name: columns[name] for name in model_schema}, strict=False)
    casts = []
    for name, dtype in model_schema.items():
        if dtype == pl.Date:
            casts.append(pl.col(name).fill_nan(None).cast(pl.Int32).cast(pl.Date))
        elif dtype.is_numeric():
            casts.append(pl.col(name).cast(pl.Float64).fill_nan(None).cast(dtype))
        else:
            casts.append(pl.col(name).cast(dtype))
    return frame.with_columns(casts)

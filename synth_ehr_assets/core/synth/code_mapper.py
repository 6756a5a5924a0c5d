"""Decoded code-slot vectors → the nearest code that the claim may carry (DESIGN §6, "inverse code mapping").

Each slot's PCA vector goes to the nearest admissible code, exactly, by euclidean distance in the transformer's
PCA space. Admissible depends on the slot and on the row being decoded (the transformer hands over the row's
already decoded values):
- the pool: dx_1 → billable codes seen as principal in training that may be principal (`rules`); dx_2..dx_10 →
  billable codes seen in any diagnosis slot; px → procedure codes seen in training. `widen` adds every billable
  code of the catalog index to the diagnosis pools.
- the row: a diagnosis must pass the CMS age/sex edits for the row's age and sex (`age_sex_edits`); a procedure
  must fit the row's setting (ICD-10-PCS on inpatient claims, CPT/HCPCS otherwise). A code that repeats an
  earlier slot is left to the edits (`duplicate_dx`/`duplicate_px`): replacing it by the next nearest code skewed
  the secondary-diagnosis prevalences (demo all-diagnosis R² 0.34 → 0.25), resampling the row does not.
Mapping to the nearest admissible code, rather than mapping freely and rejecting the row afterwards, is what keeps
the first-draw rejection rate low; the clinical edits still run on every row and resample whatever fails.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from synth_ehr_assets.core import age_sex_edits, schema
from synth_ehr_assets.core.synth import rules
from synth_ehr_assets.core.synth.principal_plan import admissible_codes
from synth_ehr_assets.core.synth.transformer import TableTransformer

CONDITION_COLUMN = "dx_1"
SETTINGS = ("inpatient", "other", "unknown")


class CodeMappingError(RuntimeError):
    """A code slot has no admissible code at all (nothing of its kind was seen in training)."""


def _pca_vectors(transformer: TableTransformer, codes: list[str], code_index) -> np.ndarray:
    """Codes in the transformer's PCA space: stored for training codes, projected from `code_index` otherwise."""
    seen = set(transformer.codes)
    out = np.zeros((len(codes), transformer.code_dims), dtype=np.float32)
    known = [i for i, code in enumerate(codes) if code in seen]
    if known:
        out[known] = transformer.code_pca_vectors([codes[i] for i in known])
    unseen = [i for i, code in enumerate(codes) if code not in seen]
    if unseen:
        if code_index is None:
            raise ValueError(
                f"codes {[codes[i] for i in unseen[:5]]} are unseen in training and no code index is given"
            )
        out[unseen] = transformer.code_pca_transform(code_index.vector_of([codes[i] for i in unseen]))
    return out


def _slot_kind(slot: str) -> str:
    return "principal" if slot == CONDITION_COLUMN else "procedure" if slot.startswith("px") else "secondary"


class CodeMapper:
    """`CodeDecoder` for the transformer (see the module docstring for what is admissible)."""

    def __init__(self, transformer: TableTransformer, train_claims: pl.DataFrame, code_index=None, widen: bool = False):
        from synth_ehr_assets.core.vector_store import NearestCodeIndex

        if widen and code_index is None:
            raise ValueError("codes.widen_to_catalog needs the code vector index")
        catalog = pl.Series(list(code_index.codes) if widen else [], dtype=pl.String)
        seen_dx = pl.concat([train_claims[c].cast(pl.String) for c in schema.DX_COLUMNS])
        seen_px = pl.concat([train_claims[c].cast(pl.String) for c in schema.PX_COLUMNS])
        pools = {
            "principal": admissible_codes(
                pl.concat([train_claims[CONDITION_COLUMN].cast(pl.String), catalog]),
                rules.unacceptable_principal_codes()["code"],
            ),
            "secondary": admissible_codes(pl.concat([seen_dx, catalog])),
            "procedure": seen_px.drop_nulls().unique().sort(),
        }
        self.indexes = {
            kind: NearestCodeIndex(pool.to_list(), _pca_vectors(transformer, pool.to_list(), code_index), metric="l2")
            for kind, pool in pools.items()
            if pool.len()
        }
        self.pool_sizes = {kind: len(index) for kind, index in self.indexes.items()}
        # allowed[kind]: (row groups, pool codes) booleans. A row's key comes from its age band and sex (diagnoses)
        # or its setting (procedures); keys allowing the very same codes (e.g. every adult band of one sex) form
        # one group, searched once.
        self._allowed, self._group_of_key = {}, {}
        for kind, pool in pools.items():
            if pool.len():
                by_key = self._allowed_by_key(kind, pool)
                self._allowed[kind], self._group_of_key[kind] = np.unique(by_key, axis=0, return_inverse=True)
        self.vocabulary = pl.concat(list(pools.values())).unique().sort()  # every code any slot can get
        position = {code: i for i, code in enumerate(self.vocabulary.to_list())}
        self._pool_ids = {kind: np.array([position[c] for c in index.codes.tolist()]) for kind, index in self.indexes.items()}
        self._subsets: dict[tuple[str, int], tuple] = {}

    @staticmethod
    def _allowed_by_key(kind: str, pool: pl.Series) -> np.ndarray:
        """(keys, codes) booleans: procedures by setting (inpatient, other, unknown), diagnoses by age band × sex."""
        if kind == "procedure":
            pcs = pool.str.contains(rules.PCS_PATTERN).to_numpy()
            cpt = pool.str.contains(rules.CPT_HCPCS_PATTERN).to_numpy()
            return np.stack([pcs, cpt, np.ones_like(pcs)])
        return ~age_sex_edits.conflicts(pool).reshape(pool.len(), -1).T

    def _row_groups(self, kind: str, context: pl.DataFrame | None) -> np.ndarray | None:
        if context is None:
            return None
        if kind == "procedure":
            if "claim_type" not in context.columns:
                return None
            setting = context["claim_type"].cast(pl.String)
            inpatient = (setting == "inpatient").fill_null(False).to_numpy()
            keys = np.where(inpatient, 0, np.where(setting.is_null().to_numpy(), 2, 1))
        elif "age" in context.columns and "sex" in context.columns:
            bands = age_sex_edits.age_bands(context["age"])
            keys = bands * len(age_sex_edits.SEX_KEYS) + age_sex_edits.sex_keys(context["sex"])
        else:
            return None
        return self._group_of_key[kind].reshape(-1)[keys]

    def _index_for(self, kind: str, group_id: int | None):
        """(index, vocabulary ids of its rows): the pool restricted to the group's allowed codes (the whole pool
        when all or none are allowed: with none, the edits reject and resample the row)."""
        index = self.indexes[kind]
        allowed = None if group_id is None else self._allowed[kind][group_id]
        if allowed is None or allowed.all() or not allowed.any():
            return index, self._pool_ids[kind]
        key = (kind, int(group_id))
        if key not in self._subsets:
            self._subsets[key] = (index.subset(index.codes[allowed].tolist()), self._pool_ids[kind][allowed])
        return self._subsets[key]

    def _nearest_ids(self, kind: str, group_id, queries: np.ndarray, rows: np.ndarray, context) -> np.ndarray:
        index, ids = self._index_for(kind, group_id)
        return ids[index.nearest_positions(queries)[:, 0]]

    def __call__(
        self, slot: str, vectors: np.ndarray, present: np.ndarray, context: pl.DataFrame | None = None
    ) -> pl.Series:
        kind = _slot_kind(slot)
        ids = np.full(len(vectors), -1, dtype=np.int64)
        rows = np.flatnonzero(present)
        if rows.size:
            if kind not in self.indexes:
                raise CodeMappingError(f"slot {slot}: no admissible {kind} code was seen in training")
            groups = self._row_groups(kind, context)
            if groups is None:
                ids[rows] = self._nearest_ids(kind, None, vectors[rows], rows, context)
            else:
                for group_id in np.unique(groups[rows]):
                    group = rows[groups[rows] == group_id]
                    ids[group] = self._nearest_ids(kind, group_id, vectors[group], group, context)
        return self.vocabulary.gather(pl.Series(ids).set(pl.Series(ids < 0), None)).alias(slot)

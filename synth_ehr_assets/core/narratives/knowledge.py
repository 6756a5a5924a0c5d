"""Clinical knowledge table for narratives, derived by code from the ICD-10-CM catalog and sentence embeddings.

For every diagnosis code the table holds its similarity to every chapter-R symptom/finding code (the blended
embedding of the code's and its category's descriptions against the R code descriptions), so the nearest
symptoms of any diagnosis are one row lookup (the R blocks a group's symptoms belong to are in `groups.py`);
the vectors also serve exemplar retrieval and free-text review. The clinical wording of notes is in
`clinical.py`, not derived from embeddings. Description vectors
are cached on disk per (embedding model, code set) and in memory, so a table is built once per code set.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import polars as pl

from synth_ehr_assets.core.narratives.groups import ConditionGroup, condition_group
from synth_ehr_assets.core.progress import Progress

Embed = Callable[[Sequence[str]], np.ndarray]

# R00-R69 are symptoms and signs; R70-R94 abnormal findings of tests (used in the Objective section).
SYMPTOM_BLOCK_END = "R69"
FINDING_BLOCK_END = "R94"
# Design rules: R codes never offered as a presenting symptom (death, coma scales, codes that are diagnoses
# in disguise or only make sense after a procedure / in another condition).
EXCLUDED_SYMPTOM = re.compile(
    r"mortality|coma scale|classified elsewhere|illness, unspecified|postprocedural|postvaccination|following|"
    r"arrest|shock|sepsis|systemic inflammatory|brain death|unspecified symptoms|other symptoms|other general|"
    r"other specified general|neonatal|burning mouth|other abnormal|bleeding .* (?:unspecified|other)|"
    r"glasgow|somnolence, stupor|unspecified abnormal|other nonspecific|without diagnosis|symptoms and signs|"
    r"verbosity|findings|blood-pressure reading",
    re.I,
)


def symptom_phrase(description: str) -> str:
    """Plain wording of an R code description: 'Other chest pain' -> 'chest pain', 'Cough, unspecified' -> 'cough'."""
    text = re.sub(r"\s*\([^)]*\)", "", description)
    text = re.sub(r",?\s*(?:not elsewhere classified|unspecified|NEC)\b", "", text, flags=re.I)
    text = re.sub(r"^(?:other specified|other|unspecified)\s+(?:forms of\s+)?", "", text, flags=re.I)
    text = re.sub(r"\s+", " ", text).strip(" ,;")
    if len(text) > 1 and not text[:2].isupper():
        text = text[0].lower() + text[1:]
    return text


@dataclass(frozen=True)
class ClinicalKnowledge:
    """Chapter-R candidates for a set of diagnosis codes; all arrays are aligned and read-only."""

    embedding_model: str
    code_set_version: str
    r_codes: tuple[str, ...]
    r_phrases: tuple[str, ...]
    r_is_symptom: np.ndarray  # bool (n_r,): True for R00-R69 codes that pass the design rules
    r_vectors: np.ndarray  # (n_r, d)
    dx_codes: tuple[str, ...]
    dx_descriptions: tuple[str, ...]
    dx_vectors: np.ndarray  # (n_dx, d) embeddings of the code descriptions
    dx_query: np.ndarray  # (n_dx, d) normalised code + 0.5 * category description vectors
    dx_similarity: np.ndarray  # (n_dx, n_r) blended code+category query vs R code descriptions
    dx_group_mask: np.ndarray  # (n_dx, n_r) True where the R code sits in a block the dx's group expects
    _index: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    _ranked: dict[tuple[str, int], np.ndarray] = field(default_factory=dict, repr=False, compare=False)
    memo: dict = field(default_factory=dict, repr=False, compare=False)  # derived per-code-set results

    def __post_init__(self) -> None:
        self._index.update({code: i for i, code in enumerate(self.dx_codes)})

    def has(self, code: str) -> bool:
        return code in self._index

    def row(self, code: str) -> int:
        try:
            return self._index[code]
        except KeyError:
            raise KeyError(f"diagnosis code {code!r} is not in the knowledge table; build it with this code") from None

    def description(self, code: str) -> str:
        return self.dx_descriptions[self.row(code)]

    def group(self, code: str) -> ConditionGroup:
        return condition_group(code)

    def ranked_symptoms(self, code: str, k: int = 12) -> np.ndarray:
        """Indexes into `r_codes` of the k symptom codes nearest to `code`, from its group's R blocks when they
        hold at least k symptoms (embedding neighbours alone confuse e.g. hypo-/hyper- words across systems)."""
        cached = self._ranked.get((code, k))
        if cached is None:
            row = self.row(code)
            in_group = self.r_is_symptom & self.dx_group_mask[row]
            allowed = in_group if in_group.sum() >= k else self.r_is_symptom
            score = np.where(allowed, self.dx_similarity[row], -np.inf)
            top = np.argpartition(-score, min(k, len(score) - 1))[:k]
            cached = self._ranked[(code, k)] = top[np.argsort(-score[top], kind="stable")]
        return cached

    def relevance(self, r_index: int, dx_codes: Iterable[str]) -> float:
        """Highest similarity of one R code to any of the claim's diagnosis codes."""
        rows = [self._index[c] for c in dx_codes if c in self._index]
        return float(self.dx_similarity[rows, r_index].max()) if rows else 0.0

    def table(self, k: int = 8) -> pl.DataFrame:
        """The knowledge table: per diagnosis its category, group and k nearest symptom codes with similarity."""
        rows = []
        for code in self.dx_codes:
            top = self.ranked_symptoms(code, k)
            rows.append({
                "code": code,
                "description": self.description(code),
                "category": code[:3],
                "group": self.group(code).key,
                "symptom_codes": [self.r_codes[i] for i in top],
                "symptoms": [self.r_phrases[i] for i in top],
                "similarity": [round(float(self.dx_similarity[self._index[code], i]), 4) for i in top],
            })
        return pl.DataFrame(rows)


def _symptom_block(codes: Sequence[str]) -> np.ndarray:
    return np.array([code[:3] <= SYMPTOM_BLOCK_END for code in codes])


class VectorCache:
    """Description vectors per code, on disk (Parquet, one file per model + code set) and in memory."""

    def __init__(self, folder: str | Path | None, fingerprint: str, embed: Embed):
        self.embed = embed
        key = hashlib.sha256(fingerprint.encode()).hexdigest()[:16]
        self.path = Path(folder) / f"code_vectors_{key}.parquet" if folder else None
        self.memory = _MEMORY.setdefault(key, {})
        if self.path and self.path.is_file() and not self.memory:
            frame = pl.read_parquet(self.path)
            vectors = np.asarray(frame["vector"].to_list(), dtype=np.float32)
            self.memory.update(zip(frame["key"].to_list(), vectors))

    def vectors(self, keys: Sequence[str], texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        missing = [(k, t) for k, t in dict(zip(keys, texts)).items() if k not in self.memory]
        if missing:
            fresh = self.embed([t for _, t in missing]) if progress is None else self.embed(
                [t for _, t in missing], progress=progress)
            self.memory.update(zip([k for k, _ in missing], np.asarray(fresh, dtype=np.float32)))
            self._save()
        return np.stack([self.memory[k] for k in keys]) if keys else np.zeros((0, 0), np.float32)

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        frame = pl.DataFrame({"key": list(self.memory), "vector": [v.tolist() for v in self.memory.values()]})
        handle, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".parquet")
        os.close(handle)
        frame.write_parquet(tmp)
        os.replace(tmp, self.path)  # atomic: a concurrent reader sees the old or the new file, never half


_MEMORY: dict[str, dict[str, np.ndarray]] = {}


@lru_cache(maxsize=1)
def _r_catalog() -> pl.DataFrame:
    from synth_ehr_assets.core.codes import icd10cm_catalog

    catalog = icd10cm_catalog()
    return catalog.filter(pl.col("code").str.starts_with("R") & (pl.col("code").str.slice(0, 3) <= FINDING_BLOCK_END))


def _default_embed() -> tuple[Embed, str]:
    from synth_ehr_assets.core.embeddings import MODEL_NAME, embed_texts, embedding_fingerprint

    return embed_texts, f"{MODEL_NAME}|{embedding_fingerprint()}"


def build_knowledge(
    dx_codes: Iterable[str],
    cache_dir: str | Path | None = None,
    embed: Embed | None = None,
    embed_fingerprint: str | None = None,
    progress: Progress | None = None,
) -> ClinicalKnowledge:
    """Knowledge table for these diagnosis codes (undotted ICD-10-CM); embeds only what the caches lack.

    `embed` defaults to `core.embeddings.embed_texts`; pass another function with `embed_fingerprint` (part of
    the cache key) to use a different model. Unknown codes raise a ValueError naming them.
    """
    from synth_ehr_assets.core.codes import CODE_SET_VERSION, age_sex_violation, describe

    codes = sorted({c for c in dx_codes if c})
    unknown = [c for c in codes if describe(c) is None]
    if unknown:
        raise ValueError(f"unknown ICD-10-CM codes for the knowledge table: {unknown[:10]}")
    if embed is None:
        embed, embed_fingerprint = _default_embed()
    elif embed_fingerprint is None:
        raise ValueError("pass embed_fingerprint together with a custom embed function (it keys the cache)")
    cache = VectorCache(cache_dir, f"{embed_fingerprint}|{CODE_SET_VERSION}", embed)

    r = _r_catalog()
    r_codes = r["code"].to_list()
    r_desc = r["description"].to_list()
    categories = sorted({c[:3] for c in codes})
    keys = r_codes + codes + [f"category:{c}" for c in categories]
    texts = r_desc + [describe(c) for c in codes] + [describe(c) or c for c in categories]
    vectors = cache.vectors(keys, texts, progress)
    r_vec = vectors[: len(r_codes)]
    dx_vec = vectors[len(r_codes) : len(r_codes) + len(codes)]
    cat_vec = dict(zip(categories, vectors[len(r_codes) + len(codes) :]))

    query = dx_vec + 0.5 * np.stack([cat_vec[c[:3]] for c in codes]) if codes else dx_vec
    query = query / np.maximum(np.linalg.norm(query, axis=1, keepdims=True), 1e-9)
    blocks = np.array([c[:3] for c in r_codes])
    in_group = (np.stack([condition_group(c).block_mask(blocks) for c in codes]) if codes
                else np.zeros((0, len(r_codes))))
    is_symptom = _symptom_block(r_codes) & np.array([not EXCLUDED_SYMPTOM.search(d) for d in r_desc])
    age_sex_violation("R51", 40, "F")  # loads the CMS edit tables now rather than inside the first note
    return ClinicalKnowledge(
        embedding_model=embed_fingerprint.split("|")[0],
        code_set_version=CODE_SET_VERSION,
        r_codes=tuple(r_codes),
        r_phrases=tuple(symptom_phrase(d) for d in r_desc),
        r_is_symptom=is_symptom,
        r_vectors=r_vec,
        dx_codes=tuple(codes),
        dx_descriptions=tuple(describe(c) for c in codes),
        dx_vectors=dx_vec,
        dx_query=query.astype(np.float32),
        dx_similarity=(query @ r_vec.T).astype(np.float32) if codes else np.zeros((0, len(r_codes)), np.float32),
        dx_group_mask=in_group > 0,
    )


def claim_dx_codes(claims: pl.DataFrame) -> list[str]:
    """Distinct diagnosis codes of a claims frame (every dx slot)."""
    from synth_ehr_assets.core.schema import DX_COLUMNS

    columns = [c for c in DX_COLUMNS if c in claims.columns]
    return claims.select(columns).unpivot()["value"].drop_nulls().unique().sort().to_list()

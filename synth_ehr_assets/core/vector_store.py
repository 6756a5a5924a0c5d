"""Vectors of code descriptions in LanceDB: a content-addressed cache, atomic table writes, and nearest-code lookup."""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from synth_ehr_assets.core.embeddings import embed_texts, embedding_fingerprint
from synth_ehr_assets.core.progress import Progress

VECTOR_COLUMN = "vector"
INDEX_MIN_ROWS = 5_000
INDEX_TYPE = "IVF_FLAT"
CACHE_PREFIX = "code_vectors_"
CATALOG_COLUMNS = ("code", "description", "code_system")
_ROWS_KEY = b"synth_ehr.rows"
_BATCH_ROWS = 8_192
TREE_MAX_DIM = 32
TREE_PROBE_ROWS = 2_000


def _lancedb():
    # Lance logs "No existing dataset at ..., it will be created" at WARN whenever `create_table(mode="overwrite")`
    # makes a table, which is how every table here is made; only its errors are worth a terminal line.
    os.environ.setdefault("LANCEDB_LOG", "error")
    import lancedb

    return lancedb


@dataclass(frozen=True)
class VectorTable:
    """What a write left behind: table name, rows, LanceDB version and the vector index kind."""

    name: str
    rows: int
    version: int
    index: str


def _record_batches(table: pa.Table) -> Iterator[pa.RecordBatch]:
    yield from table.to_batches(max_chunksize=_BATCH_ROWS)


def _vector_dim(frame: pl.DataFrame, what: str) -> int:
    if VECTOR_COLUMN not in frame.columns:
        raise ValueError(f"{what}: no '{VECTOR_COLUMN}' column (columns: {', '.join(frame.columns)})")
    column = frame[VECTOR_COLUMN]
    if not isinstance(column.dtype, (pl.List, pl.Array)) or not column.dtype.inner.is_numeric():
        raise ValueError(f"{what}: column '{VECTOR_COLUMN}' must hold lists of floats, found {column.dtype}")
    if column.null_count():
        raise ValueError(f"{what}: '{VECTOR_COLUMN}' is null in row {column.is_null().arg_true()[0]}")
    if frame.height == 0:
        raise ValueError(f"{what}: no rows")
    if isinstance(column.dtype, pl.Array):
        return column.dtype.size
    lengths = column.list.len()
    odd = (lengths != lengths[0]).arg_true() if lengths[0] else pl.Series([0])
    if len(odd):
        raise ValueError(f"{what}: vectors must be non-empty and all of one length (row {odd[0]} differs from row 0)")
    return int(lengths[0])


def write_vector_table(uri: str, name: str, frame: pl.DataFrame, metadata: dict[str, str] | None = None) -> VectorTable:
    """Replace table `name` with `frame` and add an IVF_FLAT cosine index once it has ≥ 5,000 rows.

    `mode="overwrite"` commits a new LanceDB version only after every data file is written, so a reader sees the
    old rows or the new rows, never a mix, and a write that fails part-way leaves the previous version current.
    """
    lancedb = _lancedb()

    dim = _vector_dim(frame, f"table {name}")
    arrow = frame.with_columns(pl.col(VECTOR_COLUMN).cast(pl.Array(pl.Float32, dim))).to_arrow()
    schema_metadata = {key.encode(): str(value).encode() for key, value in (metadata or {}).items()}
    arrow = arrow.replace_schema_metadata({**schema_metadata, _ROWS_KEY: str(frame.height).encode()})
    db = lancedb.connect(uri)
    reader = pa.RecordBatchReader.from_batches(arrow.schema, _record_batches(arrow))
    table = db.create_table(name, reader, mode="overwrite")
    index = _ensure_index(table, frame.height, rebuild=True)
    return VectorTable(name=name, rows=frame.height, version=table.version, index=index)


def _ensure_index(table, rows: int, rebuild: bool = False) -> str:
    """Give a table of ≥ 5,000 rows its IVF_FLAT cosine index (√rows partitions); describe the index."""
    if rows < INDEX_MIN_ROWS:
        return "none (exact scan below 5,000 rows)"
    partitions = max(1, round(math.sqrt(rows)))
    if rebuild or not list(table.list_indices()):
        from lancedb.index import IvfFlat

        config = IvfFlat(distance_type="cosine", num_partitions=partitions)
        table.create_index(VECTOR_COLUMN, config=config, replace=True)
    return f"{INDEX_TYPE} cosine, {partitions} partitions"


def read_vector_table(uri: str, name: str) -> pl.DataFrame:
    """The table's rows with `vector` as list[f32]; KeyError naming the table and database when it is missing."""
    lancedb = _lancedb()

    db = lancedb.connect(uri)
    if name not in db:
        raise KeyError(f"LanceDB table '{name}' does not exist in {uri}")
    frame = pl.from_arrow(db.open_table(name).to_arrow())
    return frame.with_columns(pl.col(VECTOR_COLUMN).cast(pl.List(pl.Float32)))


def _complete_table(db, name: str):
    """The table if it exists and holds every row its writer declared, else None."""
    if name not in db:
        return None
    table = db.open_table(name)
    declared = (table.schema.metadata or {}).get(_ROWS_KEY)
    return table if declared is not None and int(declared) == table.count_rows() else None


def catalog_fingerprint(catalog: pl.DataFrame) -> str:
    """Hash of the embedding model and the sorted (code system, code, description) triples."""
    missing = [c for c in CATALOG_COLUMNS if c not in catalog.columns]
    if missing:
        raise ValueError(f"code catalog lacks column(s) {', '.join(missing)} (has: {', '.join(catalog.columns)})")
    digest = hashlib.sha256(embedding_fingerprint().encode())
    rows = catalog.select(CATALOG_COLUMNS).unique().sort(CATALOG_COLUMNS, nulls_last=True)
    for system, code, description in rows.iter_rows():
        digest.update(f"\x1e{system}\x1f{code}\x1f{description or ''}".encode())
    return digest.hexdigest()


def cached_code_embeddings(
    uri: str, catalog: pl.DataFrame, progress: Progress | None = None
) -> tuple[pl.DataFrame, bool]:
    """Vectors for each catalog code, from the cache table named by the content hash, or embedded and stored there.

    Returns (frame[code, description, code_system, vector] sorted by code system and code, cache_hit). A code
    without description is embedded by its code. The cache table only counts as present when its row count
    matches the count stored at write time.
    """
    lancedb = _lancedb()

    if catalog.height == 0:
        raise ValueError("code catalog is empty: nothing to embed")
    name = CACHE_PREFIX + catalog_fingerprint(catalog)[:16]
    db = lancedb.connect(uri)
    table = _complete_table(db, name)
    if table is not None:
        _ensure_index(table, table.count_rows())  # an earlier writer may have stopped before indexing
        return read_vector_table(uri, name), True
    rows = (
        catalog.select(CATALOG_COLUMNS)
        .sort(CATALOG_COLUMNS, nulls_last=True)
        .unique(subset=["code_system", "code"], keep="first", maintain_order=True)
    )
    texts = rows.select(text=pl.coalesce("description", "code"))["text"].to_list()
    distinct = list(dict.fromkeys(texts))  # codes sharing a description are embedded once
    vectors = embed_texts(distinct, progress=progress)
    slot = {text: row for row, text in enumerate(distinct)}
    vectors = vectors[[slot[text] for text in texts]]
    frame = rows.with_columns(pl.Series(VECTOR_COLUMN, vectors, dtype=pl.Array(pl.Float32, vectors.shape[1])))
    write_vector_table(uri, name, frame, {"synth_ehr.embedding_model": embedding_fingerprint()})
    return frame.with_columns(pl.col(VECTOR_COLUMN).cast(pl.List(pl.Float32))), False


def search_lancedb(uri: str, table: str, query_vector: np.ndarray, k: int = 5) -> pl.DataFrame:
    """The k nearest rows by cosine distance through LanceDB (its IVF index if it has one), plus `distance`."""
    lancedb = _lancedb()

    db = lancedb.connect(uri)
    if table not in db:
        raise KeyError(f"LanceDB table '{table}' does not exist in {uri}")
    query = np.asarray(query_vector, dtype=np.float32).reshape(-1)
    hits = db.open_table(table).search(query, vector_column_name=VECTOR_COLUMN).distance_type("cosine").limit(k)
    return hits.to_polars().drop(VECTOR_COLUMN).rename({"_distance": "distance"})


PLAIN_CODE_PREFERENCE = ("cpt_hcpcs", "icd10pcs", "icd10cm")


def _plain_rank(system: str | None) -> int:
    return PLAIN_CODE_PREFERENCE.index(system) if system in PLAIN_CODE_PREFERENCE else len(PLAIN_CODE_PREFERENCE)


class NearestCodeIndex:
    """Exact nearest codes for many query vectors, by cosine similarity (default) or euclidean distance.

    Codes are keyed by (code system, code): HCPCS G0439 and ICD-10-CM G04.39 are both "G0439". A plain code
    names its only system; a code under several resolves to its procedure system (`PLAIN_CODE_PREFERENCE`),
    because the catalog holds every billable ICD-10-CM code but a procedure code only when the source bills it.
    `vector_of(codes, system=...)` reaches the other one.

    `strategy="matmul"`: chunked matrix products in torch, on the GPU when torch sees one (or `device=` names it);
    each chunk's score matrix stays near `chunk_bytes` (16 MiB on CPU, 1 GiB on GPU) whatever the number of codes.
    `"tree"`: a k-d tree (scipy), exact as well. `"auto"` picks per call (see `_search`).
    """

    def __init__(
        self,
        codes: list[str],
        vectors: np.ndarray,
        metric: str = "cosine",
        device: str | None = None,
        chunk_bytes: int | None = None,
        strategy: str = "auto",
        systems: list[str] | None = None,
    ):
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(codes) or len(codes) == 0:
            raise ValueError(f"need one vector row per code: {len(codes)} codes, vectors of shape {vectors.shape}")
        if metric not in ("cosine", "l2"):
            raise ValueError(f"metric must be 'cosine' or 'l2', got {metric!r}")
        if strategy not in ("auto", "matmul", "tree"):
            raise ValueError(f"strategy must be 'auto', 'matmul' or 'tree', got {strategy!r}")
        codes = [str(code) for code in codes]
        if systems is not None and len(systems) != len(codes):
            raise ValueError(f"need one code system per code: {len(codes)} codes, {len(systems)} systems")
        self.codes = np.array(codes, dtype=str)  # fixed-width, so mapping millions of rows back is one gather
        self.systems = list(systems) if systems is not None else None
        keys = list(zip(systems or [None] * len(codes), codes))
        self._keyed = {key: row for row, key in enumerate(keys)}
        if len(self._keyed) != len(codes):
            dupes = pl.Series([f"{s}:{c}" if s else c for s, c in keys])
            dupes = dupes.filter(dupes.is_duplicated()).unique().sort()
            raise ValueError(f"duplicate codes in the index: {', '.join(dupes.head(10).to_list())}")
        self._row: dict[str, int] = {}
        for (system, code), row in self._keyed.items():
            if code not in self._row or _plain_rank(system) < _plain_rank(self.systems[self._row[code]]):
                self._row[code] = row
        if metric == "cosine":
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            if not norms.all():
                raise ValueError(f"zero vector for code {self.codes[int(np.argmin(norms))]}: no direction for cosine")
            vectors = vectors / norms
        self.vectors = np.ascontiguousarray(vectors)
        self.metric = metric
        self._device = device
        self._chunk_bytes = chunk_bytes
        self.strategy = strategy
        self._on_device = None
        self._tree = None

    @classmethod
    def from_frame(cls, frame: pl.DataFrame, metric: str = "cosine", device: str | None = None) -> NearestCodeIndex:
        _vector_dim(frame, "code vectors")
        systems = frame["code_system"].to_list() if "code_system" in frame.columns else None
        return cls(frame["code"].to_list(), np.stack(frame[VECTOR_COLUMN].to_list()), metric=metric, device=device,
                   systems=systems)

    @classmethod
    def from_lancedb(cls, uri: str, table_name: str, metric: str = "cosine", device: str | None = None):
        """An index over every row of a LanceDB table written by `write_vector_table` (or the IO manager)."""
        return cls.from_frame(read_vector_table(uri, table_name), metric=metric, device=device)

    def __len__(self) -> int:
        return len(self.codes)

    def subset(self, codes) -> NearestCodeIndex:
        """An index over only these codes (e.g. the codes seen in training), each in its plain-code system."""
        codes = list(dict.fromkeys(str(code) for code in codes))
        systems = [self.systems[self._row[c]] for c in codes if c in self._row] if self.systems else None
        return NearestCodeIndex(
            codes, self.vector_of(codes), self.metric, self._device, self._chunk_bytes, self.strategy, systems
        )

    def vector_of(self, codes, system: str | None = None) -> np.ndarray:
        """Stored (normalised, for cosine) vectors of these codes, shape (len(codes), dim); `system` picks the
        code system (e.g. "icd10cm") instead of the plain-code one."""
        rows = []
        for code in codes:
            row = self._keyed.get((system, code)) if system is not None else self._row.get(code)
            if row is None:
                where = f" under {system}" if system is not None else ""
                raise KeyError(f"code {code!r} is not in the index of {len(self):,} codes{where}")
            rows.append(row)
        return self.vectors[rows]

    def nearest(self, queries: np.ndarray, k: int = 1) -> np.ndarray:
        """Codes nearest to each query row: shape (n,) for k=1, (n, k) best first for k>1."""
        return self.nearest_with_scores(queries, k)[0]

    def nearest_positions(self, queries: np.ndarray, k: int = 1) -> np.ndarray:
        """Row numbers (into `codes`) of the k nearest codes per query, shape (n, k), best first."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.vectors.shape[1])
        return self._search(queries, min(max(k, 1), len(self)))[0]

    def _code_tensors(self):
        import torch

        if self._on_device is None:
            device = torch.device(self._device or ("cuda" if torch.cuda.is_available() else "cpu"))
            vectors = torch.from_numpy(self.vectors).to(device)
            self._on_device = (vectors, -(vectors * vectors).sum(1) / 2)
        return self._on_device

    def nearest_with_scores(self, queries: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """(codes, scores): cosine similarity for metric cosine, euclidean distance for l2."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if queries.ndim == 1:
            queries = queries[None, :]
        if queries.ndim != 2 or queries.shape[1] != self.vectors.shape[1]:
            raise ValueError(f"queries must have shape (n, {self.vectors.shape[1]}), got {queries.shape}")
        if not 1 <= k <= len(self):
            raise ValueError(f"k must be between 1 and {len(self)}, got {k}")
        rows, scores = self._search(queries, k)
        codes = self.codes[rows]
        return (codes[:, 0], scores[:, 0]) if k == 1 else (codes, scores)

    def _search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        strategy = self.strategy
        if strategy == "auto":
            # In few dimensions a k-d tree is exact too and far faster when queries fall near codes (decoded
            # vectors do); it is slower for scattered queries, so time both on a probe and keep the faster.
            on_cpu = not self._code_tensors()[0].is_cuda
            if not (on_cpu and self.vectors.shape[1] <= TREE_MAX_DIM and len(queries) >= 20 * TREE_PROBE_ROWS):
                return self._matmul_search(queries, k)
            probe, rest = queries[:TREE_PROBE_ROWS], queries[TREE_PROBE_ROWS:]
            timings = {}
            for name, search in (("matmul", self._matmul_search), ("tree", self._tree_search)):
                started = time.perf_counter()
                found = search(probe, k)
                timings[name] = time.perf_counter() - started
            search = self._tree_search if timings["tree"] < timings["matmul"] else self._matmul_search
            rows, scores = search(rest, k)
            return np.concatenate([found[0], rows]), np.concatenate([found[1], scores])
        return self._tree_search(queries, k) if strategy == "tree" else self._matmul_search(queries, k)

    def _tree_search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        from scipy.spatial import cKDTree

        if self._tree is None:
            self._tree = cKDTree(self.vectors)  # code vectors are unit length for cosine: l2 order = cosine order
        rows = np.empty((len(queries), k), dtype=np.int64)
        scores = np.empty((len(queries), k), dtype=np.float32)
        for start in range(0, len(queries), 1 << 18):  # bounds the float64 copies scipy makes
            block = queries[start : start + (1 << 18)]
            if self.metric == "cosine":
                block = block / np.maximum(np.linalg.norm(block, axis=1, keepdims=True), 1e-12)
            distances, found = self._tree.query(block, k=k, workers=-1)
            rows[start : start + len(block)] = found.reshape(len(block), k)
            distances = distances.reshape(len(block), k)
            scores[start : start + len(block)] = 1 - distances**2 / 2 if self.metric == "cosine" else distances
        return rows, scores

    def _matmul_search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        import torch

        vectors, neg_half_sq_norms = self._code_tensors()
        budget = self._chunk_bytes or (1 << 30 if vectors.is_cuda else 1 << 24)
        chunk = max(1, min(len(queries), budget // (4 * len(self))))
        rows = torch.empty((len(queries), k), dtype=torch.int64)
        best = torch.empty((len(queries), k), dtype=torch.float32)
        # One score buffer reused for every chunk: fresh multi-MB allocations would page-fault on each chunk.
        sims_buffer = torch.empty((chunk, len(self)), device=vectors.device)
        with torch.inference_mode():
            for start in range(0, len(queries), chunk):
                block = torch.from_numpy(queries[start : start + chunk]).to(vectors.device)
                sims = sims_buffer[: len(block)]
                if self.metric == "l2":  # argmin |q-c|² = argmax (q·c - |c|²/2)
                    torch.addmm(neg_half_sq_norms, block, vectors.T, out=sims)
                else:
                    torch.mm(block, vectors.T, out=sims)
                top, index = sims.max(1, keepdim=True) if k == 1 else sims.topk(k, dim=1)
                if self.metric == "cosine":
                    top = top / block.norm(dim=1, keepdim=True).clamp_min(1e-12)
                else:
                    top = ((block * block).sum(1, keepdim=True) - 2 * top).clamp_min(0).sqrt()
                rows[start : start + len(block)] = index
                best[start : start + len(block)] = top
        return rows.numpy(), best.numpy()

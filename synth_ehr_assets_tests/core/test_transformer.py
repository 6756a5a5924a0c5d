"""TableTransformer: exact round trips, nulls, heavy tails, code slots, persistence."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import polars as pl
import pytest

from synth_ehr_assets.core.synth.transformer import TableTransformer, TransformerVersionError, slot_group

CODES = ["E119", "I10", "E785", "J449", "N183", "I509", "Z0000", "A001"]
KINDS = {
    "age": "numerical",
    "charge": "numerical",
    "service_date": "numerical",
    "sex": "categorical",
    "payer": "categorical",
    "dx_1": "icd10cm",
    "dx_2": "icd10cm",
    "px_1": "icd10cm",
}


def code_vectors(codes: list[str]) -> np.ndarray:
    """Deterministic stand-in for description embeddings: codes sharing a letter sit close together."""
    rows = []
    for code in codes:
        letter = np.random.default_rng(ord(code[0])).normal(size=384)
        own = np.random.default_rng(sum(ord(c) * (i + 1) for i, c in enumerate(code))).normal(size=384)
        vector = letter + 0.6 * own
        rows.append(vector / np.linalg.norm(vector))
    return np.array(rows)


def small_table(n: int = 400, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    weights = np.array([30, 25, 15, 10, 8, 6, 5, 1], dtype=float)
    age = rng.integers(18, 95, n).astype(np.int32)
    return pl.DataFrame(
        {
            "age": age,
            "charge": pl.Series(rng.lognormal(6, 2.0, n)).set(pl.Series(rng.random(n) < 0.1), None),
            "service_date": [dt.date(2024, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 366, n)],
            "sex": rng.choice(["F", "M"], n).tolist(),
            "payer": pl.Series([None if r < 0.2 else p for r, p in zip(rng.random(n), rng.choice(["medicare", "commercial"], n))], dtype=pl.String),
            "dx_1": rng.choice(CODES, n, p=weights / weights.sum()).tolist(),
            "dx_2": pl.Series([None if r < 0.5 else c for r, c in zip(rng.random(n), rng.choice(CODES[:6], n))], dtype=pl.String),
            "px_1": pl.Series([None if r < 0.7 else c for r, c in zip(rng.random(n), rng.choice(["B001", "B002", "C003"], n))], dtype=pl.String),
        }
    )


@pytest.fixture
def fitted() -> tuple[TableTransformer, pl.DataFrame]:
    table = small_table()
    return TableTransformer(KINDS, code_vectors, code_dims=6, seed=0).fit(table), table


def test_round_trip_keeps_values_dtypes_and_nulls(fitted):
    transformer, table = fitted
    matrix = transformer.transform(table)
    assert matrix.dtype == np.float32 and matrix.shape == (table.height, transformer.output_dim)
    back = transformer.inverse_transform(matrix)
    assert back.columns == table.columns and back.schema == table.schema
    for name in ("age", "service_date", "sex", "payer", "dx_1", "dx_2", "px_1"):
        assert back[name].is_null().to_list() == table[name].is_null().to_list(), name
        assert back[name].drop_nulls().to_list() == table[name].drop_nulls().to_list(), name
    assert back["charge"].is_null().to_list() == table["charge"].is_null().to_list()
    np.testing.assert_allclose(back["charge"].drop_nulls().to_numpy(), table["charge"].drop_nulls().to_numpy(), rtol=0.02)


def test_heavy_tail_comes_back_heavy(fitted):
    transformer, table = fitted
    z = transformer.transform(table)[:, transformer.column_slices["charge"].start]
    assert np.abs(z).max() < 5  # the model sees a bounded Gaussian-like column
    rng = np.random.default_rng(1)
    sampled = np.zeros((20_000, transformer.output_dim), dtype=np.float32)
    sampled[:, transformer.column_slices["charge"].start] = rng.normal(size=20_000)
    sampled[:, transformer.column_slices["charge"].start + 1] = 1.0
    charges = transformer.inverse_transform(sampled)["charge"].to_numpy()
    real = table["charge"].drop_nulls().to_numpy()
    for q in (0.5, 0.9, 0.99):
        assert np.quantile(charges, q) == pytest.approx(np.quantile(real, q), rel=0.15), q
    assert charges.max() <= real.max() * (1 + 1e-9) and np.quantile(charges, 0.999) > 20 * np.median(real)


def test_segments_tile_the_matrix(fitted):
    transformer, _ = fitted
    covered = [i for s in transformer.segments for i in range(s.start, s.stop)]
    assert covered == list(range(transformer.output_dim))
    assert {s.activation for s in transformer.segments if s.column == "dx_1"} == {"sigmoid", "linear"}
    assert transformer.column_slices["dx_1"].stop - transformer.column_slices["dx_1"].start == 1 + 6
    assert slot_group("dx_10") == "dx" and slot_group("px_1") == "px"


def test_default_decoder_returns_training_codes_of_the_slot_group(fitted):
    transformer, _ = fitted
    rng = np.random.default_rng(3)
    noisy = rng.normal(size=(500, transformer.output_dim)).astype(np.float32)
    back = transformer.inverse_transform(noisy)
    assert set(back["dx_1"].drop_nulls()) <= set(transformer.codes_seen("dx"))
    assert set(back["px_1"].drop_nulls()) <= {"B001", "B002", "C003"}
    assert set(transformer.codes_seen("px")) == {"B001", "B002", "C003"}


def test_code_decoder_receives_pca_vectors_and_presence(fitted):
    transformer, table = fitted
    calls = {}

    def decoder(slot, vectors, present, context):
        calls[slot] = (vectors.shape, int(present.sum()), context.columns)
        return ["I10" if p else None for p in present]

    back = transformer.inverse_transform(transformer.transform(table), code_decoder=decoder)
    assert calls["dx_2"][:2] == ((table.height, 6), table["dx_2"].is_not_null().sum())
    non_code = [c for c, kind in transformer.column_kinds.items() if kind != "icd10cm"]
    assert set(calls["dx_2"][2]) == {*non_code, "dx_1"}  # the row's other values and the slots decoded before
    assert back["dx_2"].drop_nulls().unique().to_list() == ["I10"]
    projected = transformer.code_pca_transform(code_vectors(["E119"]))
    block = transformer.transform(pl.DataFrame({**{c: table[c][:1] for c in table.columns}, "dx_1": ["E119"]}))
    np.testing.assert_allclose(block[0, transformer.column_slices["dx_1"]][1:], projected[0], atol=1e-5)


def test_unseen_codes_need_code_vectors(tmp_path, fitted):
    transformer, table = fitted
    transformer.save(tmp_path)
    loaded = TableTransformer.load(tmp_path)  # no code_vectors
    unseen = table.head(2).with_columns(pl.lit("K219").alias("dx_1"))
    with pytest.raises(ValueError, match="K219"):
        loaded.transform(unseen)
    assert transformer.transform(unseen)[:, transformer.column_slices["dx_1"]][:, 1:].any()


def test_save_load_round_trip_and_version_check(tmp_path, fitted):
    transformer, table = fitted
    transformer.save(tmp_path / "t")
    loaded = TableTransformer.load(tmp_path / "t", code_vectors)
    matrix = transformer.transform(table)
    np.testing.assert_array_equal(loaded.transform(table), matrix)
    assert loaded.inverse_transform(matrix).equals(transformer.inverse_transform(matrix))
    config = json.loads((tmp_path / "t" / "transformer.json").read_text())
    config["format_version"] = 999
    (tmp_path / "t" / "transformer.json").write_text(json.dumps(config))
    with pytest.raises(TransformerVersionError, match="format_version 999"):
        TableTransformer.load(tmp_path / "t")


def test_rare_categories_share_a_slot_and_come_back_by_frequency():
    values = ["a"] * 50 + ["b"] * 30 + ["c"] * 15 + ["d"] * 5
    table = pl.DataFrame({"kind": values, "x": np.arange(100, dtype=np.float64)})
    transformer = TableTransformer({"kind": "categorical", "x": "numerical"}, max_categories=2).fit(table)
    assert transformer.column_slices["kind"].stop - transformer.column_slices["kind"].start == 3
    back = transformer.inverse_transform(transformer.transform(table), seed=7)
    assert back["kind"].to_list()[:80] == values[:80]
    assert set(back["kind"].to_list()[80:]) <= {"c", "d"}
    assert back.equals(transformer.inverse_transform(transformer.transform(table), seed=7))


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="unknown column kind"):
        TableTransformer({"x": "text"})
    with pytest.raises(ValueError, match="code_vectors"):
        TableTransformer({"dx_1": "icd10cm"}).fit(pl.DataFrame({"dx_1": ["I10"]}))
    transformer = TableTransformer({"x": "numerical"}).fit(pl.DataFrame({"x": [1.0, 2.0]}))
    with pytest.raises(ValueError, match=r"\['x'\]"):
        transformer.transform(pl.DataFrame({"y": [1.0]}))

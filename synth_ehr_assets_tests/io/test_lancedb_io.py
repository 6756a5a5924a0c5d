"""LanceDBIOManager: a table per asset and release, replaced atomically, readable as polars."""

import dagster as dg
import numpy as np
import polars as pl
import pytest

from synth_ehr_assets.core import vector_store
from synth_ehr_assets.defs.partitions import release_partitions
from synth_ehr_assets.io.lancedb_io import LanceDBIOManager

ASSET = dg.AssetKey("code_embeddings")


def _vectors(n: int, seed: int, label: str) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {"code": [f"{label}{i:05d}" for i in range(n)], "vector": rng.normal(size=(n, 16)).astype(np.float32).tolist()}
    )


@pytest.fixture(scope="module")
def instance():
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("release", ["a", "b"])
        yield instance


def _write(manager: LanceDBIOManager, instance, release: str, frame: pl.DataFrame) -> dg.OutputContext:
    context = dg.build_output_context(
        asset_key=ASSET, partition_key=release, asset_partitions_def=release_partitions, instance=instance
    )
    manager.handle_output(context, frame)
    return context


def _metadata(context: dg.OutputContext) -> dict:
    return {key: getattr(value, "value", value) for key, value in context.get_logged_metadata().items()}


def _read(manager: LanceDBIOManager, instance, release: str) -> pl.DataFrame:
    context = dg.build_input_context(
        asset_key=ASSET, partition_key=release, asset_partitions_def=release_partitions, instance=instance
    )
    return manager.load_input(context)


def test_rewriting_one_release_leaves_the_other_untouched(tmp_path, instance):
    manager = LanceDBIOManager(uri=str(tmp_path / "lancedb"))
    first_a, b, second_a = _vectors(40, 1, "A"), _vectors(25, 2, "B"), _vectors(30, 3, "Z")
    context = _write(manager, instance, "a", first_a)
    metadata = _metadata(context)
    assert metadata["dagster/row_count"] == 40 and metadata["lancedb_table"] == "code_embeddings__a"
    assert metadata["vector_index"].startswith("none")
    _write(manager, instance, "b", b)
    _write(manager, instance, "a", second_a)

    read_a, read_b = _read(manager, instance, "a"), _read(manager, instance, "b")
    assert read_a["code"].to_list() == second_a["code"].to_list()
    assert read_b["code"].to_list() == b["code"].to_list()
    assert read_b["vector"].dtype == pl.List(pl.Float32)
    np.testing.assert_allclose(np.stack(read_b["vector"].to_list()), np.stack(b["vector"].to_list()), rtol=1e-6)


def test_failed_write_keeps_the_previous_version_readable(tmp_path, instance, monkeypatch):
    manager = LanceDBIOManager(uri=str(tmp_path / "lancedb"))
    before = _vectors(20_000, 4, "P")
    _write(manager, instance, "a", before)

    def batches_then_crash(table):
        yield table.to_batches(max_chunksize=8_192)[0]  # some data files get written...
        raise OSError("disk full")  # ...then the writer dies before committing

    monkeypatch.setattr(vector_store, "_record_batches", batches_then_crash)
    with pytest.raises(Exception, match="disk full"):
        _write(manager, instance, "a", _vectors(20_000, 5, "Q"))
    after = _read(manager, instance, "a")
    assert after.height == 20_000 and after["code"].to_list() == before["code"].to_list()


def test_large_table_gets_an_ivf_flat_cosine_index(tmp_path, instance):
    import lancedb

    manager = LanceDBIOManager(uri=str(tmp_path / "lancedb"))
    context = _write(manager, instance, "b", _vectors(5_000, 6, "L"))
    assert _metadata(context)["vector_index"] == "IVF_FLAT cosine, 71 partitions"
    indices = list(lancedb.connect(str(tmp_path / "lancedb")).open_table("code_embeddings__b").list_indices())
    assert [index.index_type for index in indices] == ["IvfFlat"]


def test_bad_frames_are_refused_with_the_reason(tmp_path, instance):
    manager = LanceDBIOManager(uri=str(tmp_path / "lancedb"))
    with pytest.raises(TypeError, match="polars DataFrames"):
        _write(manager, instance, "a", _vectors(3, 1, "A").to_pandas())
    with pytest.raises(ValueError, match="no 'vector' column"):
        _write(manager, instance, "a", pl.DataFrame({"code": ["A"]}))
    with pytest.raises(ValueError, match="row 1 differs"):
        _write(manager, instance, "a", pl.DataFrame({"code": ["A", "B"], "vector": [[1.0, 2.0], [1.0]]}))
    with pytest.raises(KeyError, match="code_embeddings__b"):
        _read(manager, instance, "b")


def test_materialize_through_env_var_uri(tmp_path, monkeypatch, instance):
    monkeypatch.setenv("SYNTH_EHR_LANCEDB_URI", str(tmp_path / "from_env"))

    @dg.asset(partitions_def=release_partitions, io_manager_key="lancedb_io_manager")
    def code_embeddings(context: dg.AssetExecutionContext) -> pl.DataFrame:
        return _vectors(10, len(context.partition_key), context.partition_key.upper())

    @dg.asset(partitions_def=release_partitions)
    def vector_count(code_embeddings: pl.DataFrame) -> int:
        return code_embeddings.height

    result = dg.materialize(
        [code_embeddings, vector_count],
        partition_key="b",
        instance=instance,
        resources={"lancedb_io_manager": LanceDBIOManager(uri=dg.EnvVar("SYNTH_EHR_LANCEDB_URI"))},
    )
    assert result.output_for_node("vector_count") == 10
    assert (tmp_path / "from_env" / "code_embeddings__b.lance").is_dir()

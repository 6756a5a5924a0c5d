"""The Delta warehouse: one release replaces only its own rows, and releases writing one table at once all land."""

import multiprocessing
import time
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

pytest.importorskip("dagster_deltalake_polars", reason="the delta warehouse needs the `scaleout` extra")

from synth_ehr_assets.io.delta_io import delta_io_manager, read_delta_table  # noqa: E402
from synth_ehr_assets.io.duckdb_io import RELEASE_PARTITION_METADATA  # noqa: E402

partitions = dg.DynamicPartitionsDefinition(name="release")
RELEASES = [f"r{i}" for i in range(4)]


def _rows(release_id: str, n: int) -> pl.DataFrame:
    return pl.DataFrame({"release_id": [release_id] * n, "value": list(range(n)), "note": [None] * n})


def _size(release_id: str) -> int:
    return 10 + int(release_id[1:])


class Size(dg.Config):
    rows: int


@dg.asset(partitions_def=partitions, metadata=RELEASE_PARTITION_METADATA)
def claims(context: dg.AssetExecutionContext, config: Size) -> pl.DataFrame:
    return _rows(context.partition_key, config.rows)


@dg.asset(partitions_def=partitions, metadata=RELEASE_PARTITION_METADATA)
def claim_count(claims: pl.DataFrame) -> pl.DataFrame:
    return claims.group_by("release_id").len().with_columns(pl.col("len").cast(pl.Int64))


def _materialize(root: str, release_id: str, rows: int, selection=(claims, claim_count)) -> bool:
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("release", [release_id])
        return dg.materialize(list(selection), partition_key=release_id, instance=instance,
                              resources={"io_manager": delta_io_manager(root)},
                              run_config={"ops": {"claims": {"config": {"rows": rows}}}}).success


def test_a_release_replaces_only_its_partition_and_an_empty_output_clears_it(tmp_path: Path):
    root = str(tmp_path / "delta")
    for release_id, rows in (("r1", 30), ("r2", 12), ("r1", 11)):
        assert _materialize(root, release_id, rows)
    stored = read_delta_table(root, "claims")
    assert stored.group_by("release_id").len().sort("release_id").rows() == [("r1", 11), ("r2", 12)]
    assert read_delta_table(root, "claim_count", "r2")["len"].to_list() == [12]
    assert stored.schema["note"] == pl.String  # an all-null column is kept as a string column

    assert _materialize(root, "r2", 0, selection=(claims,))
    assert read_delta_table(root, "claims", "r2").is_empty()
    assert read_delta_table(root, "claims", "r1").height == 11


class RacingSize(Size):
    gate: str  # folder where each run announces itself; the write waits until every run has arrived


@dg.asset(partitions_def=partitions, metadata=RELEASE_PARTITION_METADATA, name="claims")
def racing_claims(context: dg.AssetExecutionContext, config: RacingSize) -> pl.DataFrame:
    gate = Path(config.gate)
    (gate / context.partition_key).touch()
    deadline = time.monotonic() + 120
    while len(list(gate.iterdir())) < len(RELEASES) and time.monotonic() < deadline:
        time.sleep(0.01)
    return _rows(context.partition_key, config.rows)


def _racing_writer(root: str, gate: str, release_id: str) -> None:
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("release", [release_id])
        config = {"rows": _size(release_id), "gate": gate}
        result = dg.materialize([racing_claims, claim_count], partition_key=release_id, instance=instance,
                                resources={"io_manager": delta_io_manager(root)},
                                run_config={"ops": {"claims": {"config": config}}}, raise_on_error=False)
    raise SystemExit(0 if result.success else 1)


def test_releases_written_at_the_same_moment_all_land_uncontaminated(tmp_path: Path):
    """One run per release, in its own process, all reaching the write of a table not created yet at once."""
    root, gate = str(tmp_path / "delta"), tmp_path / "gate"
    gate.mkdir()
    context = multiprocessing.get_context("spawn")  # delta-rs (tokio) threads do not survive a fork
    writers = {r: context.Process(target=_racing_writer, args=(root, str(gate), r)) for r in RELEASES}
    for writer in writers.values():
        writer.start()
    for writer in writers.values():
        writer.join(timeout=180)
    assert {r: w.exitcode for r, w in writers.items()} == {r: 0 for r in RELEASES}
    stored = read_delta_table(root, "claims")
    for release_id in RELEASES:
        own = stored.filter(pl.col("release_id") == release_id).sort("value")
        assert own.equals(_rows(release_id, _size(release_id)).with_columns(pl.col("note").cast(pl.String)))
    counts = read_delta_table(root, "claim_count").sort("release_id")
    assert counts.rows() == [(release_id, _size(release_id)) for release_id in RELEASES]

"""Two releases materialized at the same time, each in its own run, share the warehouse: the DuckDB file (multiprocess
runs) or the Delta tables several machines share (`SYNTH_EHR_WAREHOUSE=delta`; in-process runs, since what races
there is the two runs' commits to the same tables, not the steps of one run)."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from synth_ehr_assets.core.reference import generate_reference_claims

from synth_ehr_assets.defs.settings import PROJECT_ROOT

# Every DuckDB writer of the source and synthesis groups, plus the vector store, in one run per release; the
# Delta case leaves out the vector store (per release either way, and the slowest step).
SELECTION = "source_claims,source_quarantine,code_catalog,code_embeddings"
TABLES_ONLY = "source_claims,source_quarantine,code_catalog"
RELEASES = {"concurrent_a": (1_500, 11), "concurrent_b": (900, 23)}

pytestmark = pytest.mark.slow


def _spec(claims: int, seed: int) -> str:
    return f"seed: {seed}\nrows: 200\nsource: {{kind: reference, claims: {claims}}}\ncodes: {{embed: used}}\n"


def _tables(warehouse: str, stores: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(source_claims, code_catalog) of every release, as the warehouse stores them."""
    if warehouse == "delta":
        from synth_ehr_assets.io.delta_io import read_delta_table

        return (read_delta_table(str(stores / "delta"), "source_claims"),
                read_delta_table(str(stores / "delta"), "code_catalog"))
    with duckdb.connect(os.environ["SYNTH_EHR_DUCKDB_PATH"], read_only=True) as con:
        return tuple(con.sql(f"select * from synth_ehr.{table}").pl() for table in ("source_claims", "code_catalog"))


@pytest.mark.parametrize(("warehouse", "executor", "selection"), [("duckdb", "multiprocess", SELECTION),
                                                                  ("delta", "in_process", TABLES_ONLY)],
                         ids=["duckdb", "delta"])
def test_two_releases_at_once_complete_without_lock_errors_or_contamination(stores: Path, warehouse, executor,
                                                                            selection):
    if warehouse == "delta":
        pytest.importorskip("dagster_deltalake_polars", reason="the delta warehouse needs the `scaleout` extra")
    home = stores / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "SYNTH_EHR_EXECUTOR": executor, "SYNTH_EHR_WAREHOUSE": warehouse,
           "SYNTH_EHR_DELTA_URI": str(stores / "delta")}
    for release_id, (claims, seed) in RELEASES.items():
        (stores / "releases" / f"{release_id}.yaml").write_text(_spec(claims, seed))
        subprocess.run(
            [sys.executable, "-m", "synth_ehr_assets.cli", "release", "add", release_id],
            env=env, cwd=PROJECT_ROOT, check=True, capture_output=True,
        )
    dagster = str(Path(sys.executable).parent / "dagster")
    started = time.perf_counter()
    runs = {
        release_id: subprocess.Popen(
            [dagster, "asset", "materialize", "-m", "synth_ehr_assets.definitions", "--select", selection,
             "--partition", release_id],
            env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for release_id in RELEASES
    }
    logs = {release_id: process.communicate(timeout=600)[0] for release_id, process in runs.items()}
    seconds = time.perf_counter() - started
    for release_id, process in runs.items():
        assert process.returncode == 0, f"{release_id} failed after {seconds:.0f}s:\n{logs[release_id][-4000:]}"
        assert "Could not set lock" not in logs[release_id]
        assert "RUN_SUCCESS" in logs[release_id]

    claims, catalog = _tables(warehouse, stores)
    per_release = dict(claims.group_by("release_id").len().iter_rows())
    assert per_release == {release_id: n for release_id, (n, _) in RELEASES.items()}
    dx = [f"dx_{i}" for i in range(1, 11)]
    for release_id, (n, seed) in RELEASES.items():
        stored = claims.filter(pl.col("release_id") == release_id).drop("release_id").sort("claim_id")
        expected = generate_reference_claims(n, seed, release_id).drop("release_id").sort("claim_id")
        assert stored.equals(expected), f"{release_id}: stored claims differ from its own reference population"
        used = catalog.filter((pl.col("release_id") == release_id) & (pl.col("code_system") == "icd10cm"))[
            "source_count"].sum()
        carried = sum(stored[c].is_not_null().sum() for c in dx)
        assert used == carried, f"{release_id}: catalog usage counts come from another release"
    print(f"two concurrent releases ({warehouse}, {executor}) completed in {seconds:.1f}s")

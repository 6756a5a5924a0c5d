"""Two releases materialized at the same time, each in its own multiprocess run, share the DuckDB warehouse."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from synth_ehr_assets.core.reference import generate_reference_claims

from synth_ehr_assets.defs.settings import PROJECT_ROOT

# Every DuckDB writer of the source and synthesis groups, plus the vector store, in one run per release.
SELECTION = "source_claims,source_quarantine,code_catalog,code_embeddings"
RELEASES = {"concurrent_a": (1_500, 11), "concurrent_b": (900, 23)}

pytestmark = pytest.mark.slow


def _spec(claims: int, seed: int) -> str:
    return f"seed: {seed}\nrows: 200\nsource: {{kind: reference, claims: {claims}}}\ncodes: {{embed: used}}\n"


def test_two_releases_at_once_complete_without_lock_errors_or_contamination(stores: Path):
    home = stores / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "SYNTH_EHR_EXECUTOR": "multiprocess"}
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
            [dagster, "asset", "materialize", "-m", "synth_ehr_assets.definitions", "--select", SELECTION,
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

    with duckdb.connect(os.environ["SYNTH_EHR_DUCKDB_PATH"], read_only=True) as con:
        per_release = dict(con.sql("select release_id, count(*) from synth_ehr.source_claims group by 1").fetchall())
        assert per_release == {release_id: claims for release_id, (claims, _) in RELEASES.items()}
        for release_id, (claims, seed) in RELEASES.items():
            stored = con.sql(
                "select * exclude (release_id) from synth_ehr.source_claims where release_id = ? order by claim_id",
                params=[release_id],
            ).pl()
            expected = generate_reference_claims(claims, seed, release_id).drop("release_id").sort("claim_id")
            assert stored.equals(expected), f"{release_id}: stored claims differ from its own reference population"
            used = con.sql(
                "select sum(source_count) from synth_ehr.code_catalog where release_id = ? and code_system = 'icd10cm'",
                params=[release_id],
            ).fetchone()[0]
            carried = con.sql(
                "select count(*) from (select unnest([dx_1, dx_2, dx_3, dx_4, dx_5, dx_6, dx_7, dx_8, dx_9, dx_10]) "
                "as code from synth_ehr.source_claims where release_id = ?) where code is not null",
                params=[release_id],
            ).fetchone()[0]
            assert used == carried, f"{release_id}: catalog usage counts come from another release"
    print(f"two concurrent releases completed in {seconds:.1f}s")

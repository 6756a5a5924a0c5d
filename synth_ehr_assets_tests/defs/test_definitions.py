"""The code location loads fast, validates, and its graph matches the reviewed snapshot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def graph_snapshot(defs: dg.Definitions) -> dict:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "partitions": getattr(node.partitions_def, "name", None),
            "deps": sorted(d.to_user_string() for d in node.parent_keys),
            "pool": sorted(node.pools or []),
            "automation": node.automation_condition.get_label() if node.automation_condition else None,
        }
    checks = {
        f"{spec.asset_key.to_user_string()}:{spec.name}": {"blocking": spec.blocking}
        for spec in sorted(
            (graph.get_check_spec(key) for key in graph.asset_check_keys),
            key=lambda s: (s.asset_key.to_user_string(), s.name),
        )
    }
    repo = defs.get_repository_def()
    return {
        "assets": assets,
        "checks": checks,
        "jobs": sorted(job.name for job in repo.get_all_jobs() if not job.name.startswith("__")),
        "sensors": {s.name: s.default_status.value for s in repo.sensor_defs},
        "schedules": {s.name: [s.cron_schedule, s.default_status.value] for s in repo.schedule_defs},
    }


def test_graph_matches_the_reviewed_snapshot(stores):
    from synth_ehr_assets.definitions import build_definitions

    current = graph_snapshot(build_definitions())
    if os.environ.get("SYNTH_EHR_UPDATE_SNAPSHOT"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    expected = json.loads(SNAPSHOT.read_text())
    assert current == expected, (
        "the asset graph changed; review the diff and re-run with SYNTH_EHR_UPDATE_SNAPSHOT=1 to accept it"
    )


def test_every_asset_is_partitioned_by_release(stores):
    from synth_ehr_assets.definitions import build_definitions

    snapshot = graph_snapshot(build_definitions())
    assert {a["partitions"] for a in snapshot["assets"].values()} == {"release"}


def _import_seconds(statement: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], check=True, cwd=PROJECT_ROOT)
    return time.perf_counter() - started


def test_definitions_import_in_under_five_seconds():
    seconds = _import_seconds("import synth_ehr_assets.definitions")
    # dagster alone takes about 3 s here and more on a loaded box: what we add on top must stay small too.
    ours = seconds - _import_seconds("import dagster, polars")
    assert seconds < 5 or ours < 2.0, f"importing the definitions took {seconds:.1f}s, {ours:.1f}s over dagster + polars"
    heavy = subprocess.run(
        [sys.executable, "-c", "import sys, synth_ehr_assets.definitions as d; "
         "print(','.join(m for m in ('torch', 'sentence_transformers', 'mlflow', 'lancedb', 'sdmetrics') if m in sys.modules))"],
        check=True, cwd=PROJECT_ROOT, capture_output=True, text=True,
    ).stdout.strip()
    assert heavy == "", f"heavy modules imported at load time: {heavy}"


def test_dagster_definitions_validate(stores):
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, env={**os.environ, "DAGSTER_HOME": str(stores)},
    )
    assert result.returncode == 0, result.stdout + result.stderr

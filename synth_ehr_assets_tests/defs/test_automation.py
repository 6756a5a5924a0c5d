"""Declarative automation: a materialized source pulls the next assets through only when its gate passed."""

import dagster as dg
import polars as pl
import pytest

from synth_ehr_assets.core.reference import generate_reference_claims
from synth_ehr_assets.defs.automation import RELEASE_AUTOMATION
from synth_ehr_assets_tests.defs.helpers import materialize, release_instance

SOURCE = ["source_claims", "source_quarantine"]


def _file_release(write_spec, stores, release_id: str, corrupt_rows: int) -> None:
    claims = generate_reference_claims(40, seed=5, release_id=release_id).drop("release_id")
    claims = claims.with_columns(pl.col("service_date").cast(pl.String))
    if corrupt_rows:
        bad = pl.Series("service_date", ["not-a-date"] * corrupt_rows + claims["service_date"][corrupt_rows:].to_list())
        claims = claims.with_columns(bad)
    path = stores / f"{release_id}.csv"
    claims.write_csv(path)
    write_spec(release_id, {"rows": 50, "source": {"kind": "file", "path": str(path)}, "codes": {"embed": "used"}})


def _evaluate(defs: dg.Definitions, instance: dg.DagsterInstance, cursor=None):
    """One automation tick: (requested partitions per asset, cursor for the next tick)."""
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
    requested = {
        key.path[-1]: set(result.get_requested_partitions(key))
        for key in (dg.AssetKey(name) for name in ("code_catalog", "code_embeddings", "source_claims"))
    }
    return requested, result.cursor


def test_every_downstream_asset_carries_the_release_condition():
    from synth_ehr_assets.definitions import build_definitions

    graph = build_definitions().resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        expected = RELEASE_AUTOMATION if node.parent_keys else None
        assert node.automation_condition == expected, key.to_user_string()


@pytest.mark.parametrize(("corrupt_rows", "pulled_through"), [(0, True), (10, False)])
def test_source_materialization_pulls_downstream_only_when_gate_passes(
    write_spec, stores, corrupt_rows, pulled_through
):
    from synth_ehr_assets.definitions import build_definitions

    release_id = "auto_gate" if corrupt_rows else "auto_pass"
    _file_release(write_spec, stores, release_id, corrupt_rows)
    defs = build_definitions()
    with release_instance(release_id) as instance:
        requested, cursor = _evaluate(defs, instance)
        assert requested["code_catalog"] == set()  # nothing upstream exists yet
        result = materialize(SOURCE, release_id, instance, raise_on_error=False)
        check = next(e for e in result.get_asset_check_evaluations() if e.check_name == "source_schema_valid")
        assert check.passed is pulled_through
        requested, _ = _evaluate(defs, instance, cursor)
    assert (release_id in requested["code_catalog"]) is pulled_through
    assert requested["source_claims"] == set()  # roots are never automated
    # the whole chain is requested in one tick: a dependency that will be requested does not count as missing
    assert (release_id in requested["code_embeddings"]) is pulled_through

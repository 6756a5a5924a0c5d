"""The feature stage by kind: every kind gets a split and a fitted transformer; `journey` also saves its journey
model and `dp_mst` its MST model with the budget it spent, both fitted on training rows only."""

from __future__ import annotations

import json

import polars as pl
import pytest

from synth_ehr_assets.core import schema
from synth_ehr_assets.core.reference import generate_reference_claims
from synth_ehr_assets.core.spec import parse_spec
from synth_ehr_assets.core.synth.feature_stage import encode_for_kind
from synth_ehr_assets.core.vector_store import NearestCodeIndex
from synth_ehr_assets_tests.core.test_synth_claims import hierarchy_vectors


@pytest.fixture(scope="module")
def rows() -> pl.DataFrame:
    return generate_reference_claims(1500, seed=2, release_id="fs")


@pytest.fixture(scope="module")
def index(rows) -> NearestCodeIndex:
    used = sorted(pl.concat([rows[c] for c in schema.DX_COLUMNS + schema.PX_COLUMNS]).drop_nulls().unique().to_list())
    return NearestCodeIndex(used, hierarchy_vectors(used))


@pytest.mark.parametrize("blocks, saved", [
    ({}, None),
    ({"synthesizer": {"kind": "journey"}}, "journey_model.json"),
    ({"synthesizer": {"kind": "dp_mst"}, "privacy": {"dp_epsilon": 4.0, "drop_exact_matches": False,
                                                     "dp_unit": "claim", "dp_noise_seed": 1}}, "dp_mst/synthesizer.json"),
])
def test_each_kind_saves_what_it_fits_beside_the_features(rows, index, tmp_path, blocks, saved):
    spec = parse_spec({"seed": 3, "codes": {"embed": "used"}, **blocks}, "fs")
    split, features, dp = encode_for_kind(rows, spec, index, tmp_path, ())
    assert split.height == rows.height and set(split["split"].unique()) >= {"train", "holdout"}
    assert features.transformer.output_dim > 0
    if saved is None:
        assert dp == {} and not (tmp_path / "journey_model.json").exists()
        return
    assert (tmp_path / saved).exists()
    if spec.synthesizer.kind == "dp_mst":
        assert 0 < dp["dp_epsilon_spent"] <= 4.0 + 1e-9 and dp["dp_bounded_rows"] <= (split["split"] == "train").sum()
        assert json.loads((tmp_path / saved).read_text())["kind"] == "dp_mst"

from pathlib import Path

import pytest

from synth_ehr_assets.core.spec import SpecError, check_release_id, list_specs, load_spec, parse_spec

DEMO_SPEC = Path(__file__).resolve().parents[2] / "data" / "releases" / "demo.yaml"


def test_shipped_demo_spec_is_valid():
    spec = load_spec(DEMO_SPEC)
    assert spec.release_id == "demo"
    assert spec.source.kind == "reference"
    assert spec.rows >= sum(t.min_claims for t in spec.coverage)


@pytest.mark.parametrize("bad_id", ["Demo", "a b", "x;drop table", "", "ü", "a" * 65, "../etc"])
def test_release_ids_outside_the_safe_alphabet_are_refused(bad_id):
    with pytest.raises(SpecError, match="release id"):
        check_release_id(bad_id)


def test_unknown_keys_are_named_in_the_error():
    with pytest.raises(SpecError, match="field 'synthesizer.gan_epochz'"):
        parse_spec({"synthesizer": {"gan_epochz": 3}}, "r1")


def test_bad_values_are_named_in_the_error():
    with pytest.raises(SpecError, match="field 'rows'"):
        parse_spec({"rows": 0}, "r1")


def test_source_kind_selects_the_source_model():
    spec = parse_spec({"source": {"kind": "file", "path": "claims.csv", "column_map": {"age": "AGE"}}}, "r1")
    assert spec.source.kind == "file" and spec.source.column_map == {"age": "AGE"}
    with pytest.raises(SpecError, match="source"):
        parse_spec({"source": {"kind": "warehouse"}}, "r1")


def test_coverage_needs_exactly_one_target_and_must_fit_the_row_count():
    with pytest.raises(SpecError, match="exactly one"):
        parse_spec({"coverage": [{"code": "E840", "category": "E84", "min_claims": 3}]}, "r1")
    with pytest.raises(SpecError, match="coverage targets ask for 50"):
        parse_spec({"rows": 10, "coverage": [{"code": "E840", "min_claims": 50}]}, "r1")


def test_release_id_in_the_file_must_match_the_file_name():
    with pytest.raises(SpecError, match="file name says 'r1'"):
        parse_spec({"release_id": "r2"}, "r1")


def test_fingerprint_changes_with_content_and_not_with_key_order():
    a = parse_spec({"rows": 10, "seed": 1}, "r1")
    b = parse_spec({"seed": 1, "rows": 10}, "r1")
    c = parse_spec({"seed": 2, "rows": 10}, "r1")
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()


def test_missing_and_malformed_spec_files_fail_with_the_path(tmp_path):
    with pytest.raises(SpecError, match="does not exist"):
        load_spec(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("rows: [1, 2\n")
    with pytest.raises(SpecError, match="broken.yaml: not valid YAML"):
        load_spec(broken)
    listed = tmp_path / "listed.yaml"
    listed.write_text("- 1\n- 2\n")
    with pytest.raises(SpecError, match="expected a mapping"):
        load_spec(listed)


def test_relative_source_paths_resolve_against_the_spec_folder(tmp_path):
    path = tmp_path / "r1.yaml"
    path.write_text("source:\n  kind: file\n  path: claims.csv\n")
    spec = load_spec(path)
    assert spec.resolve_path(spec.source.path) == tmp_path.resolve() / "claims.csv"
    assert list(list_specs(tmp_path)) == ["r1"]


def test_dp_epsilon_is_refused_naming_the_field_for_a_kind_without_dp():
    with pytest.raises(SpecError, match=r"privacy.dp_epsilon 4.0 .* synthesizer.kind 'latent_gan' trains without it"):
        parse_spec({"privacy": {"dp_epsilon": 4.0}}, "dp")
    assert parse_spec({"privacy": {"dp_epsilon": None}}, "dp").privacy.dp_epsilon is None

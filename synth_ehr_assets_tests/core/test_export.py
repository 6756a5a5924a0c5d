"""Release bundle: FHIR R4B round trip, manifest hashes, deterministic tables, atomic writes, data card."""

from __future__ import annotations

import json

import polars as pl
import pytest

from synth_ehr_assets.core.export import bundle
from synth_ehr_assets.core.export.fhir import read_fhir_ndjson, write_fhir_ndjson
from synth_ehr_assets.core.reference import generate_reference_claims

NOTE = "S: productive cough for 4 days.\nA: acute bronchitis (J20.9).\nP: fluids, rest."


@pytest.fixture(scope="module")
def tables() -> dict[str, pl.DataFrame]:
    claims = generate_reference_claims(60, seed=4, release_id="card")
    notes = claims.head(5).select("claim_id", pl.lit(NOTE).alias("note"))
    judge = claims.head(5).select("claim_id", pl.Series("relevance", [5, 4, 4, 3, 2], dtype=pl.Int8))
    return {"claims": claims, "notes": notes, "judge_scores": judge}


def manifest() -> dict:
    return {
        "spec": {"rows": 60}, "seed": 4, "source_fingerprint": "abc", "code_set_version": "ICD-10-CM FY2026",
        "embedding_model": "all-MiniLM-L6-v2", "models": {"gan_checkpoint": {"mlflow_run_id": "r1"}},
        "metrics": {"fidelity": {"quality_score": 0.91}, "privacy": {"membership_inference_auc": 0.51}},
        "gates": [
            {"asset": "fidelity_report", "check": "fidelity_quality_score", "passed": True, "blocking": True,
             "metadata": {"value": 0.91, "threshold": 0.8, "detail": "text"}},
            {"asset": "privacy_report", "check": "privacy_membership_inference", "passed": True, "blocking": True,
             "metadata": {}},
        ],
    }


def test_fhir_bundles_validate_and_round_trip(tables, tmp_path):
    claims, notes = tables["claims"], tables["notes"]
    counts = write_fhir_ndjson(tmp_path / "b.ndjson", claims, notes)
    bundles = read_fhir_ndjson(tmp_path / "b.ndjson")
    assert counts["Bundle"] == len(bundles) == claims["patient_id"].n_unique()
    assert counts["Claim"] == counts["Encounter"] == claims.height and counts["DocumentReference"] == notes.height
    resources = [entry.resource for b in bundles for entry in b.entry]
    claim = next(r for r in resources if r.__resource_type__ == "Claim" and r.id == claims["claim_id"][0])
    principal = claims["dx_1"][0]
    assert claim.diagnosis[0].diagnosisCodeableConcept.coding[0].code == f"{principal[:3]}.{principal[3:]}".rstrip(".")
    document = next(r for r in resources if r.__resource_type__ == "DocumentReference")
    assert document.content[0].attachment.data.decode() == NOTE  # fhir.resources decodes the base64 payload


def test_each_written_bundle_line_is_what_fhir_resources_would_write(tables, tmp_path):
    write_fhir_ndjson(tmp_path / "b.ndjson", tables["claims"], tables["notes"])
    lines = (tmp_path / "b.ndjson").read_text(encoding="utf-8").splitlines()
    assert lines and all(json.loads(line) == json.loads(parsed.model_dump_json())
                         for line, parsed in zip(lines, read_fhir_ndjson(tmp_path / "b.ndjson"), strict=True))


def test_release_folder_is_complete_and_its_hashes_verify(tables, tmp_path):
    folder = bundle.write_release(tmp_path, "card", tables, manifest(), {"a plot": b"\x89PNG fake"})
    assert folder == tmp_path / "card"
    written = json.loads((folder / "manifest.json").read_text())
    patients = tables["claims"]["patient_id"].n_unique()
    assert written["row_counts"] == {"claims": 60, "patients": patients, "notes": 5, "judge_scores": 5}
    expected = {f"tables/{name}.{ext}" for name in [*tables, "patients"] for ext in ("parquet", "csv")}
    payer_files = {"x12/837P.x12", "x12/837I.x12", "hl7/adt.hl7", "hl7/dft.hl7"}
    assert expected | {"fhir/bundles.ndjson", "data_card.html"} | payer_files == set(written["files"])
    assert bundle.verify_release(folder) == []
    card = (folder / "data_card.html").read_text()
    assert "privacy_membership_inference" in card and "Intended use" in card and "data:image/png;base64" in card
    assert "value=0.91, threshold=0.8" in card
    (folder / "tables" / "claims.csv").write_text("tampered\n")
    now, listed = bundle.sha256_file(folder / "tables" / "claims.csv"), written["files"]["tables/claims.csv"]["sha256"]
    assert bundle.verify_release(folder) == [f"tables/claims.csv: sha256 {now} != manifest {listed}"]


def test_same_rows_in_any_order_give_byte_identical_table_files(tables, tmp_path):
    first = bundle.write_release(tmp_path / "a", "card", tables, manifest(), {})
    hashes = json.loads((first / "manifest.json").read_text())["files"]
    shuffled = {name: frame.sample(fraction=1.0, shuffle=True, seed=9) for name, frame in tables.items()}
    assert not shuffled["claims"].equals(tables["claims"])
    second = bundle.write_release(tmp_path / "b", "card", shuffled, manifest(), {})
    again = json.loads((second / "manifest.json").read_text())["files"]
    assert {k: v for k, v in hashes.items() if k.startswith(("tables/", "fhir/"))} == {
        k: v for k, v in again.items() if k.startswith(("tables/", "fhir/"))
    }


def test_a_failed_write_leaves_the_previous_release_and_no_staging(tables, tmp_path, monkeypatch):
    bundle.write_release(tmp_path, "card", tables, manifest(), {})
    before = (tmp_path / "card" / "manifest.json").read_text()

    def broken(*args, **kwargs):
        raise OSError("disk full (injected)")

    monkeypatch.setattr(bundle, "write_fhir_ndjson", broken)
    with pytest.raises(OSError, match="injected"):
        bundle.write_release(tmp_path, "card", tables, manifest(), {})
    assert (tmp_path / "card" / "manifest.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["card"]
    with pytest.raises(OSError):
        bundle.write_release(tmp_path, "fresh", tables, manifest(), {})
    assert not (tmp_path / "fresh").exists()


def test_payer_files_written_in_a_second_process_are_the_inline_ones(tables, tmp_path, monkeypatch):
    inline = bundle.write_release(tmp_path / "a", "card", tables, manifest(), {})
    monkeypatch.setattr(bundle, "PARALLEL_EXPORT_CLAIMS", 1)
    beside = bundle.write_release(tmp_path / "b", "card", tables, manifest(), {})
    first, second = (json.loads((f / "manifest.json").read_text()) for f in (inline, beside))
    assert first["payer_exports"] == second["payer_exports"] and first["payer_exports"]["x12_errors"]["837P"] == 0
    assert {k: v for k, v in first["files"].items() if k.startswith(("x12/", "hl7/"))} == {
        k: v for k, v in second["files"].items() if k.startswith(("x12/", "hl7/"))}
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["card"]  # no work folder left behind


def test_a_failing_second_process_fails_the_write_and_keeps_the_previous_release(tables, tmp_path, monkeypatch):
    bundle.write_release(tmp_path, "card", tables, manifest(), {})
    before = (tmp_path / "card" / "manifest.json").read_text()
    monkeypatch.setattr(bundle, "PARALLEL_EXPORT_CLAIMS", 1)
    monkeypatch.setattr(bundle.sys, "executable", "/bin/false")
    with pytest.raises(RuntimeError, match="payer file export"):
        bundle.write_release(tmp_path, "card", tables, manifest(), {})
    assert (tmp_path / "card" / "manifest.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["card"]


def test_leftovers_of_a_killed_write_are_cleared(tables, tmp_path):
    (tmp_path / ".card.staging-x1").mkdir()
    (tmp_path / ".card.staging-x1" / "claims.csv").write_text("half")
    bundle.write_release(tmp_path, "card", tables, manifest(), {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["card"]


def test_manifest_without_lineage_is_refused(tables, tmp_path):
    incomplete = {k: v for k, v in manifest().items() if k != "source_fingerprint"}
    with pytest.raises(ValueError, match="source_fingerprint"):
        bundle.write_release(tmp_path, "card", tables, incomplete, {})
    assert not any(tmp_path.iterdir())

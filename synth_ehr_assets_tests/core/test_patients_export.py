"""The release's patients table and per-patient FHIR bundles on a hand-made two-patient history."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest

from synth_ehr_assets.core.export import bundle
from synth_ehr_assets.core.export.fhir import patient_bundles, read_fhir_ndjson, validate_bundle, write_fhir_ndjson
from synth_ehr_assets.core.export.patients import PATIENT_SCHEMA, patients_problems, patients_table
from synth_ehr_assets.core.schema import conform
from synth_ehr_assets_tests.core.test_export import manifest

NOTE = "S: short of breath.\nA: heart failure (I50.22).\nP: diuretics."


def claim(claim_id, patient_id, claim_type, day, age, dx, px=(), los=0, sex="F", region="pacific", payer="medicare"):
    row = {"release_id": "journey", "claim_id": claim_id, "patient_id": patient_id, "claim_type": claim_type,
           "service_date": day, "los_days": los, "age": age, "sex": sex, "region": region, "payer": payer,
           "charge_amount": 100.0, "allowed_amount": 80.0, "paid_amount": 70.0, "provider_specialty": "cardiology"}
    row |= {f"dx_{i}": code for i, code in enumerate(dx, start=1)} | {f"px_{i}": code for i, code in enumerate(px, 1)}
    return row


@pytest.fixture()
def claims() -> pl.DataFrame:
    rows = [  # listed out of date order on purpose
        claim("C3", "P1", "outpatient", dt.date(2024, 6, 10), 61, ["J189", "E119"], ["99284"], region="mountain"),
        claim("C1", "P1", "professional", dt.date(2024, 1, 5), 60, ["E119"], ["99213"]),
        claim("C2", "P1", "inpatient", dt.date(2024, 3, 1), 60, ["I5022", "E119", "I10"], ["02703DZ"], los=4),
        claim("C9", "P2", "professional", dt.date(2023, 11, 2), 34, ["J069"], sex="M", payer="commercial"),
    ]
    return conform(pl.DataFrame(rows, infer_schema_length=None))


def test_one_row_per_patient_summarises_the_history_from_its_first_claim(claims):
    patients = patients_table(claims)
    assert patients.schema == pl.Schema(PATIENT_SCHEMA) and patients["patient_id"].to_list() == ["P1", "P2"]
    first = patients.row(0, named=True)
    assert first == {
        "release_id": "journey", "patient_id": "P1", "sex": "F", "birth_year": 1964, "region": "pacific",
        "payer": "medicare", "first_service_date": dt.date(2024, 1, 5), "last_service_date": dt.date(2024, 6, 10),
        "claim_count": 3, "inpatient_admissions": 1, "principal_dx_categories": 3,  # E11, I50, J18
        "chronic_conditions": 2, "chronic_hccs": "38,226",  # diabetes E119, heart failure I5022; I10 is not an HCC
    }
    second = patients.row(1, named=True)
    assert (second["birth_year"], second["claim_count"], second["chronic_conditions"], second["chronic_hccs"]) == (
        1989, 1, 0, None)
    assert patients_problems(claims, patients, "p") == []


def test_a_patients_table_that_disagrees_with_the_claims_is_named(claims):
    patients = patients_table(claims)
    assert patients_problems(claims, patients.filter(pl.col("patient_id") == "P1"), "p") == [
        "p: 1 patient(s) of the claims missing, 0 not in the claims",
        "p: claim_count sums to 3, the claims table has 4 rows",
    ]
    moved = patients.with_columns(pl.when(pl.col("patient_id") == "P1").then(1965).otherwise("birth_year")
                                  .cast(pl.Int32).alias("birth_year"))
    assert patients_problems(claims, moved, "p") == ["p: column(s) birth_year differ from what the claims imply"]


def resources(bundle_dict: dict, kind: str) -> list[dict]:
    return [entry["resource"] for entry in bundle_dict["entry"] if entry["resource"]["resourceType"] == kind]


def test_a_patient_with_three_claims_gets_one_bundle_of_encounters_in_date_order(claims):
    notes = pl.DataFrame({"claim_id": ["C2"], "note": [NOTE]})
    bundles = list(patient_bundles(claims, notes))
    assert [b["id"] for b in bundles] == ["bundle-P1", "bundle-P2"]
    history = bundles[0]
    validate_bundle(history)
    urls = {entry["fullUrl"]: entry["resource"] for entry in history["entry"]}
    assert len(urls) == len(history["entry"])
    order = [(r["resourceType"], r["id"]) for r in (e["resource"] for e in history["entry"])]
    assert [i for kind, i in order if kind in ("Encounter", "Claim")] == [
        "encounter-C1", "C1", "encounter-C2", "C2", "encounter-C3", "C3"]
    encounters, claim_resources = resources(history, "Encounter"), resources(history, "Claim")
    assert [e["class"]["code"] for e in encounters] == ["AMB", "IMP", "EMER"]
    assert [e["period"] for e in encounters] == [
        {"start": "2024-01-05", "end": "2024-01-05"}, {"start": "2024-03-01", "end": "2024-03-05"},
        {"start": "2024-06-10", "end": "2024-06-10"}]
    assert encounters[1]["length"]["value"] == 4 and "length" not in encounters[0]
    for encounter, claim_resource in zip(encounters, claim_resources):
        encounter_url = next(url for url, r in urls.items() if r is encounter)
        assert claim_resource["supportingInfo"][0]["valueReference"]["reference"] == encounter_url
        assert all(item["encounter"] == [{"reference": encounter_url}] for item in claim_resource["item"])
    conditions = {c["code"]["coding"][0]["code"]: c for c in resources(history, "Condition")}
    assert sorted(conditions) == ["E11.9", "I10", "I50.22", "J18.9"]  # E11.9, coded three times, is one Condition
    encounter_of = lambda c: urls[c["encounter"]["reference"]]["id"]  # noqa: E731
    assert (encounter_of(conditions["E11.9"]), encounter_of(conditions["I50.22"])) == ("encounter-C1", "encounter-C2")
    assert [urls[d["condition"]["reference"]]["code"]["coding"][0]["code"] for d in encounters[2]["diagnosis"]] == [
        "J18.9", "E11.9"]
    (document,) = resources(history, "DocumentReference")
    assert urls[document["context"]["encounter"][0]["reference"]]["id"] == "encounter-C2"
    assert urls[document["context"]["related"][0]["reference"]]["id"] == "C2"
    patient = resources(history, "Patient")[0]
    assert (patient["birthDate"], patient["gender"]) == ("1964", "female")
    references = [value for value in _strings(history) if value.startswith("urn:uuid:")]
    assert set(references) <= set(urls)  # every reference resolves inside the bundle


def _strings(value):
    if isinstance(value, dict):
        for inner in value.values():
            yield from _strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _strings(inner)
    elif isinstance(value, str):
        yield value


def test_the_bundles_bytes_depend_on_the_rows_not_their_order(claims, tmp_path):
    counts = write_fhir_ndjson(tmp_path / "a.ndjson", claims)
    write_fhir_ndjson(tmp_path / "b.ndjson", claims.reverse())
    assert (tmp_path / "a.ndjson").read_bytes() == (tmp_path / "b.ndjson").read_bytes()
    assert counts == {"Bundle": 2, "Patient": 2, "Encounter": 4, "Condition": 5, "Claim": 4}
    parsed = read_fhir_ndjson(tmp_path / "a.ndjson")
    assert [e.resource.class_fhir.code for e in parsed[0].entry if e.resource.__resource_type__ == "Encounter"] == [
        "AMB", "IMP", "EMER"]


def test_the_release_holds_the_patients_table_and_verify_checks_it_against_the_claims(claims, tmp_path):
    folder = bundle.write_release(tmp_path, "journey", {"claims": claims}, manifest(), {})
    written = json.loads((folder / "manifest.json").read_text())
    assert written["row_counts"] == {"claims": 4, "patients": 2} and written["fhir_resources"]["Bundle"] == 2
    assert written["columns"]["patients"] == list(PATIENT_SCHEMA)
    assert {"tables/patients.parquet", "tables/patients.csv"} <= set(written["files"])
    assert pl.read_parquet(folder / "tables" / "patients.parquet").equals(patients_table(claims))
    assert bundle.verify_release(folder) == []
    assert "<h3>patients (2 rows)</h3>" in (folder / "data_card.html").read_text()

    csv = folder / "tables" / "patients.csv"
    csv.write_text(csv.read_text().replace(",3,1,3,", ",2,1,3,"))  # P1's claim_count 3 -> 2
    listed = written["files"]["tables/patients.csv"]["sha256"]
    assert bundle.verify_release(folder) == [
        f"tables/patients.csv: sha256 {bundle.sha256_file(csv)} != manifest {listed}",
        "tables/patients.csv: claim_count sums to 3, the claims table has 4 rows",
    ]
    # A tamperer who also rewrites the manifest's hashes is still caught: the table no longer fits the claims.
    written["files"]["tables/patients.csv"] = {"sha256": bundle.sha256_file(csv), "bytes": csv.stat().st_size}
    (folder / "manifest.json").write_text(json.dumps(written))
    assert bundle.verify_release(folder) == ["tables/patients.csv: claim_count sums to 3, the claims table has 4 rows"]
    (folder / "tables" / "patients.parquet").write_bytes(b"not parquet")
    assert "tables/patients.parquet: unreadable (ComputeError), patients not checked against it" in (
        bundle.verify_release(folder))
    with pytest.raises(ValueError, match="not 'patients'"):
        bundle.write_release(tmp_path, "again", {"claims": claims, "patients": patients_table(claims)}, manifest(), {})

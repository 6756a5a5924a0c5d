"""FHIR R4B export: one `collection` Bundle per synthetic patient holding the patient's whole history.

Entries: the Patient (sex, birth year and region of the release's `patients` table), then per claim in
(service_date, claim_id) order its Encounter, the Conditions first coded on it, the Claim and, when the claim has a
note, its DocumentReference. The Encounter's class follows the claim: inpatient -> IMP, a claim billing an emergency
department visit (CPT 99281-99285, HCPCS G0380-G0384) -> EMER, any other -> AMB; its period runs from the service
date over `los_days`. R4B's Claim has no encounter field of its own, so each Claim points at its Encounter through
`supportingInfo` (category `info`) and every `item.encounter`; Condition.encounter is the encounter that first coded
it (Encounter.diagnosis lists all of a claim's diagnoses, rank 1 the principal), DocumentReference.context.encounter
the note's. Every reference resolves inside the bundle.

Every bundle is validated by `fhir.resources.R4B` before it is written, one JSON bundle per NDJSON line.
Ids and entry URLs derive from the synthetic identifiers only, so the same claims always give the same bytes.
"""

from __future__ import annotations

import base64
import logging
from datetime import date, timedelta
from pathlib import Path
from typing import Iterator

import polars as pl

from synth_ehr_assets.core.export.fhir_codes import (
    ACT_CODE, CLAIM_INFORMATION, CLAIM_TYPE, CONDITION_CATEGORY, DIAGNOSIS_ROLE, DIAGNOSIS_TYPE,
    EMERGENCY_VISIT_CODES, ICD10CM, LOINC, MS_DRG, PRIORITY, UCUM, coding, dotted_icd10cm, entry_url, fhir_id,
    procedure_system,
)
from synth_ehr_assets.core.export.patients import CLAIM_ORDER, patients_table
from synth_ehr_assets.core.schema import DX_COLUMNS, PX_COLUMNS

logger = logging.getLogger(__name__)

NOTE_TEXT_COLUMN = "note"  # provider_notes column (defs/narratives.py NOTE_SCHEMA)

_GENDER = {"F": "female", "M": "male"}
_INSTITUTIONAL = {"inpatient", "outpatient"}


def _patient(patient: dict) -> dict:
    """The Patient from its row of the `patients` table (core/export/patients.py)."""
    resource = {
        "resourceType": "Patient",
        "id": fhir_id(patient["patient_id"]),
        "identifier": [{"system": "urn:synth-ehr:patient", "value": patient["patient_id"]}],
        "gender": _GENDER.get(patient["sex"], "unknown"),
        "birthDate": f"{patient['birth_year']:04d}" if patient["birth_year"] is not None else None,
        "address": [{"use": "home", "country": "US", "text": f"US census division: {patient['region']}"}],
    }
    return {k: v for k, v in resource.items() if v is not None}


def encounter_class(claim: dict) -> tuple[str, str]:
    """(v3-ActCode, display) of a claim's encounter: inpatient IMP, emergency department visit EMER, else AMB."""
    if claim["claim_type"] == "inpatient":
        return "IMP", "inpatient encounter"
    if any(claim[c] in EMERGENCY_VISIT_CODES for c in PX_COLUMNS):
        return "EMER", "emergency"
    return "AMB", "ambulatory"


def _period(claim: dict) -> dict:
    start: date = claim["service_date"]
    return {"start": start.isoformat(), "end": (start + timedelta(days=int(claim["los_days"] or 0))).isoformat()}


def _encounter(claim: dict, patient_url: str, condition_urls: list[str]) -> dict:
    code, display = encounter_class(claim)
    stay = int(claim["los_days"] or 0)
    resource = {
        "resourceType": "Encounter",
        "id": fhir_id(f"encounter-{claim['claim_id']}"),
        "identifier": [{"system": "urn:synth-ehr:claim", "value": claim["claim_id"]}],
        "status": "finished",
        "class": {"system": ACT_CODE, "code": code, "display": display},
        "type": [{"text": claim["claim_type"]}],
        "serviceType": {"text": claim["provider_specialty"]} if claim["provider_specialty"] else None,
        "subject": {"reference": patient_url},
        "period": _period(claim),
        "length": {"value": stay, "unit": "days", "system": UCUM, "code": "d"} if code == "IMP" else None,
        "diagnosis": [
            {"condition": {"reference": url}, "use": coding(DIAGNOSIS_ROLE, "billing"), "rank": rank}
            for rank, url in enumerate(condition_urls, start=1)
        ]
        or None,
    }
    return {k: v for k, v in resource.items() if v is not None}


def _claim(claim: dict, patient_url: str, encounter_url: str) -> dict:
    dx_codes = [claim[c] for c in DX_COLUMNS if claim[c]]
    px_codes = [claim[c] for c in PX_COLUMNS if claim[c]]
    start: date = claim["service_date"]
    diagnoses = []
    for sequence, code in enumerate(dx_codes, start=1):
        entry = {"sequence": sequence, "diagnosisCodeableConcept": coding(ICD10CM, dotted_icd10cm(code))}
        if sequence == 1:
            entry["type"] = [coding(DIAGNOSIS_TYPE, "principal")]
            if claim["drg"]:
                entry["packageCode"] = coding(MS_DRG, claim["drg"])
        diagnoses.append(entry)
    resource = {
        "resourceType": "Claim",
        "id": fhir_id(claim["claim_id"]),
        "identifier": [{"system": "urn:synth-ehr:claim", "value": claim["claim_id"]}],
        "status": "active",
        "type": coding(CLAIM_TYPE, "institutional" if claim["claim_type"] in _INSTITUTIONAL else "professional"),
        "subType": {"text": claim["claim_type"]},
        "use": "claim",
        "patient": {"reference": patient_url},
        "billablePeriod": _period(claim),
        "created": start.isoformat(),
        "provider": {"display": claim["provider_specialty"] or "unknown"},
        "priority": coding(PRIORITY, "normal"),
        "supportingInfo": [  # R4B's Claim has no encounter field
            {"sequence": 1, "category": coding(CLAIM_INFORMATION, "info"),
             "valueReference": {"reference": encounter_url}}
        ],
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": claim["payer"] or "unknown"}}],
        "diagnosis": diagnoses or None,
        "item": [
            {
                "sequence": sequence,
                "diagnosisSequence": [1] if diagnoses else None,
                "productOrService": coding(procedure_system(code), code),
                "servicedDate": start.isoformat(),
                "encounter": [{"reference": encounter_url}],
            }
            for sequence, code in enumerate(px_codes, start=1)
        ]
        or None,
        "total": {"value": round(float(claim["charge_amount"]), 2), "currency": "USD"}
        if claim["charge_amount"] is not None
        else None,
    }
    return {k: v for k, v in resource.items() if v is not None}


def _condition(patient_id: str, code: str, recorded: date, patient_url: str, encounter_url: str) -> dict:
    return {
        "resourceType": "Condition",
        "id": fhir_id(f"{patient_id}-{code}"),
        "category": [coding(CONDITION_CATEGORY, "encounter-diagnosis")],
        "code": coding(ICD10CM, dotted_icd10cm(code)),
        "subject": {"reference": patient_url},
        "encounter": {"reference": encounter_url},
        "recordedDate": recorded.isoformat(),
    }


def _document(note: dict, claim: dict, patient_url: str, claim_url: str, encounter_url: str) -> dict:
    text = note[NOTE_TEXT_COLUMN]
    return {
        "resourceType": "DocumentReference",
        "id": fhir_id(f"note-{claim['claim_id']}"),
        "status": "current",
        "type": coding(LOINC, "11506-3"),
        "subject": {"reference": patient_url},
        "date": f"{claim['service_date'].isoformat()}T00:00:00Z",
        "description": "synthetic provider note",
        "content": [
            {
                "attachment": {
                    "contentType": "text/plain; charset=utf-8",
                    "data": base64.b64encode(text.encode("utf-8")).decode("ascii"),
                }
            }
        ],
        "context": {
            "encounter": [{"reference": encounter_url}],
            "period": _period(claim),
            "related": [{"reference": claim_url}],
        },
    }


def _history(patient: dict, rows: list[dict], notes_by_claim: dict) -> list[dict]:
    """Bundle entries of one patient: Patient, then per claim Encounter, new Conditions, Claim, DocumentReference."""
    resource = _patient(patient)
    patient_url = entry_url("Patient", resource["id"])
    entries = [{"fullUrl": patient_url, "resource": resource}]
    condition_urls: dict[str, str] = {}
    for claim in rows:
        encounter_id = fhir_id(f"encounter-{claim['claim_id']}")
        encounter_url = entry_url("Encounter", encounter_id)
        codes, new_conditions = list(dict.fromkeys(claim[c] for c in DX_COLUMNS if claim[c])), []
        for code in (code for code in codes if code not in condition_urls):
            condition = _condition(resource["id"], code, claim["service_date"], patient_url, encounter_url)
            condition_urls[code] = entry_url("Condition", condition["id"])
            new_conditions.append({"fullUrl": condition_urls[code], "resource": condition})
        encounter = _encounter(claim, patient_url, [condition_urls[code] for code in codes])
        entries += [{"fullUrl": encounter_url, "resource": encounter}, *new_conditions]
        claim_resource = _claim(claim, patient_url, encounter_url)
        claim_url = entry_url("Claim", claim_resource["id"])
        entries.append({"fullUrl": claim_url, "resource": claim_resource})
        note = notes_by_claim.get(claim["claim_id"])
        if note is not None and note[NOTE_TEXT_COLUMN]:
            document = _document(note, claim, patient_url, claim_url, encounter_url)
            entries.append({"fullUrl": entry_url("DocumentReference", document["id"]), "resource": document})
    return entries


def patient_bundles(
    claims: pl.DataFrame, notes: pl.DataFrame | None = None, patients: pl.DataFrame | None = None
) -> Iterator[dict]:
    """Bundle dictionaries, one per patient in patient_id order, each holding all the patient's claims in
    (service_date, claim_id) order; `patients` is the release's patients table (derived from `claims` if None)."""
    notes_by_claim = {}
    if notes is not None and notes.height:
        missing = {"claim_id", NOTE_TEXT_COLUMN} - set(notes.columns)
        if missing:
            raise ValueError(f"notes table lacks column(s) {sorted(missing)} needed for DocumentReference")
        notes_by_claim = {row["claim_id"]: row for row in notes.iter_rows(named=True)}
    patients = patients_table(claims) if patients is None else patients
    by_id = {row["patient_id"]: row for row in patients.iter_rows(named=True)}
    ordered = claims.sort(CLAIM_ORDER, nulls_last=True)
    for (patient_id,), group in ordered.group_by("patient_id", maintain_order=True):
        if patient_id not in by_id:
            raise ValueError(f"patient {patient_id!r} of the claims is not in the patients table")
        yield {
            "resourceType": "Bundle",
            "id": fhir_id(f"bundle-{patient_id}"),
            "type": "collection",
            "entry": _history(by_id[patient_id], list(group.iter_rows(named=True)), notes_by_claim),
        }


def validate_bundle(bundle: dict):
    """Parse a bundle dictionary with fhir.resources R4B (raises pydantic.ValidationError when invalid)."""
    from fhir.resources.R4B.bundle import Bundle

    return Bundle.model_validate(bundle)


def write_fhir_ndjson(
    path: Path, claims: pl.DataFrame, notes: pl.DataFrame | None = None, patients: pl.DataFrame | None = None
) -> dict[str, int]:
    """Validate and write one bundle per line; returns resource counts by type.

    The line is the validated dictionary itself, as JSON: on the demo's 5,000 bundles it equals fhir.resources'
    own `model_dump_json` value for value, which took 20 s of the release's 73 (the validation stays)."""
    import json

    counts: dict[str, int] = {"Bundle": 0}
    with path.open("w", encoding="utf-8") as handle:
        for bundle in patient_bundles(claims, notes, patients):
            validate_bundle(bundle)
            handle.write(json.dumps(bundle, ensure_ascii=False, separators=(",", ":")) + "\n")
            counts["Bundle"] += 1
            for entry in bundle["entry"]:
                kind = entry["resource"]["resourceType"]
                counts[kind] = counts.get(kind, 0) + 1
    logger.info("FHIR export: %s written to %s", counts, path)
    return counts


def read_fhir_ndjson(path: Path) -> list:
    """Parse every bundle in an NDJSON file back into validated fhir.resources objects."""
    from fhir.resources.R4B.bundle import Bundle

    with path.open(encoding="utf-8") as handle:
        return [Bundle.model_validate_json(line) for line in handle if line.strip()]

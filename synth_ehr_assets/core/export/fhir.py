"""FHIR R4B export: one `collection` Bundle per synthetic patient (Patient, Claim, Condition, DocumentReference).

Every bundle is validated by `fhir.resources.R4B` before it is written, one JSON bundle per NDJSON line.
Ids and entry URLs derive from the synthetic identifiers only, so the same claims always give the same bytes.
"""

from __future__ import annotations

import base64
import logging
import re
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Iterator

import polars as pl

from synth_ehr_assets.core.schema import DX_COLUMNS, PX_COLUMNS

logger = logging.getLogger(__name__)

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10PCS = "http://www.cms.gov/Medicare/Coding/ICD10"
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
ICD9CM = "http://hl7.org/fhir/sid/icd-9-cm"
UNKNOWN_PROCEDURE_SYSTEM = "urn:synth-ehr:procedure-code"
MS_DRG = (
    "https://www.cms.gov/Medicare/Medicare-Fee-for-Service-Payment/AcuteInpatientPPS/MS-DRG-Classifications-and-Software"
)
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
DIAGNOSIS_TYPE = "http://terminology.hl7.org/CodeSystem/ex-diagnosistype"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
PRIORITY = "http://terminology.hl7.org/CodeSystem/processpriority"
LOINC = "http://loinc.org"
NOTE_TEXT_COLUMN = "note"  # provider_notes column (defs/narratives.py NOTE_SCHEMA)

_NAMESPACE = uuid.UUID("6f1c9a52-5d0e-4b8e-9a43-2a7f0c1d9e11")
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.-]")
_GENDER = {"F": "female", "M": "male"}
_INSTITUTIONAL = {"inpatient", "outpatient"}


def fhir_id(value: str) -> str:
    """A valid FHIR id (letters, digits, '-' and '.', at most 64) derived from a synthetic identifier."""
    cleaned = _ID_UNSAFE.sub("-", value)
    return cleaned if 0 < len(cleaned) <= 64 else uuid.uuid5(_NAMESPACE, value).hex


def _url(resource_type: str, resource_id: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{resource_type}/{resource_id}')}"


def dotted_icd10cm(code: str) -> str:
    """'E119' -> 'E11.9' (FHIR carries ICD-10-CM codes with the dot)."""
    return code if len(code) <= 3 else f"{code[:3]}.{code[3:]}"


def procedure_system(code: str) -> str:
    """Code system of a procedure code by its shape: CPT (5 digits, or 4 digits + F/T/U), HCPCS level II,
    ICD-10-PCS (7 characters), ICD-9-CM procedure (3-4 digits); anything else gets the project's own system."""
    if re.fullmatch(r"\d{4}[0-9FTU]", code):
        return CPT
    if re.fullmatch(r"[A-V]\d{4}", code):
        return HCPCS
    if re.fullmatch(r"[0-9A-HJ-NP-Z]{7}", code):
        return ICD10PCS
    if re.fullmatch(r"\d{3,4}", code):
        return ICD9CM
    return UNKNOWN_PROCEDURE_SYSTEM


def _coding(system: str, code: str) -> dict:
    return {"coding": [{"system": system, "code": code}]}


def _patient(patient_id: str, first_claim: dict) -> dict:
    birth_year = first_claim["service_date"].year - first_claim["age"]
    return {
        "resourceType": "Patient",
        "id": fhir_id(patient_id),
        "identifier": [{"system": "urn:synth-ehr:patient", "value": patient_id}],
        "gender": _GENDER.get(first_claim["sex"], "unknown"),
        "birthDate": f"{birth_year:04d}",
        "address": [{"use": "home", "country": "US", "text": f"US census division: {first_claim['region']}"}],
    }


def _claim(claim: dict, patient_url: str) -> dict:
    dx_codes = [claim[c] for c in DX_COLUMNS if claim[c]]
    px_codes = [claim[c] for c in PX_COLUMNS if claim[c]]
    start: date = claim["service_date"]
    diagnoses = []
    for sequence, code in enumerate(dx_codes, start=1):
        entry = {"sequence": sequence, "diagnosisCodeableConcept": _coding(ICD10CM, dotted_icd10cm(code))}
        if sequence == 1:
            entry["type"] = [_coding(DIAGNOSIS_TYPE, "principal")]
            if claim["drg"]:
                entry["packageCode"] = _coding(MS_DRG, claim["drg"])
        diagnoses.append(entry)
    resource = {
        "resourceType": "Claim",
        "id": fhir_id(claim["claim_id"]),
        "identifier": [{"system": "urn:synth-ehr:claim", "value": claim["claim_id"]}],
        "status": "active",
        "type": _coding(CLAIM_TYPE, "institutional" if claim["claim_type"] in _INSTITUTIONAL else "professional"),
        "subType": {"text": claim["claim_type"]},
        "use": "claim",
        "patient": {"reference": patient_url},
        "billablePeriod": {
            "start": start.isoformat(),
            "end": (start + timedelta(days=int(claim["los_days"] or 0))).isoformat(),
        },
        "created": start.isoformat(),
        "provider": {"display": claim["provider_specialty"] or "unknown"},
        "priority": _coding(PRIORITY, "normal"),
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": claim["payer"] or "unknown"}}],
        "diagnosis": diagnoses or None,
        "item": [
            {
                "sequence": sequence,
                "diagnosisSequence": [1] if diagnoses else None,
                "productOrService": _coding(procedure_system(code), code),
                "servicedDate": start.isoformat(),
            }
            for sequence, code in enumerate(px_codes, start=1)
        ]
        or None,
        "total": {"value": round(float(claim["charge_amount"]), 2), "currency": "USD"}
        if claim["charge_amount"] is not None
        else None,
    }
    return {k: v for k, v in resource.items() if v is not None}


def _condition(patient_id: str, code: str, recorded: date, patient_url: str) -> dict:
    return {
        "resourceType": "Condition",
        "id": fhir_id(f"{patient_id}-{code}"),
        "category": [_coding(CONDITION_CATEGORY, "encounter-diagnosis")],
        "code": _coding(ICD10CM, dotted_icd10cm(code)),
        "subject": {"reference": patient_url},
        "recordedDate": recorded.isoformat(),
    }


def _document(note: dict, claim: dict, patient_url: str, claim_url: str) -> dict:
    text = note[NOTE_TEXT_COLUMN]
    return {
        "resourceType": "DocumentReference",
        "id": fhir_id(f"note-{claim['claim_id']}"),
        "status": "current",
        "type": _coding(LOINC, "11506-3"),
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
        "context": {"related": [{"reference": claim_url}]},
    }


def patient_bundles(claims: pl.DataFrame, notes: pl.DataFrame | None = None) -> Iterator[dict]:
    """Bundle dictionaries, one per patient in (patient_id, service_date, claim_id) order."""
    notes_by_claim = {}
    if notes is not None and notes.height:
        missing = {"claim_id", NOTE_TEXT_COLUMN} - set(notes.columns)
        if missing:
            raise ValueError(f"notes table lacks column(s) {sorted(missing)} needed for DocumentReference")
        notes_by_claim = {row["claim_id"]: row for row in notes.iter_rows(named=True)}
    ordered = claims.sort(["patient_id", "service_date", "claim_id"])
    for (patient_id,), group in ordered.group_by("patient_id", maintain_order=True):
        rows = list(group.iter_rows(named=True))
        patient = _patient(patient_id, rows[0])
        patient_url = _url("Patient", patient["id"])
        entries = [{"fullUrl": patient_url, "resource": patient}]
        first_seen: dict[str, date] = {}
        for claim in rows:
            resource = _claim(claim, patient_url)
            claim_url = _url("Claim", resource["id"])
            entries.append({"fullUrl": claim_url, "resource": resource})
            for code in (claim[c] for c in DX_COLUMNS):
                if code and code not in first_seen:
                    first_seen[code] = claim["service_date"]
            note = notes_by_claim.get(claim["claim_id"])
            if note is not None and note[NOTE_TEXT_COLUMN]:
                document = _document(note, claim, patient_url, claim_url)
                entries.append({"fullUrl": _url("DocumentReference", document["id"]), "resource": document})
        for code, recorded in first_seen.items():
            condition = _condition(patient["id"], code, recorded, patient_url)
            entries.append({"fullUrl": _url("Condition", condition["id"]), "resource": condition})
        yield {
            "resourceType": "Bundle",
            "id": fhir_id(f"bundle-{patient_id}"),
            "type": "collection",
            "entry": entries,
        }


def validate_bundle(bundle: dict):
    """Parse a bundle dictionary with fhir.resources R4B (raises pydantic.ValidationError when invalid)."""
    from fhir.resources.R4B.bundle import Bundle

    return Bundle.model_validate(bundle)


def write_fhir_ndjson(path: Path, claims: pl.DataFrame, notes: pl.DataFrame | None = None) -> dict[str, int]:
    """Validate and write one bundle per line; returns resource counts by type."""
    counts: dict[str, int] = {"Bundle": 0}
    with path.open("w", encoding="utf-8") as handle:
        for bundle in patient_bundles(claims, notes):
            handle.write(validate_bundle(bundle).model_dump_json() + "\n")
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

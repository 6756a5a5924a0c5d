"""FHIR vocabulary of the export: code-system URLs, ids and entry URLs derived from synthetic identifiers, and a
procedure code's system read from its shape."""

from __future__ import annotations

import re
import uuid

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
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
DIAGNOSIS_ROLE = "http://terminology.hl7.org/CodeSystem/diagnosis-role"
CLAIM_INFORMATION = "http://terminology.hl7.org/CodeSystem/claiminformationcategory"
UCUM = "http://unitsofmeasure.org"
EMERGENCY_VISIT_CODES = frozenset({"99281", "99282", "99283", "99284", "99285", "G0380", "G0381", "G0382", "G0383",
                                   "G0384"})  # fmt: skip  # emergency department visits

NAMESPACE = uuid.UUID("6f1c9a52-5d0e-4b8e-9a43-2a7f0c1d9e11")
ID_UNSAFE = re.compile(r"[^A-Za-z0-9.-]")


def fhir_id(value: str) -> str:
    """A valid FHIR id (letters, digits, '-' and '.', at most 64) derived from a synthetic identifier."""
    cleaned = ID_UNSAFE.sub("-", value)
    return cleaned if 0 < len(cleaned) <= 64 else uuid.uuid5(NAMESPACE, value).hex


def entry_url(resource_type: str, resource_id: str) -> str:
    """A bundle entry's fullUrl: a name-based UUID of type and id, so the same resource always gets the same URL."""
    return f"urn:uuid:{uuid.uuid5(NAMESPACE, f'{resource_type}/{resource_id}')}"


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


def coding(system: str, code: str) -> dict:
    """A CodeableConcept of one coding."""
    return {"coding": [{"system": system, "code": code}]}

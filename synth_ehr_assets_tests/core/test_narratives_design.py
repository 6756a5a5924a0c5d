"""Design engine: clinical knowledge table, reviewed symptoms, notes a reviewer accepts, wording variety, speed."""

from __future__ import annotations

import re
import time

import numpy as np
import polars as pl
import pytest

from synth_ehr_assets.core.narratives.design import age_group, design_note, design_notes, dotted, exemplars
from synth_ehr_assets.core.narratives.groups import condition_group
from synth_ehr_assets.core.narratives.knowledge import build_knowledge, claim_dx_codes, symptom_phrase
from synth_ehr_assets.core.narratives.phi import scan_phi
from synth_ehr_assets.core.narratives.symptoms import (
    accepted_by_claim,
    candidate_symptoms,
    design_symptoms,
    narrative_sample,
    review_symptom_texts,
    symptoms_frame,
)

SEED = 7


@pytest.fixture(scope="module")
def claims() -> pl.DataFrame:
    from synth_ehr_assets.core.reference import generate_reference_claims

    return generate_reference_claims(800, seed=3, release_id="design")


@pytest.fixture(scope="module")
def knowledge(claims, narrative_knowledge):
    return narrative_knowledge(claims)


def test_symptom_wording_and_condition_groups():
    assert symptom_phrase("Other chest pain") == "chest pain"
    assert symptom_phrase("Cough, unspecified") == "cough"
    assert symptom_phrase("Apnea, not elsewhere classified") == "apnea"
    assert condition_group("I509").key == "heart_failure" and condition_group("I10").key == "hypertension"
    assert condition_group("E119").key == "diabetes" and condition_group("E840").key == "cystic_fibrosis"
    assert condition_group("Z0000").key == "encounter" and condition_group("S72001A").key == "injury"
    assert dotted("E119") == "E11.9" and dotted("I10") == "I10"


def test_knowledge_table_is_derived_from_embeddings_and_cached(claims, knowledge, narrative_knowledge):
    table = knowledge.table(k=6)
    assert set(table["code"]) == set(claim_dx_codes(claims))
    assert all(code[:3] <= "R69" for codes in table["symptom_codes"] for code in codes)
    near = dict(zip(table["code"], table["symptom_codes"]))
    assert any(code.startswith("R05") for code in near["J069"])  # acute URI → a cough code
    assert any(code[:3] in ("R00", "R06", "R07") for code in near["I509"])  # heart failure → heart/breathing

    def no_model(texts, progress=None):
        raise AssertionError("the knowledge cache should have answered")

    from synth_ehr_assets.core.embeddings import MODEL_NAME, embedding_fingerprint

    again = build_knowledge(claim_dx_codes(claims), narrative_knowledge.cache_dir,
                            embed=no_model, embed_fingerprint=f"{MODEL_NAME}|{embedding_fingerprint()}")
    assert np.allclose(again.dx_similarity, knowledge.dx_similarity)
    with pytest.raises(ValueError, match="unknown ICD-10-CM"):
        build_knowledge(["E119", "XYZ99"], embed=no_model, embed_fingerprint="x")


def test_symptoms_come_from_the_knowledge_table_and_are_reviewed(claims, knowledge):
    from synth_ehr_assets.core.narratives.age_fit import for_age
    from synth_ehr_assets.core.narratives.clinical import profile

    frame = symptoms_frame(claims.head(300), knowledge, SEED, per_claim=3, max_retries=2)
    assert frame.equals(symptoms_frame(claims.head(300), knowledge, SEED, 3, 2))  # seeded
    accepted = frame.filter(pl.col("accepted"))
    assert accepted.height > 100 and accepted["review_reason"].is_null().all()
    assert frame["attempts"].max() <= 3
    per_slot = frame.group_by("claim_id", "slot").agg(pl.col("accepted").sum().alias("n"))
    assert per_slot["n"].max() == 1  # one accepted symptom per slot at most
    by_id = {c["claim_id"]: c for c in claims.head(300).iter_rows(named=True)}
    for claim_id, text in accepted.select("claim_id", "symptom_text").iter_rows():
        dx = [by_id[claim_id][f"dx_{i}"] for i in range(1, 11) if by_id[claim_id][f"dx_{i}"]]
        age = by_id[claim_id]["age"]
        assert any(text in {for_age(t, age) for t, _ in profile(c).symptoms} for c in dx), (claim_id, text)
    preventive = claims.head(300).filter(pl.col("dx_1").str.starts_with("Z00"))["claim_id"].implode()
    assert accepted.filter(pl.col("claim_id").is_in(preventive)).height == 0  # well visits bring no complaints


def test_rejected_draws_are_retried_within_the_bound(knowledge):
    adult = {"claim_id": "c1", "age": 40, "sex": "M", "dx_1": "J219", "claim_type": "professional"}
    for seed in range(40):
        attempts = design_symptoms(adult, knowledge, seed, per_claim=3, max_retries=3)
        rejected = [a for a in attempts if not a.accepted]
        if rejected:
            break
    assert rejected and rejected[0].reason == "pediatric wording for an adult"  # "poor feeding" at 40
    slot = rejected[0].slot
    assert [a.attempt for a in attempts if a.slot == slot][:2] == [1, 2]
    assert all(a.attempt <= 4 for a in attempts)


def test_free_text_symptom_review_for_llm_proposals(knowledge):
    claim = {"claim_id": "c2", "age": 44, "sex": "M", "dx_1": "J069"}
    (cough, cough_reason), (pregnant, pregnant_reason) = review_symptom_texts(
        ["cough and sore throat", "nausea in pregnancy"], claim, knowledge, threshold=0.3)
    assert cough_reason is None and cough >= 0.3
    assert "female-specific" in pregnant_reason
    candidates = [text for _, text in candidate_symptoms(claim, knowledge)]
    assert "sore throat" in candidates and "runny nose" in candidates


def test_design_notes_address_every_code_and_procedure_in_clinical_words(claims, knowledge):
    from synth_ehr_assets.core.narratives.lexicon import CODE_IDIOMS
    from synth_ehr_assets.core.narratives.vitals import parse_vitals

    sample = claims.head(300)
    symptoms = symptoms_frame(sample, knowledge, SEED)
    notes = design_notes(sample, knowledge, SEED, symptoms)
    by_claim = accepted_by_claim(symptoms)
    for claim, note in zip(sample.iter_rows(named=True), notes["note"]):
        assert re.match(r"Subjective: .+\nObjective: Vitals: .+\nAssessment: 1\. .+\nPlan: .+", note, re.S)
        dx = [claim[f"dx_{i}"] for i in range(1, 11) if claim[f"dx_{i}"]]
        assert all(f"({dotted(code)})" in note for code in dx), note  # every diagnosis, not only the first five
        assert not CODE_IDIOMS.search(re.sub(r"\([A-Z][0-9A-Z.]+\)", "", note)), note
        assert all(text in note for text in by_claim.get(claim["claim_id"], []))
        words = set(re.findall(r"[a-z]+", note.lower()))
        assert not ({"she", "her"} & words and claim["sex"] == "M") and not ({"he", "his"} & words and claim["sex"] == "F")
        if age_group(claim["age"]) in ("adult", "older adult"):
            assert f"{claim['age']}-year-old" in note
        if claim["claim_type"] == "inpatient":
            assert "\nHospital course: " in note and "\nDischarge: " in note
            assert f"{max(claim['los_days'] or 1, 1)}-day stay" in note or "one-day stay" in note
        if any(str(claim[f"px_{i}"]).startswith("9928") for i in range(1, 7)):
            assert "\nMedical decision making: " in note
        vitals = parse_vitals(note)
        if "fever" in by_claim.get(claim["claim_id"], []):
            assert vitals["temp"] >= 38.0, note
        assert scan_phi(note) == [], note
    assert notes["note"].n_unique() == notes.height


def test_design_notes_pass_the_clinical_detectors_and_vary_in_wording(claims, knowledge):
    from synth_ehr_assets.core.narratives.detectors import detect
    from synth_ehr_assets.core.narratives.wording import repeated_sentence_share

    notes = [design_note(c, SEED, knowledge) for c in claims.iter_rows(named=True)]
    found = [(n, c, detect(n, c)) for n, c in zip(notes, claims.iter_rows(named=True))]
    flagged = [(n, [f.kind for f in fs]) for n, _, fs in found if any(f.kind != "em_level" for f in fs)]
    assert len(flagged) <= 0.02 * len(notes), flagged[:3]
    # Some reference claims bill 99215/99205 on one or two stable problems: the writer documents them as they
    # are (no invented severity), so the judge flags the level, and only there.
    upcoded = [(n, c) for n, c, fs in found if any(f.kind == "em_level" for f in fs)]
    assert len(upcoded) <= 0.04 * len(notes)
    for note, claim in upcoded:
        problems = [d for d in (claim.get(f"dx_{i}") for i in range(1, 11)) if d and d[0] not in "VWXYZ"]
        high = any(claim.get(f"px_{i}") in ("99205", "99215") for i in range(1, 7))
        assert len(problems) <= (2 if high else 1), note
        assert not re.search(r"\([A-Z]\d[0-9A-Z.]*\), [^.]*\b(?:severe|intensive|admission)", note), note
    wording = repeated_sentence_share(notes)
    assert wording["repeated_sentence_share"] < 0.10, wording


def test_design_engine_writes_over_a_thousand_notes_per_second(claims, knowledge):
    design_notes(claims, knowledge, SEED)  # warm per-code caches, as a long run is
    best = 0.0
    for _ in range(3):
        started = time.perf_counter()
        design_notes(claims, knowledge, SEED + 1)
        best = max(best, claims.height / (time.perf_counter() - started))
    assert best >= 1_000, f"{best:.0f} notes/s"


def test_exemplars_are_the_clinically_nearest_cases(claims, knowledge):
    target = claims.filter(pl.col("dx_1") == "J069").row(0, named=True)
    found = exemplars(target, claims, 3, knowledge, SEED)
    assert len(found) == 3 and all(e["claim_id"] != target["claim_id"] for e in found)
    assert found[0]["similarity"] >= found[-1]["similarity"]
    assert all(condition_group(e["claim"]["dx_1"]).key in ("upper_respiratory", "pneumonia") for e in found[:2])
    assert all(e["symptoms"] == [a.text for a in design_symptoms(e["claim"], knowledge, SEED) if a.accepted]
               for e in found)
    assert all(e["note"] == design_note(e["claim"], SEED, knowledge, e["symptoms"]) for e in found)


def test_sample_is_seeded_and_sized(claims):
    first = narrative_sample(claims, 50, SEED)
    assert first.height == 50 and first.equals(narrative_sample(claims, 50, SEED))
    assert not first.equals(narrative_sample(claims, 50, SEED + 1))
    assert narrative_sample(claims, None, SEED).height == claims.height


def test_a_delivery_admission_reads_as_labor_and_delivery_not_a_prenatal_visit():
    """A claims review read "presents for routine prenatal care ... Plan: routine prenatal labs; next prenatal
    visit" on an inpatient O80 delivery; a prenatal visit keeps its prenatal wording."""
    from synth_ehr_assets.core.reference import generate_reference_claims

    claims = generate_reference_claims(6000, seed=5, release_id="delivery")
    deliveries = claims.filter(pl.col("dx_1").str.starts_with("O80") & (pl.col("claim_type") == "inpatient"))
    visits = claims.filter(pl.col("dx_1").str.starts_with("Z34"))
    assert deliveries.height >= 3 and visits.height >= 3
    for claim in deliveries.head(5).to_dicts():
        note = design_note(claim, SEED)
        assert re.search(r"admitted (?:to labor and delivery|in labor)", note), note
        assert "prenatal" not in note.lower() and "postpartum" in note.lower(), note
    for claim in visits.head(5).to_dicts():
        assert "prenatal" in design_note(claim, SEED).lower()


def test_respiratory_support_reads_with_hypoxemia_and_a_toddler_gets_no_incentive_spirometry():
    """A claims review read CPAP (5A09357) beside SpO2 98% on room air and incentive spirometry for a 2-year-old."""
    from synth_ehr_assets.core.reference import generate_reference_claims

    claims = generate_reference_claims(6000, seed=5, release_id="cpap")
    pneumonia = claims.filter(pl.col("dx_1").str.starts_with("J18") & (pl.col("claim_type") == "inpatient"))
    assert pneumonia.height >= 3
    for claim in pneumonia.head(5).to_dicts():
        note = design_note({**claim, "age": 2, "px_1": "5A09357"}, SEED)
        saturation = int(re.search(r"SpO2 (\d+)%", note).group(1))
        assert saturation < 92 and "incentive spirometry" not in note.lower(), note

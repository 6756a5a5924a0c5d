"""Notes coherent across a journey: the earlier-claims context, the History line of design notes, and the
journey_coherence detector with its planted contradictions."""

from __future__ import annotations

import datetime as dt
import random

import polars as pl
import pytest

from synth_ehr_assets.core.narratives import planting_journey
from synth_ehr_assets.core.narratives.calibration import calibration_report
from synth_ehr_assets.core.narratives.design import design_note
from synth_ehr_assets.core.narratives.detectors import detect
from synth_ehr_assets.core.narratives.journey_context import journey_contexts
from synth_ehr_assets.core.narratives.judge import judge_frame, note_findings
from synth_ehr_assets.core.narratives.phi import scan_phi

SEED = 5


def _claim(claim_id, patient, day, kind="professional", los=0, dx=("I10",), px=("99213",)):
    row = {"claim_id": claim_id, "patient_id": patient, "service_date": day, "claim_type": kind, "los_days": los,
           "age": 67, "sex": "F", "provider_specialty": "family medicine", "release_id": "t"}
    row.update({f"dx_{i}": (dx[i - 1] if i <= len(dx) else None) for i in range(1, 11)})
    row.update({f"px_{i}": (px[i - 1] if i <= len(px) else None) for i in range(1, 7)})
    return row


@pytest.fixture(scope="module")
def small() -> pl.DataFrame:
    rows = [
        _claim("c3", "A", dt.date(2025, 3, 20), dx=("I10", "E119")),  # out of order on purpose
        _claim("c1", "A", dt.date(2025, 1, 5), dx=("E119", "I10"), px=("99214", "93000")),
        _claim("c2", "A", dt.date(2025, 3, 2), kind="inpatient", los=4, dx=("J189", "E119"), px=("5A1955Z",)),
        _claim("c4", "A", dt.date(2025, 3, 20), dx=("J069",), px=("99212",)),  # same day, later in the frame
        _claim("b1", "B", dt.date(2025, 2, 1), dx=("J069",), px=("99212",)),
    ]
    return pl.DataFrame(rows)


@pytest.fixture(scope="module")
def reference() -> pl.DataFrame:
    from synth_ehr_assets.core.reference import generate_reference_claims

    return generate_reference_claims(600, seed=3, release_id="journey")


def test_context_holds_only_earlier_claims_and_the_visit_followed(small):
    contexts = journey_contexts(small)
    assert contexts["c1"].earlier == 0 and contexts["b1"].earlier == 0
    first, admitted = contexts["c2"], contexts["c3"]
    assert first.earlier == 1 and not first.follow_up and first.follows.date == dt.date(2025, 1, 5)
    assert [c for c, _ in first.chronic] == ["E119"] and [c for c, _ in first.procedures] == ["93000"]
    # 18 days after the admission, 14 after its discharge: a follow-up of the admission
    assert admitted.earlier == 2 and admitted.follow_up and admitted.follows.kind == "admission"
    assert [v.date for v in admitted.admissions] == [dt.date(2025, 3, 2)]
    assert dict(admitted.chronic)["E119"] == dt.date(2025, 1, 5)
    assert contexts["c4"].earlier == 3  # same date as c3, later in the frame's order
    assert "J189" in admitted.known and "J189" not in first.known


def test_context_on_a_reference_frame_matches_each_patients_order(reference):
    contexts = journey_contexts(reference)
    assert set(contexts) == set(reference["claim_id"].to_list())
    ordered = reference.with_row_index("row").sort("patient_id", "service_date", "row").with_columns(
        expected=pl.int_range(pl.len()).over("patient_id"))
    assert {c: contexts[c].earlier for c in ordered["claim_id"]} == dict(ordered.select("claim_id",
                                                                                        "expected").iter_rows())
    assert sum(c.follow_up for c in contexts.values()) > 0 and sum(bool(c.chronic) for c in contexts.values()) > 50


def test_history_line_cites_the_journey_and_first_visits_stay_unchanged(small, reference):
    contexts = journey_contexts(small)
    rows = {r["claim_id"]: r for r in small.iter_rows(named=True)}
    assert design_note(rows["c1"], SEED, journey=contexts["c1"]) == design_note(rows["c1"], SEED)
    assert design_note(rows["b1"], SEED, journey=contexts["b1"]) == design_note(rows["b1"], SEED)
    note = design_note(rows["c3"], SEED, journey=contexts["c3"])
    history = note.splitlines()[1]
    assert history.startswith("History: Seen in follow-up after the admission 18 days ago for community-acquired "
                              "pneumonia"), note
    assert "a 4-day stay" in history and "type 2 diabetes" in history and "(since 2025)" in history
    assert "ECG (2025)" in history and scan_phi(note) == []
    everyone = journey_contexts(reference)
    known = [c for c in reference.iter_rows(named=True) if c["dx_1"] in everyone[c["claim_id"]].known]
    assert len(known) > 20  # a known principal problem is never called a new one
    assert not any("new problem" in design_note(c, SEED, journey=everyone[c["claim_id"]]) for c in known)


@pytest.fixture(scope="module")
def journey_notes(reference):
    contexts = journey_contexts(reference)
    return contexts, {r["claim_id"]: design_note(r, SEED, journey=contexts[r["claim_id"]])
                      for r in reference.iter_rows(named=True)}


def test_detector_is_silent_on_clean_journey_notes_and_fires_on_each_planted_contradiction(reference, journey_notes):
    contexts, notes = journey_notes
    rows = [r for r in reference.iter_rows(named=True) if contexts[r["claim_id"]].earlier]
    clean = [r for r in rows if not any(f.kind == "journey_coherence" for f in
                                        detect(notes[r["claim_id"]], r, history=contexts[r["claim_id"]]))]
    assert len(clean) >= 0.97 * len(rows)
    rng = random.Random(SEED)
    for name, planter in planting_journey.PLANTERS.items():
        planted = [p for p in (planter(notes[r["claim_id"]], r, contexts[r["claim_id"]], rng) for r in clean[:200])
                   if p is not None][:20]
        assert len(planted) >= 5, name
        hits = [any(f.kind == "journey_coherence" for f in detect(n, c, history=contexts[c["claim_id"]]))
                for n, c in planted]
        assert all(hits), name
    # without a history the check does not run
    assert all(f.kind != "journey_coherence" for f in detect(notes[rows[0]["claim_id"]], rows[0]))


def test_calibration_plants_journey_contradictions_only_after_earlier_claims(reference, journey_notes):
    contexts, notes = journey_notes
    report = calibration_report(reference, notes, "design", per_kind=15, seed=SEED)
    journey_kinds = {k: v for k, v in report["recall"].items() if k.startswith("journey_")}
    assert set(journey_kinds) == set(planting_journey.PLANTERS)
    assert min(journey_kinds.values()) >= 0.9 and report["clean_flag_rate"] <= 0.05
    firsts = {c for c, ctx in contexts.items() if ctx.earlier == 0}
    claim = reference.filter(pl.col("claim_id").is_in(list(firsts))).row(0, named=True)
    assert all(p(notes[claim["claim_id"]], claim, contexts[claim["claim_id"]], random.Random(1)) is None
               for name, p in planting_journey.PLANTERS.items() if name != "journey_called_new")


def test_judge_reads_each_note_against_its_patients_earlier_claims(small):
    contexts = journey_contexts(small)
    rows = {r["claim_id"]: r for r in small.iter_rows(named=True)}
    note = design_note(rows["c3"], SEED, journey=contexts["c3"])
    dropped, _ = planting_journey.journey_followup_dropped(note, rows["c3"], contexts["c3"], random.Random(1))
    notes = pl.DataFrame({"release_id": ["t", "t"], "claim_id": ["c3", "c1"],
                          "note": [dropped, design_note(rows["c1"], SEED)]})
    findings = note_findings(notes, small)
    assert any(f.kind == "journey_coherence" for f in findings["c3"])
    assert not any(f.kind == "journey_coherence" for f in findings["c1"])
    judged = judge_frame(notes, small)
    assert "journey_coherence" in (judged.filter(pl.col("claim_id") == "c3")["flags"][0] or "")


def test_an_llm_note_keeps_the_history_line_of_its_design_note_after_subjective():
    from synth_ehr_assets.core.narratives.llm_engine import assemble_note

    structured = ("Subjective: A 70-year-old man is seen in clinic for heart failure.\n"
                  "History: Seen in follow-up after the admission 12 days ago for heart failure, a 4-day stay.\n"
                  "Objective: Vitals: HR 80.\nAssessment: 1. Heart failure (I50.9), improving.\nPlan: Daily weights.")
    claim = {"claim_id": "c1", "dx_1": "I509"}
    note = assemble_note(claim, "He feels less short of breath.", "Heart failure after a recent stay.", [],
                         structured, lambda c: "Heart failure, unspecified")
    lines = note.splitlines()
    assert lines[0].startswith("Subjective: He feels less short of breath.")
    assert lines[1] == structured.splitlines()[1]
    assert sum(line.startswith("History: ") for line in lines) == 1
    first_visit = assemble_note(claim, "He is short of breath.", "Heart failure.", [],
                                structured.replace(structured.splitlines()[1] + "\n", ""), lambda c: None)
    assert not any(line.startswith("History: ") for line in first_visit.splitlines())

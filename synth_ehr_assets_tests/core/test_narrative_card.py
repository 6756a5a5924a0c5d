"""Data card section on notes: combined-score histogram without an LLM judge, per-kind counts, sample notes."""

from __future__ import annotations

import polars as pl

from synth_ehr_assets.core.export.data_card import render_data_card
from synth_ehr_assets.core.narratives.card import histogram_png, narrative_card
from synth_ehr_assets.core.narratives.design import design_note
from synth_ehr_assets.core.narratives.judge import judge_frame


def test_card_shows_histogram_counts_and_sample_notes_with_claims():
    from synth_ehr_assets.core.reference import generate_reference_claims

    claims = generate_reference_claims(60, seed=5, release_id="card")
    notes = pl.DataFrame({"release_id": "card", "claim_id": claims["claim_id"],
                          "note": [design_note(c, 5) for c in claims.iter_rows(named=True)]})
    wrong = claims.with_columns(sex=pl.when(pl.int_range(pl.len()) < 6).then(
        pl.when(pl.col("sex") == "F").then(pl.lit("M")).otherwise(pl.lit("F"))).otherwise(pl.col("sex")))
    judged = judge_frame(notes, wrong)  # the first six claims now contradict their notes' sex
    card = narrative_card(judged, notes, wrong)
    assert sum(card["histogram"].values()) == 60 and card["histogram"]["0.6-0.8"] >= 6  # no LLM judge needed
    assert card["detector_counts"]["demographics"] >= 6 and len(card["samples"]) == 5
    assert all(s["dx"] and s["note"].startswith("Subjective:") for s in card["samples"])
    page = render_data_card({"release_id": "card", "narratives": card}, {})
    assert "Notes flagged per defect kind" in page and "demographics" in page and card["samples"][0]["claim_id"] in page
    assert histogram_png(judged).startswith(b"\x89PNG")

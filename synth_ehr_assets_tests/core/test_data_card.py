"""The data card answers a reviewer's first questions on one self-contained page."""

import re

import polars as pl
import pytest

from synth_ehr_assets.core.export.card_data import judge_headline, sample_claims
from synth_ehr_assets.core.export.data_card import SECTIONS, render_data_card
from synth_ehr_assets.core.reference import generate_reference_claims


def card_inputs() -> tuple[dict, dict[str, pl.DataFrame]]:
    """A manifest as the release asset builds it, from a small reference population with notes and judge scores."""
    claims = generate_reference_claims(80, seed=3, release_id="card")
    notes = claims.head(8).select("claim_id", pl.format("Subjective: visit for {}. Plan: follow up.", "dx_1")
                                  .alias("note"))
    judge = claims.head(8).select(
        "claim_id", pl.lit(True).alias("dx_mentioned"), pl.Series("relevance", [5, 4, 4, 3, 2, 5, 5, 4], dtype=pl.Int8),
        pl.Series("plausibility", [5] * 8, dtype=pl.Int8), pl.Series("coherence", [4] * 8, dtype=pl.Int8),
        pl.lit(0.9).alias("combined_score"), pl.Series("passed", [True] * 7 + [False]),
        pl.lit("plan fits the diagnosis").alias("rationale"),
    )
    tables = {"claims": claims, "notes": notes, "judge_scores": judge}
    manifest = {
        "release_id": "card", "description": "Card test release.", "seed": 3,
        "spec": {"rows": 80, "source": {"kind": "reference", "claims": 400}},
        "upstream": {"encoded_features": {"train_rows": 320, "holdout_rows": 80}},
        "source_fingerprint": "abc123", "code_set_version": "ICD-10-CM FY2026", "embedding_model": "all-MiniLM-L6-v2",
        "row_counts": {name: frame.height for name, frame in tables.items()},
        "columns": {name: frame.columns for name, frame in tables.items()},
        "metrics": {"fidelity": {"quality_score": 0.86}, "privacy": {"membership_inference_auc": 0.51},
                    "judge": judge_headline(judge)},
        "gates": [{"asset": "fidelity_report", "check": "fidelity_quality_score", "passed": True, "blocking": True,
                   "metadata": {"value": 0.86, "threshold": 0.8}},
                  {"asset": "privacy_report", "check": "privacy_drift", "passed": True, "blocking": False,
                   "metadata": {}}],
        "samples": sample_claims(claims, notes, judge, seed=3),
    }
    return manifest, tables


def test_the_card_names_source_columns_with_units_gates_with_reasons_samples_and_forbidden_uses():
    manifest, _ = card_inputs()
    card = render_data_card(manifest, {})
    assert "design-driven reference population" in card and "320 / 80" in card
    assert "<td>charge_amount</td><td>billed charge, US dollars</td>" in card
    assert "<td>dx_2 … dx_10</td>" in card and "<td>px_1 … px_6</td>" in card  # slots shown as one row each
    assert "<td>dx_mentioned</td><td>the note names the claim" in card  # not taken for a diagnosis slot
    assert "value=0.86, threshold=0.8" in card
    assert "sdmetrics quality 0.80 is where" in card
    assert card.count('class="claim"') == 5 and "plan fits the diagnosis" in card
    assert "Must not be used for" in card and "clinical decisions" in card
    assert [s.__name__ for s in SECTIONS][:6] == ["_header", "_source", "_tables", "_gates", "_code_structure", "_samples"]


def test_the_card_loads_nothing_from_the_network():
    manifest, _ = card_inputs()
    card = render_data_card(manifest, {"plot": b"\x89PNG fake"})
    references = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)|url\(([^)]+)\)|@import""", card)
    assert all(ref[0].startswith("data:") for ref in references if ref and ref[0]), references
    assert not any(ref[1] for ref in references if ref and ref[1])


def test_judge_headline_skips_scores_nobody_gave():
    judge = pl.DataFrame({"relevance": [None, None], "combined_score": [0.5, 1.0], "passed": [True, False]},
                         schema={"relevance": pl.Int8, "combined_score": pl.Float64, "passed": pl.Boolean})
    assert judge_headline(judge) == {"mean_combined_score": 0.75, "notes_judged": 2.0, "pass_share": 0.5}


@pytest.mark.parametrize("notes", [0, 3])
def test_samples_are_claims_with_notes_and_at_most_five(notes):
    claims = generate_reference_claims(20, seed=1, release_id="s")
    with_notes = claims.head(notes).select("claim_id", pl.lit("note").alias("note"))
    samples = sample_claims(claims, with_notes, pl.DataFrame(), seed=1)
    assert len(samples) == notes and all(s["note"] == "note" and s["diagnoses"] for s in samples)

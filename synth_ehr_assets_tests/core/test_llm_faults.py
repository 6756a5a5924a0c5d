"""Faults against a real local HTTP server: every row survives, every failure is retried and recorded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pydantic import BaseModel

from synth_ehr_assets.core.narratives.cache import ResponseCache
from synth_ehr_assets.core.narratives.client import EndpointUnavailable, LLMClient, LLMRequest, LLMSettings
from synth_ehr_assets_tests.fault_server import FAULTS, MODEL_NAME, FaultServer

ROWS = 12


class Sentence(BaseModel):
    text: str


def _requests(n: int = ROWS) -> list[LLMRequest]:
    return [LLMRequest(row_id=f"r{i}", messages=[{"role": "user", "content": f"row {i}"}], answer_model=Sentence)
            for i in range(n)]


def _client(url: str, cache: ResponseCache | None = None, **overrides) -> LLMClient:
    settings = {"base_url": url, "model": MODEL_NAME, "timeout_s": 0.5, "backoff_base_s": 0.01,
                "backoff_max_s": 0.05, "max_concurrency": 4, **overrides}
    return LLMClient(LLMSettings(**settings), cache=cache, log=lambda line: None)


def test_endpoint_down_at_start_names_the_url():
    url = FaultServer.unused_url()
    with pytest.raises(EndpointUnavailable, match=url.replace(".", r"\.") + "/models"):
        _client(url).run_batch(_requests(2))


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_is_retried_and_the_batch_completes(fault):
    with FaultServer(mode=fault, fail_first=1, hang_s=1.5) as server:
        results, stats = _client(server.base_url).run_batch(_requests())
    assert [r.row_id for r in results] == [f"r{i}" for i in range(ROWS)]
    assert all(r.ok for r in results), [r.failure_reason for r in results if not r.ok]
    assert server.chat_requests == 2 * ROWS and server.faults_served[fault] == ROWS
    assert all(len(r.retry_reasons) == 1 for r in results)
    expected = {"500": "HTTP 500", "429": "HTTP 429", "timeout": "timeout", "malformed_body": "malformed HTTP",
                "malformed_content": "malformed: "}[fault]
    assert all(expected in r.retry_reasons[0] for r in results), results[0].retry_reasons


def test_persistent_faults_become_failed_rows_with_reasons():
    with FaultServer(mode="500", fail_first=99) as server:
        results, stats = _client(server.base_url, max_retries=2).run_batch(_requests())
        assert server.chat_requests == 3 * ROWS
    assert stats.failed == ROWS and len(results) == ROWS
    assert all(r.status == "failed" and "3 transport failures; last: HTTP 500" in r.failure_reason for r in results)

    with FaultServer(mode="malformed_content", fail_first=99) as server:
        results, _ = _client(server.base_url, max_malformed_retries=2).run_batch(_requests())
        assert server.chat_requests == 3 * ROWS
        assert len({body["seed"] for body in server.bodies}) == 3, "a malformed answer is re-asked with a new seed"
    assert all(r.status == "failed" and r.failure_reason.startswith("malformed answer after 3 tries")
               for r in results)
    assert all(r.text == '{"half an object": ' for r in results), "the last raw answer is kept for inspection"


def test_thirty_percent_random_failures_lose_no_row(tmp_path):
    with FaultServer(mode="random", failure_rate=0.3, seed=3, hang_s=1.0) as server, \
            ResponseCache(tmp_path / "llm_cache.duckdb") as cache:
        results, stats = _client(server.base_url, cache, max_retries=6, max_malformed_retries=4).run_batch(
            _requests(40))
        faults = sum(server.faults_served.values())
        sent = server.chat_requests
    assert len(results) == 40 and {r.row_id for r in results} == {f"r{i}" for i in range(40)}
    assert faults >= 6, "the seeded server must actually inject faults"
    assert all(r.ok or r.failure_reason for r in results)
    assert sum(len(r.retry_reasons) for r in results) == faults, "every failure is recorded with its reason"
    assert stats.requests_sent == sent == 40 + faults
    assert stats.ok == 40


KILLED_RUN = textwrap.dedent("""
    import sys
    from pydantic import BaseModel
    from synth_ehr_assets.core.narratives.cache import ResponseCache
    from synth_ehr_assets.core.narratives.client import LLMClient, LLMRequest, LLMSettings

    class Sentence(BaseModel):
        text: str

    url, cache_path, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
    requests = [LLMRequest(row_id=f"r{i}", messages=[{"role": "user", "content": f"row {i}"}],
                           answer_model=Sentence) for i in range(rows)]
    client = LLMClient(LLMSettings(base_url=url, model="fault-model"), cache=ResponseCache(cache_path))
    client.run_batch(requests)
    print("finished")
""")


def test_killed_run_resumes_from_the_cache(tmp_path: Path):
    cache_path = tmp_path / "llm_cache.duckdb"
    with FaultServer(delay_s=0.3) as server:
        worker = subprocess.Popen(
            [sys.executable, "-c", KILLED_RUN, server.base_url, str(cache_path), str(ROWS)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + 60
        while server.chat_requests < 4 and worker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        worker.send_signal(signal.SIGKILL)
        out, err = worker.communicate(timeout=30)
        assert b"finished" not in out, err.decode()[-2000:]
        sent_before = server.chat_requests

        with ResponseCache(cache_path) as cache:
            answered = len(cache)
            assert 3 <= answered < ROWS, "finished answers were committed before the kill"
            results, stats = _client(server.base_url, cache).run_batch(_requests())
        assert all(r.ok for r in results) and len(results) == ROWS
        assert server.chat_requests - sent_before == ROWS - answered, "only unanswered rows are sent again"
        assert stats.from_cache == answered


# --- the engine's batch functions keep every claim through faults ---------------------------------------------

DESCRIPTIONS = {"I10": "Essential (primary) hypertension", "E119": "Type 2 diabetes mellitus without complications",
                "J029": "Acute pharyngitis, unspecified"}


def _claims(n: int = 6):
    import polars as pl

    codes = list(DESCRIPTIONS)
    return pl.DataFrame([
        {"release_id": "t", "claim_id": f"c{i}", "age": 30 + 5 * i, "sex": "FM"[i % 2],
         "claim_type": ("professional", "outpatient", "inpatient")[i % 3], "los_days": 2,
         "dx_1": codes[i % 3], "dx_2": codes[(i + 1) % 3]}
        for i in range(n)
    ])


def _design_note(claim, symptoms) -> str:
    """A note in the design engine's section layout (the engine keeps its Objective/Assessment/Plan)."""
    return (f"Subjective: A patient is seen in clinic. She reports {', '.join(symptoms) or 'nothing new'}. "
            f"Past medical history includes asthma.\nObjective: Vitals: BP 120/80 mmHg.\n"
            f"Assessment: 1. {DESCRIPTIONS[claim['dx_1']]} ({claim['dx_1']}), managed in clinic.\n"
            f"Plan: Continue current therapy; return in 4 weeks.")


def _exemplars(claim):
    other = {**claim, "claim_id": "x" + claim["claim_id"], "age": 50}
    return [{"claim": other, "symptoms": ["fatigue"], "note": _design_note(other, ["fatigue"])}]


def test_notes_survive_random_faults_and_fall_back_when_the_endpoint_keeps_failing(tmp_path):
    from synth_ehr_assets.core.narratives.llm_engine import NOTE_COLUMNS, llm_notes

    claims, symptoms = _claims(), {"c0": ["headache", "dizziness"]}
    with FaultServer(mode="random", failure_rate=0.3, seed=5, hang_s=1.0) as server:
        notes, stats = llm_notes(claims, _exemplars, _client(server.base_url, max_retries=6,
                                                             max_malformed_retries=4),
                                 seed=1, symptoms=symptoms, structured_note_fn=_design_note,
                                 describe=DESCRIPTIONS.get)
        body = server.bodies[0]
    assert list(notes.columns) == list(NOTE_COLUMNS) and notes["claim_id"].to_list() == claims["claim_id"].to_list()
    assert (notes["status"] == "ok").all() and (notes["engine"] == "llm").all()
    first = notes.row(0, named=True)
    assert first["note"].startswith("Subjective: 30-year-old woman is seen in clinic with a steady course.")
    assert "Also reported: headache and dizziness." in first["note"] and "Past medical history" in first["note"]
    assert "Assessment: Essential hypertension with a steady course. 1. Essential" in first["note"]  # clinical label
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user"], "one-shot turns"
    assert len(first["prompt_hash"]) == 64 and stats.total == claims.height

    with FaultServer(mode="500", fail_first=99) as server:
        notes, stats = llm_notes(claims, _exemplars, _client(server.base_url, max_retries=1), seed=1,
                                 structured_note_fn=_design_note, describe=DESCRIPTIONS.get)
    assert notes.height == claims.height and (notes["status"] == "failed").all()
    assert (notes["engine"] == "design_fallback").all() and notes["note"].null_count() == 0
    assert notes["failure_reason"].str.contains("HTTP 500").all() and stats.failed == claims.height


def test_symptoms_are_chosen_from_candidates_and_rejected_slots_are_asked_again():
    from synth_ehr_assets.core.narratives.llm_engine import llm_symptoms

    candidates = [("R51", "headache"), ("R42", "dizziness"), ("R53", "fatigue"), ("R11", "nausea")]

    def review(chosen, claim):  # the design rules stand-in: reject nausea, accept the rest
        return [(0.5, "relevance 0.10 below 0.30" if text == "nausea" else None) for _, text in chosen]

    with FaultServer(mode="random", failure_rate=0.3, seed=2, hang_s=1.0) as server:
        frame, _ = llm_symptoms(_claims(3), lambda claim: list(reversed(candidates)), review,
                                _client(server.base_url, max_retries=6, max_malformed_retries=4), seed=4,
                                per_claim=2, describe=DESCRIPTIONS.get)
        schema = server.bodies[0]["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["symptoms"]["items"]["enum"] == ["nausea", "fatigue", "dizziness", "headache"]
    # the server answers the first allowed value each round: nausea (rejected), then fatigue, then dizziness
    for _, rows in frame.group_by("claim_id"):
        assert rows["symptom_text"].to_list() == ["nausea", "fatigue", "dizziness"]
        assert rows["accepted"].to_list() == [False, True, True] and rows["attempts"].to_list() == [1, 2, 3]
        assert rows["slot"].to_list() == [1, 1, 2] and rows["symptom_code"].to_list() == ["R11", "R53", "R42"]
        assert rows["review_reason"][0] == "relevance 0.10 below 0.30"


def test_judge_rows_keep_failures_with_reasons():
    import polars as pl

    from synth_ehr_assets.core.narratives.llm_engine import llm_judge

    claims = _claims(4)
    notes = pl.DataFrame({"release_id": ["t"] * 4, "claim_id": claims["claim_id"],
                          "note": [_design_note(c, []) for c in claims.head(3).iter_rows(named=True)] + [None]})
    with FaultServer() as server:
        scores, _ = llm_judge(notes, claims, _client(server.base_url), seed=1, describe=DESCRIPTIONS.get)
        assert server.chat_requests == 3 and server.bodies[0]["temperature"] == 0.0
    assert scores["status"].to_list() == ["ok", "ok", "ok", "failed"]
    assert scores["llm_plausibility"].to_list()[:3] == [1, 1, 1] and scores["failure_reason"][3] == "note is empty"


# --- the Dagster branch (`engine: llm`) uses the run's `llm` resource ------------------------------------------

def _asset_context(url: str, cache: Path):
    import dagster as dg

    from synth_ehr_assets.defs.llm import LLMEndpoint

    endpoint = LLMEndpoint(base_url=url, model=MODEL_NAME, cache_path=str(cache), max_concurrency=2,
                           timeout_s=0.5)
    return dg.build_asset_context(partition_key="t", resources={"llm": endpoint})


def test_asset_branch_judges_through_the_configured_endpoint(tmp_path):
    import polars as pl

    from synth_ehr_assets.core.spec import parse_spec
    from synth_ehr_assets.defs.narratives_llm import llm_judge_scores

    spec = parse_spec({"narratives": {"engine": "llm"}}, "t")
    claims = _claims(3)
    notes = pl.DataFrame({"release_id": ["t"] * 3, "claim_id": claims["claim_id"],
                          "note": [_design_note(c, []) for c in claims.iter_rows(named=True)]})
    with FaultServer(mode="500", fail_first=1) as server, _asset_context(server.base_url, tmp_path / "c.duckdb") as ctx:
        scores = llm_judge_scores(ctx, ctx.resources.llm, spec, notes, claims)
        assert server.chat_requests == 6, "each note retried once after its injected 500"
    assert set(scores) == set(claims["claim_id"]) and all(s["plausibility"] == 1 for s in scores.values())


def test_calibration_batch_judges_planted_pairs_through_the_endpoint(tmp_path):
    from synth_ehr_assets.core.narratives.calibration import calibration_report
    from synth_ehr_assets.core.narratives.design import design_note
    from synth_ehr_assets.core.reference import generate_reference_claims
    from synth_ehr_assets.core.spec import parse_spec
    from synth_ehr_assets.defs.narratives_llm import llm_judge_batch

    spec = parse_spec({"narratives": {"engine": "llm"}}, "t")
    claims = generate_reference_claims(80, 5, "t")
    notes = {c["claim_id"]: design_note(c, 5) for c in claims.iter_rows(named=True)}
    with FaultServer() as server, _asset_context(server.base_url, tmp_path / "c.duckdb") as ctx:
        report = calibration_report(claims, notes, "llm", per_kind=2, seed=1, llm_judge=llm_judge_batch(ctx, ctx.resources.llm, spec),
                                    llm_cases=10)
        assert server.chat_requests == 10
    # the fault server scores every note 1 with a canned rationale: no separation, so the judge earns no weight
    # the fault server answers every note alike: no signal, so below the 0.7 bar that gives the LLM judge weight
    assert report["llm_cases"] == 10 and (report["llm_auroc"] is None or report["llm_auroc"] < 0.7)
    assert report["engine"] == "llm"


@pytest.mark.slow
def test_asset_branch_writes_symptoms_and_notes_for_every_claim(tmp_path):
    from synth_ehr_assets.core.narratives.knowledge import build_knowledge, claim_dx_codes
    from synth_ehr_assets.core.narratives.symptoms import SYMPTOM_COLUMNS, candidate_symptoms
    from synth_ehr_assets.core.reference import generate_reference_claims
    from synth_ehr_assets.core.spec import parse_spec
    from synth_ehr_assets.defs.narratives_llm import llm_notes_frame, llm_symptoms_frame

    spec = parse_spec({"narratives": {"engine": "llm"}}, "t")
    claims = generate_reference_claims(40, 5, "t").head(5)
    knowledge = build_knowledge(claim_dx_codes(claims))
    with FaultServer(mode="random", failure_rate=0.3, seed=9, hang_s=1.0) as server, \
            _asset_context(server.base_url, tmp_path / "c.duckdb") as ctx:
        symptoms = llm_symptoms_frame(ctx, ctx.resources.llm, spec, claims, knowledge)
        notes = llm_notes_frame(ctx, ctx.resources.llm, spec, claims, symptoms, knowledge)
    assert list(symptoms.columns) == list(SYMPTOM_COLUMNS)
    with_candidates = {c["claim_id"] for c in claims.iter_rows(named=True) if candidate_symptoms(c)}
    assert set(symptoms["claim_id"]) == with_candidates and symptoms["accepted"].any()  # well visits: none
    assert notes["claim_id"].to_list() == claims["claim_id"].to_list() and notes["note"].null_count() == 0
    assert (notes["status"] == "ok").all() and notes["note"].str.starts_with("Subjective: ").all()

"""LLM client and response cache against a real local HTTP server (no faults here; see test_llm_faults)."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, Field

from synth_ehr_assets.core.narratives.cache import ResponseCache, default_cache_path, request_key
from synth_ehr_assets.core.narratives.client import LLMClient, LLMRequest, LLMSettings, parse_answer
from synth_ehr_assets_tests.fault_server import MODEL_NAME, FaultServer


class Verdict(BaseModel):
    score: int = Field(ge=1, le=5)
    reason: str


def _requests(n: int) -> list[LLMRequest]:
    return [
        LLMRequest(row_id=f"c{i}", messages=[{"role": "user", "content": f"case {i}"}], answer_model=Verdict, seed=7)
        for i in range(n)
    ]


def _client(url: str, cache: ResponseCache | None = None, **overrides) -> LLMClient:
    settings = LLMSettings(**{"base_url": url, "model": MODEL_NAME, "timeout_s": 2.0, "backoff_base_s": 0.01, **overrides})
    return LLMClient(settings, cache=cache, log=lambda line: None)


def test_request_key_changes_with_every_component():
    base = dict(model="m", messages=[{"role": "user", "content": "x"}], params={"max_tokens": 5}, seed=1)
    key = request_key(**base)
    assert key == request_key(**base) and len(key) == 64
    for change in (
        {"model": "m2"},
        {"messages": [{"role": "user", "content": "y"}]},
        {"params": {"max_tokens": 6}},
        {"seed": 2},
    ):
        assert request_key(**{**base, **change}) != key, change


def test_cache_persists_across_connections(tmp_path):
    path = default_cache_path(tmp_path / "warehouse.duckdb")
    assert path == tmp_path / "llm_cache.duckdb"
    with ResponseCache(path) as cache:
        cache.put("k1", "m", {"messages": []}, '{"a": 1}', prompt_tokens=3, completion_tokens=4, seconds=0.5)
        assert cache.get("missing") is None
    with ResponseCache(path) as cache:
        hit = cache.get("k1")
        assert (hit.response_text, hit.prompt_tokens, hit.completion_tokens) == ('{"a": 1}', 3, 4)
        assert len(cache) == 1


def test_parse_answer_names_what_is_wrong():
    answer, reason = parse_answer('Sure! {"score": 4, "reason": "fits"}', Verdict)
    assert reason is None and answer.score == 4
    assert "invalid JSON" in parse_answer('{"score": 4, "reason": }', Verdict)[1]
    assert "score" in parse_answer('{"score": 9, "reason": "x"}', Verdict)[1]
    assert parse_answer("   ", Verdict)[1] == "empty answer"
    assert parse_answer(" plain text ", None) == ("plain text", None)


def test_structured_batch_is_ordered_bounded_and_cached(tmp_path):
    with FaultServer(delay_s=0.05) as server, ResponseCache(tmp_path / "llm_cache.duckdb") as cache:
        client = _client(server.base_url, cache, max_concurrency=3)
        results, stats = client.run_batch(_requests(9))
        assert [r.row_id for r in results] == [f"c{i}" for i in range(9)]
        assert all(r.ok and isinstance(r.answer, Verdict) for r in results)
        assert server.chat_requests == 9 and 1 < server.max_in_flight <= 3
        body = server.bodies[0]
        assert body["response_format"]["type"] == "json_schema"
        assert body["response_format"]["json_schema"]["schema"]["properties"]["score"]["maximum"] == 5
        assert body["seed"] == 7 and body["model"] == MODEL_NAME
        assert stats.ok == 9 and stats.completion_tokens > 0 and stats.tokens_per_s > 0

        rerun, rerun_stats = _client(server.base_url, cache).run_batch(_requests(9))
        assert server.chat_requests == 9, "a re-run must be answered from the cache"
        assert rerun_stats.from_cache == 9 and [r.answer for r in rerun] == [r.answer for r in results]


def test_without_structured_outputs_the_schema_goes_into_the_prompt():
    with FaultServer(answer=lambda body: 'Here it is: {"score": 2, "reason": "weak"}') as server:
        results, _ = _client(server.base_url, structured_outputs=False).run_batch(_requests(1))
        body = server.bodies[0]
    assert results[0].ok and results[0].answer == Verdict(score=2, reason="weak")
    assert "response_format" not in body
    assert json.loads(body["messages"][0]["content"].split("schema: ", 1)[1])["title"] == "Verdict"


def test_plain_text_requests_pass_stop_tokens():
    request = LLMRequest(row_id="t", messages=[{"role": "user", "content": "go"}], stop=["\n"], max_tokens=12)
    with FaultServer() as server:
        result = _client(server.base_url).complete(request)
        assert server.bodies[0]["stop"] == ["\n"] and server.bodies[0]["max_tokens"] == 12
    assert result.ok and result.answer == "A plausible short sentence."


def test_api_key_is_sent_but_never_shown():
    settings = LLMSettings(base_url="http://127.0.0.1:1/v1", model="m", api_key="sk-secret-value")
    assert "sk-secret-value" not in repr(settings)


def test_backoff_is_seeded_exponential_and_capped():
    client = _client("http://127.0.0.1:1/v1", backoff_base_s=1.0, backoff_max_s=6.0)
    request = _requests(1)[0]
    delays = [client._backoff(request, n, None) for n in (1, 2, 3, 4, 5)]
    assert delays == [client._backoff(request, n, None) for n in (1, 2, 3, 4, 5)]
    assert 0.5 <= delays[0] <= 1.5 and 1.0 <= delays[1] <= 3.0 and max(delays) <= 6.0
    assert client._backoff(request, 1, retry_after=4.0) == pytest.approx(4.0)

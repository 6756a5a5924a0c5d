"""DuckDB cache of every LLM request and its response, keyed by a content hash.

The cache lives in its own DuckDB file (`llm_cache.duckdb` next to the warehouse) so that LLM calls never wait
for the warehouse's single-writer lock. Each response is committed as soon as it arrives: a run killed half-way
leaves every finished answer on disk and the next run re-sends only what is missing.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

CACHE_FILE_NAME = "llm_cache.duckdb"

_CREATE = """
create table if not exists llm_responses (
    key varchar primary key,
    model varchar not null,
    request_json varchar not null,
    response_text varchar not null,
    prompt_tokens integer,
    completion_tokens integer,
    seconds double,
    created_at timestamp default current_timestamp
)
"""


def request_key(model: str, messages: list[dict], params: dict, seed: int | None) -> str:
    """sha256 of (model, messages, params, seed) in canonical JSON: equal requests share one cache entry."""
    payload = json.dumps(
        {"model": model, "messages": messages, "params": params, "seed": seed},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def default_cache_path(warehouse_path: str | Path) -> Path:
    """`llm_cache.duckdb` in the folder of the warehouse DuckDB file."""
    return Path(warehouse_path).expanduser().resolve().parent / CACHE_FILE_NAME


@dataclass(frozen=True)
class CachedResponse:
    key: str
    response_text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float


class ResponseCache:
    """Thread-safe get/put of responses; one connection guarded by a lock (writes are tiny and rare)."""

    def __init__(self, path: str | Path, lock_wait_s: float = 30.0):
        import duckdb

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + lock_wait_s
        while True:
            try:
                self._con = duckdb.connect(str(self.path))
                break
            except duckdb.IOException as error:  # another process holds the file lock
                if "lock" not in str(error).lower() or time.monotonic() > deadline:
                    raise RuntimeError(f"LLM cache {self.path} is not usable: {error}") from error
                time.sleep(0.5)
        self._lock = threading.Lock()
        self._con.execute(_CREATE)

    def get(self, key: str) -> CachedResponse | None:
        with self._lock:
            row = self._con.execute(
                "select response_text, prompt_tokens, completion_tokens, seconds from llm_responses where key = ?",
                [key],
            ).fetchone()
        if row is None:
            return None
        return CachedResponse(key, row[0], int(row[1] or 0), int(row[2] or 0), float(row[3] or 0.0))

    def put(
        self,
        key: str,
        model: str,
        request: dict,
        response_text: str,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        seconds: float = 0.0,
    ) -> None:
        """Store one response; committed immediately (DuckDB auto-commits each statement)."""
        with self._lock:
            self._con.execute(
                "insert or replace into llm_responses "
                "(key, model, request_json, response_text, prompt_tokens, completion_tokens, seconds) "
                "values (?, ?, ?, ?, ?, ?, ?)",
                [key, model, json.dumps(request, sort_keys=True), response_text, prompt_tokens, completion_tokens,
                 seconds],
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._con.execute("select count(*) from llm_responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def __enter__(self) -> "ResponseCache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

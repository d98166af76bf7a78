"""A persistent per-request cache (DESIGN.md §5), shared by the builder and the judge harness.

`datasets.map` cannot fingerprint a model, so every model call is keyed here by (engine, model
and revision, prompt template hash, sampling parameters, prompt). SQLite in WAL mode lets several
processes (data-parallel workers, Ray actors) read and write the same file safely; each write
is its own short transaction, so a killed run loses at most the batch in flight.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from .engines.base import Completion, Engine, Prompt, SamplingParams, prompt_key, stable_hash


def request_key(engine: Engine, template_hash: str, params: SamplingParams, prompt: Prompt) -> str:
    return stable_hash(engine.identity(), template_hash, params.to_dict(), prompt_key(prompt))


class RequestCache:
    """key -> JSON value, in one SQLite file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE IF NOT EXISTS requests (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # One connection per thread; a generous timeout rides out other writers' locks.
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        conn = self._connect()
        for start in range(0, len(keys), 500):  # SQLite limits bound parameters per statement
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, value in conn.execute(f"SELECT key, value FROM requests WHERE key IN ({marks})", chunk):
                found[key] = json.loads(value)
        return found

    def get(self, key: str) -> Any | None:
        return self.get_many([key]).get(key)

    def put_many(self, items: dict[str, Any]) -> None:
        rows = [(k, json.dumps(v, ensure_ascii=False)) for k, v in items.items()]
        for attempt in range(5):
            try:
                conn = self._connect()
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany("INSERT OR REPLACE INTO requests (key, value) VALUES (?, ?)", rows)
                conn.execute("COMMIT")
                return
            except sqlite3.OperationalError:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.OperationalError:
                    pass
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def put(self, key: str, value: Any) -> None:
        self.put_many({key: value})

    def __len__(self) -> int:
        return self._connect().execute("SELECT COUNT(*) FROM requests").fetchone()[0]


def cached_generate(
    engine: Engine,
    prompts: list[Prompt],
    params: SamplingParams,
    cache: RequestCache | None,
    template_hash: str,
    *,
    chunk_size: int = 64,
) -> tuple[list[Completion], int]:
    """Answer `prompts`, sending only cache misses to the engine, in chunks that are written to
    the cache as soon as they finish. Returns (completions, number served from the cache)."""
    if cache is None:
        out = []
        for start in range(0, len(prompts), chunk_size):
            out.extend(engine.generate(prompts[start : start + chunk_size], params))
        return out, 0
    keys = [request_key(engine, template_hash, params, p) for p in prompts]
    found = cache.get_many(list(dict.fromkeys(keys)))
    results: dict[str, Completion] = {k: Completion.from_dict(v) for k, v in found.items()}
    hits = sum(1 for k in keys if k in results)
    missing = list(dict.fromkeys(k for k in keys if k not in results))
    by_key = dict(zip(keys, prompts))
    for start in range(0, len(missing), chunk_size):
        chunk = missing[start : start + chunk_size]
        completions = engine.generate([by_key[k] for k in chunk], params)
        cache.put_many({k: c.to_dict() for k, c in zip(chunk, completions)})
        results.update(zip(chunk, completions))
    return [results[k] for k in keys], hits


class CachedModel:
    """An engine bound to a cache: what the stages call. Counts cache hits for the funnel."""

    def __init__(self, engine: Engine, cache: RequestCache | None = None, *, chunk_size: int = 64):
        self.engine = engine
        self.cache = cache
        self.chunk_size = chunk_size
        self.hits = 0

    def __call__(self, prompts: list[Prompt], params: SamplingParams, template_hash: str) -> list[Completion]:
        if not prompts:
            return []
        out, hits = cached_generate(
            self.engine, prompts, params, self.cache, template_hash,
            chunk_size=self.chunk_size)
        self.hits += hits
        return out

    def identity(self) -> dict[str, Any]:
        return self.engine.identity()

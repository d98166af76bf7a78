"""A persistent per-request cache for model calls, shared by builder and eval.

Every request is keyed by (engine identity, prompt template hash, sampling parameters, prompt),
so a rerun of the same command sends only the requests that never finished, and changing a
prompt's wording (which changes its template hash) or the model invalidates exactly the
answers that depended on it.

Storage is one SQLite file in WAL mode: readers never block the writer, several processes
(e.g. one per GPU) can share it, and a killed run loses at most the batch it was writing.
Writes retry on "database is locked" with backoff, on top of SQLite's own busy timeout.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ..core.hashing import stable_hash
from .base import Completion, Engine, EngineStats, Prompt, SamplingParams, prompt_key

logger = logging.getLogger(__name__)

# Pages of write-ahead log before a commit copies them into the database (SQLite's default is
# 1,000, 4 MiB). Each such checkpoint rewrites every page the log touched and syncs the file:
# keys are hashes, so entries land all over the table and a small log rewrites the same pages
# again and again. On this project's VM, 150 commits of 320 entries took 3.8 s at the default and
# 0.4 s with no checkpoint among them (~80 ms a commit that checkpoints, ~1.5 ms one that does
# not). Durability does not change (WAL with synchronous=NORMAL survives a killed process
# either way); the last connection to close checkpoints what is left.
CHECKPOINT_PAGES = 16384  # 64 MiB

_SCHEMA = "CREATE TABLE IF NOT EXISTS requests (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL NOT NULL)"


class RequestCache:
    """`get(key)` / `put(key, value)` over SQLite; values are anything JSON can hold."""

    def __init__(self, path: str | Path, timeout: float = 30.0, retries: int = 8):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.timeout = timeout
        self.retries = retries
        self._local = threading.local()  # one connection per thread: sqlite3 objects are not shared
        try:
            self._open_checked()
        except sqlite3.DatabaseError as err:
            # locked, unwritable: not the file's fault
            if isinstance(err, sqlite3.OperationalError):
                self.close()
                raise
            self._set_aside(err)
            self._open_checked()
        except OSError:  # a full disk (storage_error): no connection is left holding the file open
            self.close()
            raise

    def _open_checked(self) -> None:
        """Create the table, and make SQLite read every page once: a file that is not a database,
        or a damaged one, fails here rather than in the middle of a stage."""
        self._with_retries(lambda db: db.execute(_SCHEMA))
        result = self._with_retries(lambda db: db.execute("PRAGMA quick_check").fetchone())
        if result and result[0] != "ok":
            raise sqlite3.DatabaseError(f"integrity check: {result[0]}")

    def _set_aside(self, err: Exception) -> None:
        """Only cached answers are lost with a broken cache (finished shards do not depend on it),
        so it is renamed, not deleted, and the build goes on with an empty one."""
        self.close()
        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        os.replace(self.path, aside)
        for extra in ("-wal", "-shm"):  # the journal belongs to the broken file
            Path(f"{self.path}{extra}").unlink(missing_ok=True)
        logger.warning(
            "request cache %s is unreadable (%s); renamed it to %s and starting an empty cache. "
            "Finished shards are kept; requests they still need are sent again",
            self.path,
            err,
            aside.name,
        )

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                # WAL + NORMAL: durable across process crashes
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}")
            except BaseException:  # e.g. a full disk: the file is not left open
                db.close()
                raise
            self._local.db = db
        return db

    def _with_retries(self, action):
        delay = 0.05
        for attempt in range(self.retries + 1):
            try:
                return action(self._db())
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) and "busy" not in str(error):
                    disk = storage_error(self.path, error)
                    if disk is not None:
                        raise disk from error
                    raise
                if attempt == self.retries:
                    raise sqlite3.OperationalError(
                        f"request cache {self.path} stayed locked after {self.retries} retries; another "
                        "process holds a long write lock on it (or the file sits on a network file "
                        "system, where SQLite locking is unreliable: point the cache at local disk)"
                    ) from error
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    def get(self, key: str) -> Any | None:
        row = self._with_retries(
            lambda db: db.execute("SELECT value FROM requests WHERE key = ?", (key,)).fetchone()
        )
        return self._decode(key, row[0]) if row else None

    def _decode(self, key: str, value: str) -> Any | None:
        """A stored value that is not JSON (a damaged row) is a miss: the request is sent again."""
        try:
            return json.loads(value)
        except json.JSONDecodeError as err:
            self._damaged(key, err)
            return None

    def _damaged(self, key: str, err: Exception) -> None:
        logger.warning(
            "request cache %s: entry %s is not valid JSON (%s); treating it as a miss",
            self.path,
            key[:16],
            err,
        )

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        keys = list(dict.fromkeys(keys))
        found: dict[str, Any] = {}
        loads = json.loads
        for start in range(0, len(keys), 500):  # stay under SQLite's bound-parameter limit
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._with_retries(
                lambda db, marks=marks, chunk=chunk: db.execute(
                    f"SELECT key, value FROM requests WHERE key IN ({marks})", chunk
                ).fetchall()
            )
            for k, v in rows:  # decoded inline: this loop is the cost of a cached rerun
                try:
                    found[k] = loads(v)
                except json.JSONDecodeError as err:
                    self._damaged(k, err)
        return found

    def put(self, key: str, value: Any) -> None:
        self.put_many({key: value})

    def put_many(self, items: dict[str, Any]) -> None:
        """Write several entries in one transaction (all or none survive a crash)."""
        rows = [(k, json.dumps(v, ensure_ascii=False), time.time()) for k, v in items.items()]

        def write(db: sqlite3.Connection):
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    "INSERT OR REPLACE INTO requests (key, value, created) VALUES (?, ?, ?)", rows
                )
                db.execute("COMMIT")
            except BaseException:
                # A full disk or an I/O error has SQLite roll back by itself; a second ROLLBACK
                # would fail and hide that error behind "no transaction is active".
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

        if rows:
            self._with_retries(write)

    def __len__(self) -> int:
        return self._with_retries(
            lambda db: db.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
        )

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


def storage_error(path: Path, error: sqlite3.Error) -> OSError | None:
    """A full disk (SQLITE_FULL) or a failed read or write (SQLITE_IOERR, which is also what a
    full disk gives when SQLite's write-ahead log cannot grow) as the OSError it stands for, naming
    the database file: the error report then names the cause and how to resume (builder/errors.py).
    None for every other SQLite error."""
    # extended codes keep it in the low byte
    primary = (getattr(error, "sqlite_errorcode", None) or 0) & 0xFF
    if primary == sqlite3.SQLITE_FULL:
        return OSError(errno.ENOSPC, f"No space left on device (SQLite: {error})", str(path))
    if primary == sqlite3.SQLITE_IOERR:
        return OSError(
            errno.EIO, f"disk I/O error, the disk may be full (SQLite: {error})", str(path)
        )
    return None


def request_key(engine: Engine, template_hash: str, params: SamplingParams, prompt: Prompt) -> str:
    """The cache key of one request."""
    return stable_hash(engine.identity(), template_hash, params.to_dict(), prompt_key(prompt))


def request_keys(
    engine: Engine, template_hash: str, params: SamplingParams, prompts: list[Prompt]
) -> list[str]:
    """`request_key` of each prompt, the same strings, with the parts the prompts share encoded
    once: the JSON of [a, b, c, d] is that of [a, b, c] without its "]", then ", ", d's, "]"."""
    head = (
        json.dumps(
            [engine.identity(), template_hash, params.to_dict()],
            ensure_ascii=False,
            sort_keys=True,
            default=str,
        )[:-1]
        + ", "
    )
    sha256, dumps = hashlib.sha256, json.dumps
    return [
        sha256(f"{head}{dumps(prompt_key(p), ensure_ascii=False)}]".encode()).hexdigest()
        for p in prompts
    ]


def cached_generate(
    engine: Engine,
    prompts: list[Prompt],
    params: SamplingParams,
    cache: RequestCache | None,
    template_hash: str,
    chunk_size: int = 64,
    desc: str | None = None,
    stats: EngineStats | None = None,
    progress: bool = True,
) -> list[Completion]:
    """`engine.generate` with the cache in front: only uncached prompts reach the engine.

    Misses are sent `chunk_size` at a time and each chunk is written to the cache as soon as
    it returns, so a run that dies keeps everything finished before it. Identical prompts in
    one call are generated once. `chunk_size=1` sends one request per call (a baseline).
    `desc` labels the progress bars (this one and the engine's): who is asking. `stats`, when
    given, gets this call's engine work added (what `engine.stats` gains from it), so callers
    sharing one engine on several threads each count their own. `progress=False`: no bars
    (this one's and the engine's), for a caller that shows its own.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    keys = request_keys(engine, template_hash, params, prompts)
    found = cache.get_many(keys) if cache is not None else {}
    results: dict[str, Completion] = {k: Completion.from_dict(v) for k, v in found.items()}
    todo = list(dict.fromkeys(k for k in keys if k not in results))
    by_key = dict(zip(keys, prompts))
    if todo and found:
        logger.info(
            "%s: %d of %d requests cached, generating %d",
            desc or "generate",
            len(keys) - len(todo),
            len(keys),
            len(todo),
        )
    # `with`: a failed request closes the bar now, not at exit below the error report.
    with tqdm(
        total=len(todo),
        desc=desc or f"generate ({engine.name})",
        unit="request",
        disable=not progress or len(todo) < 2,
        leave=False,
    ) as bar:
        for start in range(0, len(todo), chunk_size):
            chunk = todo[start : start + chunk_size]
            started = time.perf_counter()
            completions = engine.generate(
                [by_key[k] for k in chunk], params, desc=desc, progress=progress
            )
            if stats is not None:
                stats.add(completions, time.perf_counter() - started)
            fresh = dict(zip(chunk, completions))
            results.update(fresh)
            if cache is not None:
                cache.put_many({k: c.to_dict() for k, c in fresh.items()})
            bar.update(len(chunk))
    return [results[k] for k in keys]


class _Tally:
    """The work of one thread's calls through a `CachedModel` inside `CachedModel.tally()`."""

    def __init__(self):
        self.stats = EngineStats()
        self.hits = 0


class CachedModel:
    """An engine bound to a cache: what the builder's stages call. `stats` counts the engine's
    work done through this object only (an engine may serve several), `hits` the requests the
    cache answered. Each call counts its own work (not a before/after difference of the
    engine's totals), so calls on several threads at once (the local executor overlapping
    shards on a remote engine) are each counted once."""

    def __init__(
        self,
        engine: Engine,
        cache: RequestCache | None = None,
        *,
        chunk_size: int = 64,
        desc: str | None = None,
    ):
        """`desc` labels the progress bars, e.g. "refine (transformers)"."""
        self.engine = engine
        self.cache = cache
        self.chunk_size = chunk_size
        self.desc = desc
        self.stats = EngineStats()
        self.hits = 0
        self._lock = threading.Lock()
        self._local = threading.local()  # this thread's open tallies, and whether it shows bars

    def __call__(
        self, prompts: list[Prompt], params: SamplingParams, template_hash: str
    ) -> list[Completion]:
        if not prompts:
            return []
        done = EngineStats()
        out = cached_generate(
            self.engine,
            prompts,
            params,
            self.cache,
            template_hash,
            chunk_size=self.chunk_size,
            desc=self.desc,
            stats=done,
            progress=not getattr(self._local, "barless", False),
        )
        hits = len(prompts) - done.calls
        with self._lock:
            self.stats += done  # a new object: a snapshot taken before stays as it was
            self.hits += hits
        for tally in getattr(self._local, "tallies", ()):
            tally.stats += done
            tally.hits += hits
        return out

    @contextlib.contextmanager
    def tally(self):
        """`with model.tally() as t:` counts in `t.stats` and `t.hits` the calls this thread
        makes inside the block, whatever other threads do meanwhile (one shard's cost)."""
        tallies = self._local.__dict__.setdefault("tallies", [])
        tally = _Tally()
        tallies.append(tally)
        try:
            yield tally
        finally:
            tallies.remove(tally)

    @contextlib.contextmanager
    def without_bars(self):
        """`with model.without_bars():` the calls this thread makes inside the block draw no
        progress bar (a shard mapped beside others, under its stage's bar)."""
        before = getattr(self._local, "barless", False)
        self._local.barless = True
        try:
            yield
        finally:
            self._local.barless = before

    def identity(self) -> dict[str, Any]:
        return self.engine.identity()

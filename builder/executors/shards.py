"""One shard of a model stage: the unit every executor schedules.

A `ShardTask` names an input shard and the output shard it becomes; a `StageWorker` is what
runs tasks in a worker process (a data-parallel rank, a Ray actor): it loads its own engine
once, opens the shared request cache, builds each language's stage object from the `BuildConfig` and
writes the output shard atomically. Because the output path is fixed by the task, a task that
runs twice (a retried Ray batch, a resumed build) rewrites the same file with the same rows:
nothing is duplicated and nothing is lost.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import threading
from pathlib import Path

from ..config import BuildConfig
from ..core.workdir import StageDir, read_shard_table
from ..engines.base import Engine, EngineStats
from ..engines.cache import CachedModel, RequestCache
from ..stages.base import Stage, apply_stage_to_table
from ..stages.plan import make_model_stage, stage_model


@dataclasses.dataclass(frozen=True)
class ShardTask:
    stage: str
    lang: str
    fingerprint: str
    index: int
    source: str  # the input shard (the previous stage's output)

    def target(self, work_dir: str | Path) -> Path:
        return StageDir(Path(work_dir), self.lang, self.stage, self.fingerprint).shard(self.index)

    def to_row(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_row(cls, row: dict) -> ShardTask:
        return cls(**{f.name: row[f.name] for f in dataclasses.fields(cls)})


@dataclasses.dataclass
class ShardResult:
    """What a worker reports back for one finished shard (results cross process boundaries as dicts)."""

    lang: str
    index: int
    alive: int  # rows still in the running after this stage's input (the progress bar counts these)
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    wall_s: float = 0.0
    cache_hits: int = 0
    worker: str = ""  # host:pid of the process that mapped the shard
    node: str = ""  # the Ray node id of that process ("" outside Ray)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def stats(self) -> EngineStats:
        """The model calls that made this shard (cache hits are not calls)."""
        return EngineStats(
            **{f.name: getattr(self, f.name) for f in dataclasses.fields(EngineStats)}
        )


def map_shard(task: ShardTask, stage: Stage, work_dir: str | Path) -> int:
    """Read the task's input shard, apply the stage, write the output shard; return the
    number of input rows that were still alive (not dropped), which the stage worked on."""
    shard = read_shard_table(Path(task.source), stage.input_features)
    out = apply_stage_to_table(shard, stage)
    StageDir(Path(work_dir), task.lang, task.stage, task.fingerprint).write(task.index, out)
    # rater_controls' pairs have no `dropped` column: every one of them is scored
    return shard.column("dropped").null_count if "dropped" in shard.column_names else shard.num_rows


def worker_cache_path(work_dir: str | Path, driver_host: str | None) -> Path:
    """The request cache a worker writes. SQLite's WAL mode needs every writer on one host, so
    workers on the driver's host share `cache.sqlite`, and a worker on another node of a Ray
    cluster keeps a cache file of its own node (a retried shard there still hits it)."""
    host = socket.gethostname()
    if driver_host is None or host == driver_host:
        return Path(work_dir) / "cache.sqlite"
    return Path(work_dir) / "node-caches" / f"{host}.sqlite"


def engine_options(config: BuildConfig) -> dict:
    options = {"batch_size": config.batch_size} if config.engine != "openai" else {}
    if config.base_url:
        options["base_url"] = config.base_url
    return options


class StageWorker:
    """Runs the shards of one model stage, with one engine loaded once: in a worker process (a
    data-parallel rank, a Ray actor) or in the driver (the local executor, which passes the
    driver's engine and request cache so nothing is loaded or opened twice)."""

    def __init__(
        self,
        config: BuildConfig,
        stage: str,
        driver_host: str | None = None,
        engine: Engine | None = None,
        cache: RequestCache | None = None,
    ):
        from ..engines import create_engine

        self.config = config
        self.stage = stage
        self.owns_engine = engine is None  # a rank passes the engine it keeps across stages
        self.owns_cache = cache is None
        self.engine = engine or create_engine(
            config.engine, stage_model(config, stage), **engine_options(config)
        )
        # `is None`, not `or`: an empty cache has len() 0
        self.cache = (
            cache
            if cache is not None
            else RequestCache(worker_cache_path(config.work_dir, driver_host))
        )
        self.model = CachedModel(
            self.engine,
            self.cache,
            chunk_size=config.batch_size * 4,
            desc=f"{stage} ({self.engine.name})",
        )
        self._stages: dict[str, Stage] = {}
        self._making = threading.Lock()  # the local executor may run shards on several threads

    def stage_for(self, lang: str) -> Stage:
        """This worker's stage object for one language, made once."""
        with self._making:
            if lang not in self._stages:
                self._stages[lang] = make_model_stage(self.config, self.stage, lang, self.model)
            return self._stages[lang]

    def run(self, task: ShardTask, bars: bool = True) -> ShardResult:
        """`bars=False`: the shard's model calls draw no progress bars (it is mapped beside
        other shards, each of which would draw its own under the stage's bar)."""
        if task.stage != self.stage:
            raise ValueError(f"a {self.stage} worker was given a {task.stage} shard")
        # This thread's calls only: other threads may map other shards on the same model.
        quiet = contextlib.nullcontext() if bars else self.model.without_bars()
        with self.model.tally() as done, quiet:
            alive = map_shard(task, self.stage_for(task.lang), self.config.work_dir)
        return ShardResult(
            task.lang,
            task.index,
            alive,
            **done.stats.to_dict(),
            cache_hits=done.hits,
            worker=f"{socket.gethostname()}:{os.getpid()}",
        )

    def close(self) -> None:
        if self.owns_cache:
            self.cache.close()
        if self.owns_engine:
            self.engine.close()

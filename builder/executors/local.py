"""The default executor: shards mapped in the driver, with its own engines.

It runs the same `StageWorker` a data-parallel rank or a Ray actor runs, handed the driver's
engine and request cache (nothing is loaded twice), and returns the same `ShardResult`s.

On a local engine shards are mapped one after another (the engine batches a shard's prompts
itself). On a remote one (the openai engine, which keeps up to `concurrency` requests in flight)
several shards are mapped at once on threads sharing the engine's one limit: each shard waits for
its slowest reply, and with one shard at a time the server would sit idle through every shard's
tail. Each shard still writes its own fixed file and the results come back in task order, so the
build's output does not depend on which shard finished first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

from ..config import BuildConfig
from .shards import ShardResult, ShardTask, StageWorker

# At most this many shards at once: each lane is a thread doing its shard's CPU work as well.
MAX_LANES = 32


def shard_lanes(engine, config: BuildConfig) -> int:
    """How many shards to map at once on `engine`: 1 for an engine without a request limit (a
    local model); otherwise enough shards that their requests (a shard sends at most a chunk at a
    time) cover the limit 16 times over, so shards in their tails are outnumbered by shards with
    requests still waiting. Shards started together reach their tails together: at 4 times over,
    a latency server with a cap of 64 was 60% full on average, at 16 times 98%
    (benchmarks/bench_peers.py)."""
    concurrency = getattr(engine, "concurrency", None)
    if not isinstance(concurrency, int) or concurrency < 1:
        return 1
    per_shard = max(1, min(config.shard_size, config.batch_size * 4))
    return max(1, min(MAX_LANES, 16 * -(-concurrency // per_shard)))


class LocalExecutor:
    name = "local"

    def __init__(self, config: BuildConfig, models):
        """`models`: the driver's `Models` (builder/pipeline/loaded_models.py), whose engines do the work."""
        self.config = config
        self.models = models
        self.workers: dict[str, StageWorker] = {}

    def run(self, stage: str, tasks: list[ShardTask], bar) -> list[ShardResult]:
        worker = self._worker(stage)
        lanes = min(shard_lanes(worker.engine, self.config), len(tasks))
        if lanes <= 1:
            results = []
            for task in tasks:
                bar.set_postfix_str(task.lang)
                results.append(worker.run(task))
                bar.update(results[-1].alive)
            return results
        return self._run_overlapped(worker, tasks, bar, lanes)

    @staticmethod
    def _run_overlapped(worker: StageWorker, tasks, bar, lanes: int) -> list[ShardResult]:
        results = []
        pool = ThreadPoolExecutor(lanes, thread_name_prefix=f"shard-{worker.stage}")
        try:
            futures = [pool.submit(worker.run, task, bars=False) for task in tasks]
            for task, future in zip(tasks, futures):  # in task order, as the sequential path
                bar.set_postfix_str(task.lang)
                results.append(future.result())
                bar.update(results[-1].alive)
        finally:
            # A failed shard (or Ctrl-C) starts no further shards; those already running finish
            # their file, which a resumed build then keeps.
            pool.shutdown(wait=True, cancel_futures=True)
        return results

    def lanes(self, stages: list[str]) -> int:
        """How many shards of `stages` to map at once on one pool (`open_lanes`): 1 when any of
        them runs on a local engine, which then keeps the one-at-a-time path."""
        return min(shard_lanes(self._worker(stage).engine, self.config) for stage in stages)

    def spare(self, stage: str) -> int | None:
        """Requests the engine of `stage` could send now beyond those it was asked for (None: it
        does not say): the shard flow hands held work on when its shards leave room."""
        engine = self._worker(stage).engine
        wanted = getattr(engine, "wanted", None)
        return None if wanted is None else engine.concurrency - wanted

    @contextmanager
    def open_lanes(self, lanes: int) -> Iterator[Callable[[ShardTask], Future]]:
        """`submit(task)`: map a shard of any model stage on a pool of `lanes` threads, its
        `ShardResult` in the returned future (builder/pipeline/shard_flow.py hands each shard on
        to its next stage as soon as it is written). Called from one thread."""
        pool = ThreadPoolExecutor(lanes, thread_name_prefix="shard-flow")
        try:
            yield lambda task: pool.submit(self._worker(task.stage).run, task, bars=lanes <= 1)
        finally:
            # as in _run_overlapped: a failure starts no further shard, running ones finish their file
            pool.shutdown(wait=True, cancel_futures=True)

    def _worker(self, stage: str) -> StageWorker:
        if stage not in self.workers:
            engine = self.models.engine(stage)
            self.workers[stage] = StageWorker(
                self.config, stage, engine=engine, cache=self.models.cache
            )
        return self.workers[stage]

    def close(self) -> None:
        for worker in self.workers.values():
            worker.close()  # the engines and the cache stay the driver's
        self.workers = {}

"""The default executor: shards mapped one after another in the driver, with its own engines.

It runs the same `StageWorker` a data-parallel rank or a Ray actor runs, handed the driver's
engine and request cache (nothing is loaded twice), and returns the same `ShardResult`s.
"""

from __future__ import annotations

from ..config import BuildConfig
from .shards import ShardResult, ShardTask, StageWorker


class LocalExecutor:
    name = "local"

    def __init__(self, config: BuildConfig, models):
        """`models`: the driver's `Models` (builder/pipeline/loaded_models.py), whose engines do the work."""
        self.config = config
        self.models = models
        self.workers: dict[str, StageWorker] = {}

    def run(self, stage: str, tasks: list[ShardTask], bar) -> list[ShardResult]:
        results = []
        for task in tasks:
            bar.set_postfix_str(task.lang)
            results.append(self._worker(stage).run(task))
            bar.update(results[-1].alive)
        return results

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

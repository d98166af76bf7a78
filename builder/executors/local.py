"""The default executor: shards mapped one after another with the driver's own engines."""

from __future__ import annotations

from ..pipeline.stage_configs import make_block
from ..config import BuildConfig
from .shards import ShardResult, ShardTask, map_shard


class LocalExecutor:
    name = "local"

    def __init__(self, config: BuildConfig, models):
        self.config = config
        self.models = models

    def run(self, stage: str, tasks: list[ShardTask], bar) -> list[ShardResult]:
        """Engine statistics stay in the driver's engines, so no results are returned."""
        model = self.models.generator if stage == "generate" else self.models.evaluator
        blocks = {}
        for task in tasks:
            if task.lang not in blocks:
                blocks[task.lang] = make_block(self.config, stage, task.lang, model)
            bar.set_postfix_str(task.lang)
            bar.update(map_shard(task, blocks[task.lang], self.config.work_dir))
        return []

    def close(self) -> None:
        pass

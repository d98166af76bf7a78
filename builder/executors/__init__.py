"""Where the model stages run: in this process, one process per GPU, or on a Ray cluster.

Every executor keeps one contract (`Executor`, executors/base.py): it takes the list of
`ShardTask`s (the shards a stage has not finished yet), writes the same output shards into the
work directory through the same `StageWorker`, and returns a `ShardResult` per shard, so resume,
the build's statistics, select, diversify and publishing do not know which one ran. Only the
model stages (generate, refine and the rater's negative controls) go through an executor;
prepare, relevance, select and diversify run in the driver.
"""

from __future__ import annotations

import dataclasses

from ..config import BuildConfig
from ..engines import pick_engine
from .base import Executor
from .local import LocalExecutor
from .shards import ShardResult, ShardTask

__all__ = ["Executor", "LocalExecutor", "ShardResult", "ShardTask", "distributed", "make_executor"]


def distributed(config: BuildConfig) -> bool:
    """True when workers, not the driver, load the models."""
    return config.executor == "ray" or config.data_parallel > 1


def make_executor(config: BuildConfig, models) -> Executor:
    """The executor `config` asks for; `models` are the driver's (used by the local executor)."""
    if distributed(config):
        # `auto` is decided once, here, so every worker loads the engine the driver's cache
        # keys and `meta` name (a GPU-less driver says so: README, "Scale-out").
        config = dataclasses.replace(config, engine=pick_engine(config.engine))
    if config.executor == "ray":
        from .ray_data import RayExecutor

        return RayExecutor(config)
    if config.data_parallel > 1:
        from .data_parallel import DataParallelExecutor

        return DataParallelExecutor(config)
    return LocalExecutor(config, models)

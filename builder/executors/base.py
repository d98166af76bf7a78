"""The contract every executor keeps.

`run` maps a stage's pending shards (`ShardTask`s), writes each output shard into the work
directory and returns one `ShardResult` per shard it finished: the driver learns what the model
calls cost (calls, tokens, cache hits) from these results alone, whichever executor ran.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from .shards import ShardResult, ShardTask


@runtime_checkable
class Executor(Protocol):
    name: str

    def run(self, stage: str, tasks: list[ShardTask], bar) -> list[ShardResult]:
        """Map `tasks` (all of model stage `stage`); `bar` (tqdm) advances by each shard's alive rows."""
        ...

    def close(self) -> None:
        """Release workers and engines the executor started (not the driver's own)."""
        ...

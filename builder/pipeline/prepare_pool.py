"""prepare's per-text checks in worker processes (`--prepare-workers`).

Cleaning, language ID and the MinHash of one text need no other row (builder/stages/prepare.py
`TextChecks`), and they are most of prepare's CPU time: about 1 ms a text on one core. Worker
processes compute them shard by shard, a few shards ahead; the driver takes the results in
corpus order and decides each row with the dedup state (exact and near duplicates are judged
against the rows kept before), counting tokens with the engine's tokenizer. So the prepared
shards are the same whatever the number of workers.
"""

from __future__ import annotations

import collections
import multiprocessing
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor

from ..stages.prepare import PrepareConfig, TextChecks, check_texts


class PreparePool:
    """`checked(shards, ...)` yields each shard with its texts' `TextChecks` (None with one
    worker: `Prepare` then checks each text itself). The processes start on the first shard and
    serve every language of the build; `close()` (or the `with` block's end) stops them."""

    def __init__(self, workers: int):
        self.workers = (os.cpu_count() or 1) if workers == 0 else workers
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> PreparePool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def checked(
        self, shards: Iterable[list[dict]], lang: str, config: PrepareConfig
    ) -> Iterator[tuple[list[dict], list[TextChecks] | None]]:
        if self.workers <= 1:
            for shard in shards:
                yield shard, None
            return
        if self._pool is None:
            # spawn, not fork: the driver may hold an engine's loop thread and torch's threads.
            # A spawned worker starts with plain logging: it masks credentials as the driver does.
            from ..logsetup import install_redaction

            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=install_redaction,
            )
        pending: collections.deque = collections.deque()
        for shard in shards:
            pending.append(
                (
                    shard,
                    self._pool.submit(check_texts, lang, config, [row["text"] for row in shard]),
                )
            )
            # enough ahead to keep every worker busy, no more in memory
            if len(pending) > 2 * self.workers:
                shard, future = pending.popleft()
                yield shard, future.result()
        while pending:
            shard, future = pending.popleft()
            yield shard, future.result()

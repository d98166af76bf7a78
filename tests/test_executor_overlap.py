"""The local executor on a remote engine maps several shards at once (builder/executors/local.py):
against a server with latency and a cap on sequences, more requests are in flight than one shard
can send, the shards' rows are those of one-at-a-time mapping, and each shard's engine stats are
exactly its own although the shards share one engine (CachedModel.tally)."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from builder.config import BuildConfig
from builder.core.schema import PREPARED
from builder.core.workdir import StageDir
from builder.engines.base import Completion, Engine, SamplingParams
from builder.engines.cache import CachedModel, RequestCache
from builder.engines.openai_engine import OpenAIEngine
from builder.executors import local
from builder.executors.local import LocalExecutor, shard_lanes
from builder.executors.shards import ShardTask

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from stub_server import StubServer  # noqa: E402 (after the path is set)

TEXT = (
    "Watu wote wamezaliwa huru, hadhi na haki zao ni sawa. Wote wamejaliwa akili na dhamiri, "
    "hivyo yapasa watendeane kindugu. Kifungu cha {i}: kila mtu ana haki ya kuishi."
)


class _Slow(Engine):
    """Replies after a delay that differs per prompt, with token counts taken from the prompt, so
    concurrent calls overlap and each call's counts are its own."""

    name = "slow"

    def _generate(self, prompts, params):
        time.sleep(0.01 * (len(prompts) % 3))
        return [Completion([p[::-1]], ["stop"], len(p), 2 * len(p)) for p in prompts]


def test_each_threads_tally_counts_exactly_its_own_calls(tmp_path):
    engine = _Slow("m")
    model = CachedModel(engine, RequestCache(tmp_path / "cache.sqlite"), chunk_size=2)
    params = SamplingParams(max_new_tokens=4)
    tallies: dict[int, tuple] = {}
    start = threading.Barrier(8)

    def work(t: int) -> None:
        prompts = [f"thread {t} prompt {i}" + "x" * t for i in range(t + 1)]
        start.wait()
        with model.tally() as done:
            model(prompts, params, "h")
            model(prompts[:2], params, "h")  # answered by the cache: hits, not calls
        tallies[t] = (done, prompts)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(tallies) == 8
    for done, prompts in tallies.values():
        assert done.stats.calls == len(prompts)
        assert done.stats.prompt_tokens == sum(len(p) for p in prompts)
        assert done.stats.completion_tokens == 2 * sum(len(p) for p in prompts)
        assert done.hits == min(2, len(prompts))
    assert model.stats.calls == engine.stats.calls == sum(t + 1 for t in range(8))
    assert model.stats.prompt_tokens == engine.stats.prompt_tokens
    assert model.hits == sum(d.hits for d, _ in tallies.values())


class _Models:
    """The two things the local executor takes from the driver's `Models`."""

    def __init__(self, engine, cache):
        self._engine, self.cache = engine, cache

    def engine(self, stage: str):
        return self._engine


class _Bar:
    def set_postfix_str(self, text: str) -> None:
        pass

    def update(self, n: int) -> None:
        pass


def _tasks(work: Path, shards: int, rows: int) -> list[ShardTask]:
    tasks = []
    for s in range(shards):
        table = pa.Table.from_pylist(
            [
                {
                    "id": f"sw-{s}-{r}",
                    "lang": "sw",
                    "text": TEXT.format(i=s * rows + r),
                    "n_tokens": 40,
                    "dropped": None,
                }
                for r in range(rows)
            ],
            schema=PREPARED.arrow_schema,
        )
        source = work / "prepared" / f"shard-{s:05d}.parquet"
        source.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, source)
        tasks.append(ShardTask("generate", "sw", "fp", s, str(source)))
    return tasks


def _map(stub_url: str, work: Path, shards: int, rows: int):
    config = BuildConfig(
        langs=["sw"],
        engine="openai",
        base_url=stub_url,
        model="stub",
        work_dir=str(work),
        shard_size=rows,
        batch_size=max(1, rows // 4),
    )
    engine = OpenAIEngine("stub", base_url=stub_url, concurrency=32, progress=False)
    cache = RequestCache(work / "cache.sqlite")
    executor = LocalExecutor(config, _Models(engine, cache))
    try:
        results = executor.run("generate", _tasks(work, shards, rows), _Bar())
    finally:
        executor.close()
        engine.close()
        cache.close()
    out = StageDir(work, "sw", "generate", "fp")
    return results, [pq.read_table(out.shard(s)) for s in range(shards)], engine.stats


def test_overlapped_shards_fill_the_server_and_give_one_at_a_times_rows(tmp_path, monkeypatch):
    shards, rows, cap = 12, 8, 32
    remote = OpenAIEngine("stub", base_url="http://127.0.0.1:1/v1", concurrency=32)
    assert shard_lanes(remote, BuildConfig(langs=["sw"], shard_size=rows, batch_size=2)) == 32
    assert shard_lanes(remote, BuildConfig(langs=["sw"], shard_size=64, batch_size=16)) == 16
    assert shard_lanes(_Slow("m"), BuildConfig(langs=["sw"])) == 1  # a local engine: one at a time
    with StubServer(latency_median=0.05, latency_sigma=0.9, max_num_seqs=cap, record=True) as stub:
        overlapped, tables, engine_stats = _map(stub.url, tmp_path / "overlapped", shards, rows)
        in_flight = [e[1] for e in stub.inflight()["events"]]
        served = stub.stats()["completions"]
    # One shard at a time never has more than its `rows` requests out: this needs overlap.
    assert max(in_flight) > rows
    assert sum(r.calls for r in overlapped) == engine_stats.calls == served
    assert [(r.lang, r.index) for r in overlapped] == [("sw", s) for s in range(shards)]

    monkeypatch.setattr(local, "shard_lanes", lambda engine, config: 1)
    with StubServer(latency_median=0.05, latency_sigma=0.9, max_num_seqs=cap, record=True) as stub:
        sequential, expected, _ = _map(stub.url, tmp_path / "sequential", shards, rows)
        assert max(e[1] for e in stub.inflight()["events"]) <= rows
    assert [t.to_pylist() for t in tables] == [t.to_pylist() for t in expected]
    # Each shard's stats are its own: the same as when it ran alone.
    assert [(r.calls, r.prompt_tokens, r.completion_tokens, r.cache_hits) for r in overlapped] == [
        (r.calls, r.prompt_tokens, r.completion_tokens, r.cache_hits) for r in sequential
    ]

"""The local executor on a remote engine maps several shards at once (builder/executors/local.py):
against a server with latency and a cap on sequences, more requests are in flight than one shard
can send, the shards' rows are those of one-at-a-time mapping, and each shard's engine stats are
exactly its own although the shards share one engine (CachedModel.tally)."""

from __future__ import annotations

import json
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
from builder.executors.shards import ShardTask, StageWorker
from builder.pipeline import prepare_loop

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from stub_server import StubServer  # noqa: E402 (after the path is set)

_MAP_SHARD = StageWorker.run
_PREPARE = prepare_loop.prepare

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
        # every request asked of the engine was answered: the shard flow reads this as its room
        assert engine.wanted == 0 and executor.spare("generate") == 32
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


def _free_encoders(monkeypatch) -> None:
    """Hashed encoders for relevance and diversify (bench_throughput.py's `free`)."""
    from bench_throughput import FreeEmbedder, FreeEncoder

    import builder.pipeline.language_stages as language_stages
    import builder.quality.relevance as relevance

    monkeypatch.setattr(relevance, "load_encoder", lambda name, device=None: FreeEncoder())
    monkeypatch.setattr(language_stages, "Embedder", lambda name, device=None: FreeEmbedder())


def _build_args(tmp: Path, url: str) -> list[str]:
    """A two-language build (2 shards of 8 rows a language) over tmp/corpus."""
    args = ["build", "--corpus", str(tmp / "corpus"), "--langs", "fi,sw", "--engine", "openai"]
    args += ["--base-url", url, "--model", "smollm2-135m", "--min-relevance", "0"]
    args += ["--relevance-encoder", "free", "--embedder", "free", "--shard-size", "8"]
    return args + [
        "--batch-size",
        "1",
        "--work-dir",
        str(tmp / "work"),
        "--output-dir",
        str(tmp / "out"),
    ]


def _flow_build(
    tmp: Path, url: str, monkeypatch, wait_for_generate: float = 0.0
) -> list[tuple[str, str, int, float, float]]:
    """The two-language build through the CLI in this process, on hashed encoders; returns each
    model shard's (stage, language, index, start, end), and each prepared shard's ("prepare",
    language, index, written, written). The last shard of each model stage is held back 1 s
    before it starts, as a server's slowest replies would hold it. The last prepared shard
    waits up to `wait_for_generate` seconds for a generate shard to start, and its span's last
    item says whether one had."""
    from bench_throughput import write_corpus

    import builder.pipeline.shard_stages as shard_stages
    from builder.cli import main

    _free_encoders(monkeypatch)
    spans, run, prepare = [], _MAP_SHARD, _PREPARE  # not wrappers an earlier build left
    generating = threading.Event()

    def timed(self, task, bars=True):
        generating.set()
        if (task.lang, task.index) == ("sw", 1) and task.stage != "rater_controls":
            time.sleep(1.0)  # the last shard in the build's order: nothing after it waits on it
        start = time.monotonic()
        result = run(self, task, bars)
        spans.append((task.stage, task.lang, task.index, start, time.monotonic()))
        return result

    def prepared(work, config, lang, *args):
        for index, path in enumerate(prepare(work, config, lang, *args)):
            written = time.monotonic()
            last = (lang, index) == ("sw", 1)
            started = generating.wait(wait_for_generate) if last else None
            spans.append(("prepare", lang, index, written, started))
            yield path

    monkeypatch.setattr(StageWorker, "run", timed)
    monkeypatch.setattr(shard_stages, "prepare", prepared)
    write_corpus(tmp / "corpus", ["fi", "sw"], 32)
    assert main(_build_args(tmp, url)) == 0
    return spans


def _exported(out: Path) -> dict[str, list]:
    return {
        str(p.relative_to(out)): pq.read_table(p).to_pylist()
        for p in sorted(out.rglob("*.parquet"))
    }


def test_shards_flow_on_to_refine_and_the_controls_without_a_stage_barrier(
    tmp_path, monkeypatch, capsys
):
    """On a remote engine a shard goes on to rank and refine as soon as its generate shard is
    written, and a language's rater controls start once its refine shards are: against a latency
    server, refine's requests start while generate's slowest shard still waits, the controls while
    refine's does. The export is the one-stage-at-a-time path's, with the same requests. Shards
    mapped side by side draw no bars of their own under their stages' bars; one at a time, they do."""
    capsys.readouterr()
    with StubServer(latency_median=0.02, latency_sigma=0.9, max_num_seqs=16, record=True) as stub:
        spans = _flow_build(tmp_path / "flow", stub.url, monkeypatch, wait_for_generate=30)
        sent = stub.stats()["completions"]
    flow_err = capsys.readouterr().err
    assert "row/s" in flow_err  # the stages' bars
    # the request cache's and the engine's bars, one pair per shard's chunk
    assert "request/s" not in flow_err and "prompt/s" not in flow_err
    # prepare feeds the flow: the first generate shard started before the last shard was prepared
    assert ("prepare", "sw", 1) in [s[:3] for s in spans if s[4] is True], spans
    ends = {s: max(e for stage, *_, e in spans if stage == s) for s in ("generate", "refine")}
    starts = {
        s: min(b for stage, _, _, b, _ in spans if stage == s) for s in ("refine", "rater_controls")
    }
    assert starts["refine"] < ends["generate"] - 0.5, spans
    assert starts["rater_controls"] < ends["refine"] - 0.5, spans
    info = json.loads((tmp_path / "flow" / "work" / "build_info.json").read_text())
    assert info["engine_stats"]["calls"] == sent

    monkeypatch.setattr(local, "shard_lanes", lambda engine, config: 1)  # the stage-by-stage path
    with StubServer(latency_median=0.02, latency_sigma=0.9, max_num_seqs=16) as stub:
        staged = _flow_build(tmp_path / "staged", stub.url, monkeypatch)
        assert stub.stats()["completions"] == sent
    staged_err = capsys.readouterr().err
    assert "request/s" in staged_err and "prompt/s" in staged_err
    assert min(b for stage, _, _, b, _ in staged if stage == "refine") > max(
        e for stage, *_, e in staged if stage == "generate" and e is not None
    )
    # one stage at a time: no generate shard before the last prepared one
    assert ("prepare", "sw", 1, False) in [(*s[:3], s[4]) for s in staged], staged
    assert sorted(s[:3] for s in staged) == sorted(s[:3] for s in spans)
    flow, expected = _exported(tmp_path / "flow" / "out"), _exported(tmp_path / "staged" / "out")
    assert flow.keys() == expected.keys() and len(flow) > 2
    assert flow == expected


def test_a_shard_failing_while_prepare_runs_resumes_to_the_same_export(tmp_path, monkeypatch):
    """prepare feeds the flow, so a shard can fail while a later language is still prepared: the
    build stops with that language's prepare unmarked. The same command prepares it again (its
    dedup state spans the language), to the same bytes, keeps every other shard it finds, and
    exports what an uninterrupted build exports."""
    from bench_throughput import write_corpus

    import builder.pipeline.shard_stages as shard_stages
    from builder.cli import main

    _free_encoders(monkeypatch)
    preparing_sw, failed = threading.Event(), threading.Event()

    def failing(self, task, bars=True):
        if (task.stage, task.lang, task.index) == ("generate", "fi", 0):
            assert preparing_sw.wait(30)  # fails once sw's first shard is prepared
            failed.set()
            raise RuntimeError("the server went away")
        return _MAP_SHARD(self, task, bars)

    def held(work, config, lang, *args):
        for index, path in enumerate(_PREPARE(work, config, lang, *args)):
            if (lang, index) == ("sw", 0):
                preparing_sw.set()
            yield path
            if (lang, index) == ("sw", 0):
                assert failed.wait(30)  # and sw's prepare goes on after that
                time.sleep(0.2)  # (the failure reaches its future), with 3 shards of sw to go

    killed, whole = tmp_path / "killed", tmp_path / "whole"
    for tmp in (killed, whole):
        write_corpus(tmp / "corpus", ["fi", "sw"], 64)  # 4 shards a language
    with StubServer() as stub:
        monkeypatch.setattr(StageWorker, "run", failing)
        monkeypatch.setattr(shard_stages, "prepare", held)
        assert main(_build_args(killed, stub.url)) == 1
        work = killed / "work"
        (fi,) = work.glob("fi/prepare-*")
        (sw,) = work.glob("sw/prepare-*")
        assert (fi / "_DONE").is_file() and not (sw / "_DONE").is_file()
        kept = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in work.glob("*/*/*.parquet")}
        assert any(p.parent == sw for p in kept)

        monkeypatch.setattr(StageWorker, "run", _MAP_SHARD)
        monkeypatch.setattr(shard_stages, "prepare", _PREPARE)
        assert main(_build_args(killed, stub.url)) == 0
        assert main(_build_args(whole, stub.url)) == 0
    for path, (mtime, data) in kept.items():
        assert path.read_bytes() == data, path  # sw's prepared again: the same bytes
        assert path.parent == sw or path.stat().st_mtime_ns == mtime, path  # the rest: kept
    assert (sw / "_DONE").is_file()
    assert _exported(killed / "out") == _exported(whole / "out")

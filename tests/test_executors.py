"""Executors: the same build rows whether the model stages run locally, in one process per
device (`--data-parallel`) or on Ray Data actors (`--executor ray`); the shared cache under
concurrent writers; the driver's weightless engine."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest
from helpers.executors import executor_config as _config

from builder.config import BuildConfig
from builder.engines import create_engine
from builder.engines.base import EngineError, SamplingParams
from builder.executors.data_parallel import contiguous_chunks
from builder.executors.shards import ShardTask
from builder.pipeline.runner import Pipeline


def _rows(result) -> list[dict]:
    """Every row with its candidates, raw judgements and drop reason, in a stable order."""
    rows = [row for part in result.audit for row in part.to_list()]  # one part per language
    return sorted(rows, key=lambda r: (r["lang"], r["id"]))


def _shards(work: Path) -> dict[str, bool]:
    """Every stage's shards, the rater's controls and the last tables (final-*) included."""
    return {
        str(p.relative_to(work)): p.stat().st_size > 0
        for p in sorted(work.glob("*/*/shard-*.parquet"))
    }


@pytest.fixture(scope="module")
def five_rater_build(tmp_path_factory, tiny_model_dir, always_five_dir):
    """The reference for the rater's controls: a local build whose rater says 5 to everything."""
    tmp = tmp_path_factory.mktemp("five-local")
    # 14 documents: at least the 10 kept pairs an AUC needs (builder/quality/relevance.py MIN_AUC_PAIRS)
    result = Pipeline(
        _config(
            tmp, tiny_model_dir, langs=["sw"], rounds=1, max_docs=14, evaluator=str(always_five_dir)
        )
    ).run()
    rater = result.build_info["quality"]["sw"]["rater"]
    # measured on real pairs: refine kept some, and every control was scored
    assert rater == {
        "pairs": rater["pairs"],
        "auc": 0.5,
        "mean_matched": 5.0,
        "mean_mismatched": 5.0,
    }
    assert rater["pairs"] >= 10
    return result


@pytest.fixture(scope="module")
def local_build(tmp_path_factory, tiny_model_dir):
    """The reference: the same build with the default (local) executor."""
    tmp = tmp_path_factory.mktemp("local")
    result = Pipeline(_config(tmp, tiny_model_dir)).run()
    rows = _rows(result)
    # the comparison means something only if both model stages did work on these rows
    assert any(r["candidates"] for r in rows) and any(r["judgements"] for r in rows)
    assert result.build_info["engine_stats"]["calls"] > 0
    return result, rows, tmp / "work"


# -- pieces ---------------------------------------------------------------------------------


def test_contiguous_chunks_cover_every_task_once_in_order():
    tasks = [ShardTask("generate", "sw", "fp", i, f"in-{i}") for i in range(7)]
    chunks = contiguous_chunks(tasks, 3)
    assert [len(c) for c in chunks] == [3, 2, 2]
    assert [t for c in chunks for t in c] == tasks
    assert contiguous_chunks(tasks[:1], 4) == [tasks[:1]]  # no empty ranks
    assert contiguous_chunks([], 2) == []


def test_each_rank_sees_one_of_the_devices_the_driver_may_use():
    from builder.executors.data_parallel import rank_device

    assert [rank_device(r, None) for r in range(3)] == ["0", "1", "2"]
    assert [rank_device(r, "4,5, 6,7") for r in range(4)] == ["4", "5", "6", "7"]
    assert rank_device(0, "GPU-8f2c,GPU-1a9b") == "GPU-8f2c"  # UUIDs pass through


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(executor="spark"), "unknown executor 'spark'"),
        (dict(data_parallel=0), "data_parallel must be >= 1"),
        (dict(executor="ray", data_parallel=2), "--data-parallel is for one machine without Ray"),
        (dict(data_parallel=2, engine="openai"), "use the local executor"),
        (dict(executor="ray", ray_actors=0), "ray_actors must be >= 1"),
    ],
)
def test_executor_settings_are_checked(tmp_path, kw, message):
    with pytest.raises(ValueError, match=message):
        BuildConfig(work_dir=str(tmp_path), **kw)


def test_weightless_driver_engine_matches_the_real_one(tiny_model_dir, tiny_engine):
    real = create_engine("transformers", str(tiny_model_dir))
    stand_in = create_engine("transformers", str(tiny_model_dir), load_weights=False)
    assert not hasattr(stand_in, "model")  # no weights in the driver
    assert stand_in.identity() == real.identity()  # so cache keys, fingerprints and meta agree
    text = "Habari ya asubuhi, rafiki yangu. Leo ni siku nzuri."
    assert stand_in.count_tokens(text) == real.count_tokens(text)
    with pytest.raises(EngineError, match="generation runs in the executor's workers"):
        stand_in.generate(["Hello"], SamplingParams(max_new_tokens=2))


def _write_entries(path: str, worker: int, shared: int, own: int) -> None:
    from builder.engines.cache import RequestCache

    cache = RequestCache(path)
    for start in range(0, own, 10):  # many short transactions, interleaved with the other writers
        cache.put_many(
            {f"w{worker}-{i}": {"worker": worker, "i": i} for i in range(start, start + 10)}
        )
        # the same request, answered by all
        cache.put_many({f"shared-{i}": {"value": i} for i in range(shared)})
    cache.close()


def test_request_cache_stays_complete_with_concurrent_writers(tmp_path):
    from builder.engines.cache import RequestCache

    path = str(tmp_path / "cache.sqlite")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_entries, args=(path, w, 20, 200)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [
        0,
        0,
        0,
        0,
    ]  # no "database is locked" escaped the retries
    cache = RequestCache(path)
    assert len(cache) == 4 * 200 + 20
    got = cache.get_many([f"w{w}-{i}" for w in range(4) for i in range(200)])
    assert all(got[f"w{w}-{i}"] == {"worker": w, "i": i} for w in range(4) for i in range(200))
    assert cache.get_many([f"shared-{i}" for i in range(20)]) == {
        f"shared-{i}": {"value": i} for i in range(20)
    }


# -- data parallel ---------------------------------------------------------------------------


def test_data_parallel_two_processes_give_the_same_rows(tmp_path, tiny_model_dir, local_build):
    from builder.executors.data_parallel import DataParallelExecutor

    reference, rows, local_work = local_build
    config = _config(tmp_path, tiny_model_dir, data_parallel=2)
    executor, workers = DataParallelExecutor(config), {}
    run = executor.run

    def recording_run(stage, tasks, bar):
        results = run(stage, tasks, bar)
        workers[stage] = {r.worker for r in results}
        return results

    executor.run = recording_run
    result = Pipeline(config, executor=executor).run()
    assert _rows(result) == rows
    # two ranks, and the same two processes (one model load each) served both stages
    assert len(workers["generate"]) == 2 and workers["refine"] == workers["generate"]
    assert executor.procs == []  # closed with the build
    assert _shards(tmp_path / "work") == _shards(local_work)
    assert result.build_info["quality"] == reference.build_info["quality"]
    # the workers' calls are counted in the driver's statistics
    for key in ("calls", "prompt_tokens", "completion_tokens"):
        assert (
            result.build_info["engine_stats"][key] == reference.build_info["engine_stats"][key]
        ), key
    # and they wrote the shared cache: the same command again sends nothing
    again = Pipeline(_config(tmp_path, tiny_model_dir, data_parallel=2)).run()
    assert again.build_info["engine_stats"]["calls"] == 0 and _rows(again) == rows


def test_data_parallel_measures_the_rater_controls_and_min_rater_auc_holds(
    tmp_path, tiny_model_dir, always_five_dir, five_rater_build, capsys
):
    """Through the CLI: the ranks score the controls (the driver holds no weights), the AUC
    equals the local build's, and --min-rater-auc fails the build on it instead of passing."""
    from builder.cli import main

    args = [
        "build",
        "--langs",
        "sw",
        "--corpus",
        "embedded",
        "--max-docs",
        "14",
        "--shard-size",
        "3",
        "--candidates",
        "2",
        "--rounds",
        "1",
        "--few-shot",
        "1",
        "--max-instruction-tokens",
        "12",
        "--target-size",
        "50",
        "--model",
        str(tiny_model_dir),
        "--evaluator",
        str(always_five_dir),
        "--engine",
        "transformers",
        "--data-parallel",
        "2",
        "--work-dir",
        str(tmp_path / "work"),
        "--output-dir",
        str(tmp_path / "out"),
    ]
    assert main([*args, "--min-rater-auc", "0.6"]) == 1
    assert (
        capsys.readouterr()
        .err.strip()
        .splitlines()[-1]
        .startswith(
            "x-instruction: the rater's AUC on matched vs mismatched pairs is below --min-rater-auc 0.6: sw 0.50."
        )
    )
    work_info = json.loads((tmp_path / "work" / "build_info.json").read_text(encoding="utf-8"))
    assert work_info["quality"] == five_rater_build.build_info["quality"]
    assert (
        work_info["engine_stats"]["calls"] == five_rater_build.build_info["engine_stats"]["calls"]
    )
    assert len(list((tmp_path / "work" / "sw").glob("rater_controls-*/shard-00000.parquet"))) == 1


def test_data_parallel_with_a_separate_evaluator_swaps_the_rank_engine(tmp_path, tiny_model_dir):
    """generator != evaluator: each rank drops the generator before loading the evaluator, and
    the rows still equal a one-process build's."""
    import shutil

    evaluator = tmp_path / "evaluator"
    shutil.copytree(tiny_model_dir, evaluator)  # another model name, so another engine
    kw = dict(evaluator=str(evaluator), langs=["sw"], rounds=1)
    local = Pipeline(_config(tmp_path / "local", tiny_model_dir, **kw)).run()
    parallel = Pipeline(_config(tmp_path / "dp", tiny_model_dir, data_parallel=2, **kw)).run()
    assert _rows(parallel) == _rows(local)
    assert any(r["judgements"] for r in _rows(parallel))
    # published by folder name (it lies outside the folder the build ran in); exact in the work dir
    assert parallel.build_info["settings"]["evaluator_model"] == "evaluator"
    work_info = json.loads(
        (tmp_path / "dp" / "work" / "build_info.json").read_text(encoding="utf-8")
    )
    assert work_info["settings"]["evaluator_model"] == str(evaluator)


def test_a_failing_rank_is_reported_and_the_other_ranks_shards_are_kept(tmp_path, tiny_model_dir):
    from builder.executors.data_parallel import DataParallelExecutor

    config = _config(tmp_path, tiny_model_dir, data_parallel=2, rounds=1)
    # checked in the driver, before any rank starts
    with pytest.raises(FileNotFoundError, match="no-such-model"):
        Pipeline(
            _config(
                tmp_path, tiny_model_dir, data_parallel=2, evaluator=str(tmp_path / "no-such-model")
            )
        ).run()

    executor = DataParallelExecutor(config)
    run = executor.run

    def run_with_a_broken_input(stage, tasks, bar):
        # rank 0 gets the three sw shards, rank 1 the three fi shards; fi's last one is unreadable
        Path(tasks[-1].source).write_bytes(b"not parquet")
        return run(stage, tasks, bar)

    executor.run = run_with_a_broken_input
    with pytest.raises(EngineError, match="(?s)rank 1 failed.*parquet"):
        Pipeline(config, executor=executor).run()
    written = sorted(
        p.parent.parent.name + "/" + p.name
        for p in (tmp_path / "work").glob("*/generate-*/shard-*.parquet")
    )
    assert written == [f"fi/shard-0000{i}.parquet" for i in (0, 1)] + [
        f"sw/shard-0000{i}.parquet" for i in (0, 1, 2)
    ]


# -- Ray -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    ray.init(
        num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=150 * 2**20
    )
    yield ray
    ray.shutdown()


@pytest.mark.ray
def test_ray_executor_gives_the_same_rows_as_local(
    tmp_path, tiny_model_dir, local_build, ray_cluster
):
    reference, rows, local_work = local_build
    result = Pipeline(_config(tmp_path, tiny_model_dir, executor="ray")).run()
    assert _rows(result) == rows  # ids, instructions, candidates, raw judgements, drop reasons
    assert _shards(tmp_path / "work") == _shards(local_work)  # the same work-dir layout
    assert (
        result.build_info["engine_stats"]["calls"] == reference.build_info["engine_stats"]["calls"]
    )
    assert ray_cluster.is_initialized()  # a cluster the caller started is left running
    # where each model stage's time went on Ray, measured by its actors (benchmarks/bench_executors.py)
    overhead = result.build_info["ray"]["overhead"]
    assert {"generate", "refine"} <= set(overhead)
    for stage in ("generate", "refine"):
        spent = overhead[stage]
        assert (
            spent["actors_started"] >= 1 and spent["actor_start_s"] > 0 and spent["model_s"] > 0
        ), spent
        parts = (
            spent["actor_start_s"]
            + spent["model_s"]
            + spent["cache_and_write_s"]
            + spent["scheduling_s"]
        )
        # one actor here: its start and work, then the rest
        assert parts >= spent["wall_s"] * 0.99, spent


def test_a_stages_overhead_splits_its_wall_time():
    """Two actors of one stage: the slower one (start 2 s + shards 3 s) is the stage's path, so 1 s of
    its 6 s went to scheduling; the cache and write time is the shards' time beyond the model's."""
    from builder.executors.ray_data import stage_overhead

    timings = [
        {"worker": "a", "start_s": 2.0, "shard_s": 1.5, "model_s": 1.0, "return_s": 0.25},
        {"worker": "a", "start_s": 0.0, "shard_s": 1.5, "model_s": 1.0, "return_s": 0.25},
        {"worker": "b", "start_s": 1.0, "shard_s": 2.0, "model_s": 1.5, "return_s": 0.5},
    ]
    assert stage_overhead(6.0, timings) == {
        "wall_s": 6.0,
        "actors_started": 2,
        "actor_start_s": 2.0,
        "model_s": 3.5,
        "cache_and_write_s": 1.5,
        "return_s": 1.0,
        "scheduling_s": 1.0,
    }


@pytest.mark.ray
def test_ray_measures_the_rater_controls_as_locally(
    tmp_path, tiny_model_dir, always_five_dir, five_rater_build, ray_cluster
):
    config = _config(
        tmp_path,
        tiny_model_dir,
        langs=["sw"],
        rounds=1,
        max_docs=14,
        evaluator=str(always_five_dir),
        executor="ray",
    )
    result = Pipeline(config).run()
    assert result.build_info["quality"] == five_rater_build.build_info["quality"]
    assert (
        result.build_info["engine_stats"]["calls"]
        == five_rater_build.build_info["engine_stats"]["calls"]
    )


@pytest.mark.ray
def test_ray_retries_the_batch_of_an_actor_that_died(
    tmp_path, tiny_model_dir, local_build, ray_cluster
):
    import _ray_workers
    from ray import cloudpickle

    from builder.executors.ray_data import RayExecutor

    # the actor class lives in tests/, not the package
    cloudpickle.register_pickle_by_value(_ray_workers)
    _, rows, _ = local_build
    config = _config(tmp_path, tiny_model_dir, executor="ray")
    result = Pipeline(
        config, executor=RayExecutor(config, worker_cls=_ray_workers.CrashOnceWorker)
    ).run()
    assert (tmp_path / "work" / _ray_workers.CRASH_MARKER).exists()  # the actor did die mid-stage
    got = _rows(result)
    # no duplicates, no losses
    assert len({(r["lang"], r["id"]) for r in got}) == len(got) == len(rows)
    assert got == rows

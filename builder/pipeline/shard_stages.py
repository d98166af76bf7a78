"""The shard stages after prepare, one shard at a time: each stage's shards in the work dir,
under its fingerprint, are reused on resume and the rest are mapped now.

A model stage (`runs_on` executor) hands its unfinished shards to the executor, which maps them
wherever the build's workers are; a driver stage (rank, or any stage added to the plan) maps
them here, in Arrow, as the executors' workers do.
"""

from __future__ import annotations

from pathlib import Path

from tqdm.auto import tqdm

from ..core.workdir import StageDir, read_shard_table, shard_alive_rows
from ..executors import ShardTask
from ..stages.base import apply_stage_to_table
from ..stages.plan import EXECUTOR, Context, StageSpec, make_stage, shard_stages
from .prepare_loop import prepare
from .prepare_pool import PreparePool
from .shard_flow import AfterLanguage, flow_shard_stages


def executor_stage(
    spec: StageSpec,
    work: Path,
    langs: list[str],
    inputs: dict[str, list[Path]],
    fps: dict,
    executor,
    models,
) -> dict[str, list[Path]]:
    """Hand the shards a previous run did not finish to the executor; return every output shard."""
    tasks, outputs, total, finished = [], {}, 0, 0
    for lang in langs:
        stage = StageDir(work, lang, spec.name, fps[lang][spec.name], spec.output_features)
        stage.sweep()  # before any worker writes this stage's shards
        outputs[lang] = [stage.shard(i) for i in range(len(inputs[lang]))]
        for index, path in enumerate(inputs[lang]):
            alive = shard_alive_rows(path, spec.input_features)
            total += alive
            if stage.has(index):
                finished += alive
            else:
                tasks.append(ShardTask(spec.name, lang, fps[lang][spec.name], index, str(path)))
    with tqdm(total=total, initial=finished, desc=spec.name, unit="row") as bar:
        results = executor.run(spec.name, tasks, bar)
    models.record(results)
    missing = [str(p) for paths in outputs.values() for p in paths if not p.is_file()]
    if missing:  # an executor that returns without every shard written is a bug, not a resume point
        raise RuntimeError(
            f"{spec.name}: the {executor.name} executor finished without writing {missing[:3]}"
        )
    return outputs


def driver_stage(
    spec: StageSpec, work: Path, lang: str, inputs: list[Path], fp: str, make_stage
) -> list[Path]:
    """Map one language's shards through a driver stage (`make_stage()`: the stage object, made
    only when some shard is not in the work dir yet); one output shard per input."""
    stage = StageDir(work, lang, spec.name, fp, spec.output_features)
    made = None
    for index, path in enumerate(inputs):
        if stage.has(index):
            continue
        made = made or make_stage()
        stage.write(index, apply_stage_to_table(read_shard_table(path, spec.input_features), made))
    return [stage.shard(i) for i in range(len(inputs))]


def run_shard_stage(
    spec: StageSpec,
    work: Path,
    langs: list[str],
    inputs: dict[str, list[Path]],
    fps: dict,
    executor,
    models,
    make_stage,
) -> dict[str, list[Path]]:
    """One shard stage for every language (`make_stage(lang)`: a driver stage's object)."""
    if spec.runs_on == EXECUTOR:
        return executor_stage(spec, work, langs, inputs, fps, executor, models)
    return {
        lang: driver_stage(
            spec, work, lang, inputs[lang], fps[lang][spec.name], lambda lang=lang: make_stage(lang)
        )
        for lang in langs
    }


def run_shard_stages(
    config,
    work: Path,
    fps: dict,
    executor,
    models,
    encoder,
    step,
    spent=None,
    after_language: AfterLanguage | None = None,
) -> dict:
    """Every shard stage of the plan in order, for every language: prepare streams the corpus
    into shards, then each mapped stage maps its upstream's shards. Returns each stage's output
    shards by stage name and language; `step(name, work)` times each stage.

    Where the executor maps shards on lanes (the local executor on a remote engine), every stage
    runs as a flow (shard_flow.py): each shard moves on as soon as its upstream shard is written,
    prepare's included, so the server has work from the first prepared shard on;
    `spent(name, seconds)` gets each stage's time, and `after_language` may hand on model work
    for a language whose shards are all through (the rater's controls)."""
    langs = config.langs
    source, *mapped = shard_stages()
    counts = (models.count_tokens, models.count_tokens_many)
    for spec in mapped:  # settings errors (no seed pairs, ...) now, not inside a worker later
        for lang in langs if spec.runs_on == EXECUTOR else ():
            make_stage(spec.name, Context(config, lang, model=models.model(spec.name)))
    model_stages = [s.name for s in mapped if s.runs_on == EXECUTOR]
    # (the rater's controls run on refine's model, so on lanes whenever refine does)
    lanes = executor.lanes(model_stages) if hasattr(executor, "lanes") else 1
    with PreparePool(config.prepare_workers) as pool:  # one set of worker processes for all

        def prepared(lang: str):
            return prepare(work, config, lang, fps[lang][source.name], pool, *counts)

        if lanes > 1:  # the model stages start on the first prepared shard, not the last

            def make_driver_stage(spec: StageSpec, lang: str):
                return make_stage(spec.name, Context(config, lang, encoder=lambda: encoder))

            return flow_shard_stages(
                source.name,
                prepared,
                mapped,
                work,
                langs,
                fps,
                executor,
                models,
                make_driver_stage,
                lanes,
                after_language,
                spent,
                pool.close,
            )
        outputs = {
            source.name: step(source.name, lambda: {lang: list(prepared(lang)) for lang in langs})
        }
    upstream = source.name
    for spec in mapped:

        def make(lang: str, spec=spec):  # a driver stage's object, made only when needed
            return make_stage(spec.name, Context(config, lang, encoder=lambda: encoder))

        inputs = outputs[upstream]
        outputs[spec.name] = step(
            spec.name,
            lambda spec=spec, inputs=inputs, make=make: run_shard_stage(
                spec, work, langs, inputs, fps, executor, models, make
            ),
        )
        upstream = spec.name
    return outputs

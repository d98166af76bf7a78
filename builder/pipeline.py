"""Runs the stages in order, with shards, resume and the yield funnel (DESIGN.md §1, §5).

prepare streams the corpus into shards; generate and refine map over those shards with
`Dataset.map(batched=True)` and write a shard each; select and diversify are cheap and run on
the whole language every time. Model calls go through one request cache, so a rerun after a
kill (same command) skips finished shards, answers finished requests from the cache and ends
with the same rows as an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import time
from datetime import datetime, timezone
from pathlib import Path

import datasets
from datasets import Dataset
from tqdm.auto import tqdm

from . import __version__
from .cache import CachedModel, RequestCache
from .config import BuildConfig
from .engines import create_engine
from .engines.base import Engine, EngineStats
from .funnel import Funnel
from .prompts import template_versions
from .schema import DIVERSIFIED, GENERATED, PREPARED, PUBLISHED, REFINED
from .stages.diversify import DiversifyConfig, Embedder, diversify
from .stages.generate import Generate, GenerateConfig
from .stages.refine import Refine, RefineConfig
from .stages.select import Select, SelectConfig
from .workdir import StageDir, fingerprint, read_stage

logger = logging.getLogger(__name__)


class EmptyBuildError(RuntimeError):
    """Every row of every language was filtered out; the funnel says where."""


@dataclasses.dataclass
class BuildResult:
    languages: dict[str, Dataset]  # published rows per language
    audit: Dataset  # every row with its candidates, judgements and drop reason
    funnel: Funnel
    build_info: dict
    output_dir: Path | None = None
    push_summary: dict | None = None  # {config: "uploaded" | "unchanged"} after --push-to-hub


class Models:
    """The engines a build needs, each loaded once and shared by every language."""

    def __init__(self, config: BuildConfig, cache: RequestCache, engines: dict[str, Engine] | None = None):
        """`engines` maps a model name to an engine that is already loaded (reused instead of
        loading that model again, e.g. across several builds in one process)."""
        options = {"batch_size": config.batch_size} if config.engine != "openai" else {}
        if config.base_url:
            options["base_url"] = config.base_url
        engines = dict(engines or {})

        def load(name: str) -> Engine:
            if name not in engines:
                engines[name] = create_engine(config.engine, name, **options)
            return engines[name]

        self.engines = engines
        self.chunk = config.batch_size * 4
        self.generator = CachedModel(load(config.generator or config.model), cache, chunk_size=self.chunk)
        self.evaluator = CachedModel(load(config.evaluator or config.model), cache, chunk_size=self.chunk)
        # A preloaded engine may have served earlier builds: report only this build's work.
        self._baseline = {id(e): dataclasses.replace(e.stats) for e in engines.values()}

    def count_tokens(self, text: str) -> int:
        return self.generator.engine.count_tokens(text)

    def stats(self) -> dict:
        total = EngineStats()
        for engine in self.engines.values():
            base = self._baseline[id(engine)]
            for field in dataclasses.fields(total):
                delta = getattr(engine.stats, field.name) - getattr(base, field.name)
                setattr(total, field.name, getattr(total, field.name) + delta)
        return {**total.to_dict(), "cache_hits": self.generator.hits + (self.evaluator.hits if self.evaluator is not self.generator else 0)}


@contextlib.contextmanager
def _quiet_datasets():
    """One progress bar per stage is ours; per-shard `map` bars would bury it."""
    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if was_enabled:
            datasets.enable_progress_bars()


class Pipeline:
    def __init__(self, config: BuildConfig, engines: dict[str, Engine] | None = None):
        self.config = config
        self.work = Path(config.work_dir)
        self.work.mkdir(parents=True, exist_ok=True)
        self.cache = RequestCache(self.work / "cache.sqlite")
        self.models = Models(config, self.cache, engines)
        self.funnel = Funnel()
        self.timings: dict[str, float] = {}

    # -- settings that decide each stage's output ------------------------------------------
    def _fingerprints(self, lang: str) -> dict[str, str]:
        c = self.config
        gen = self.models.generator.identity()
        prep = fingerprint("prepare", lang, c.corpus, c.text_column, c.split, c.max_docs, c.min_tokens, c.max_tokens, gen)
        generate = fingerprint(prep, self._generate_config().__dict__, gen, c.seeds, c.generator is not None,
                               template_versions())
        refine = fingerprint(generate, self._refine_config().__dict__, self.models.evaluator.identity())
        return {"prepare": prep, "generate": generate, "refine": refine}

    def _generate_config(self) -> GenerateConfig:
        c = self.config
        return GenerateConfig(candidates=c.candidates, temperature=c.temperature, top_p=c.top_p,
                              max_new_tokens=c.max_instruction_tokens, few_shot=0 if c.generator else c.few_shot,
                              seed=c.seed)

    def _refine_config(self) -> RefineConfig:
        c = self.config
        return RefineConfig(rounds=c.rounds, accept_score=c.accept_score, refine_response=c.refine_response,
                            seed=c.seed)

    # -- stages -----------------------------------------------------------------------------
    def prepare(self, lang: str, fp: str) -> list[Path]:
        from .corpus.readers import read_corpus
        from .stages.prepare import Prepare, PrepareConfig

        stage = StageDir(self.work, lang, "prepare", fp)
        if stage.complete:
            return stage.shards()
        stage.reset()  # dedup state spans the whole corpus: a partial prepare is redone
        c = self.config
        block = Prepare(lang, PrepareConfig(min_tokens=c.min_tokens, max_tokens=c.max_tokens), self.models.count_tokens)
        rows = read_corpus(c.corpus, lang, text_column=c.text_column, split=c.split, limit=c.max_docs)
        index, buffer = 0, []
        for row in tqdm(rows, desc=f"prepare {lang}", unit="doc", leave=False):
            buffer.append(row)
            if len(buffer) == c.shard_size:
                stage.write(index, self._prepare_shard(block, buffer))
                index, buffer = index + 1, []
        if buffer or index == 0:
            stage.write(index, self._prepare_shard(block, buffer))
        stage.mark_complete()
        return stage.shards()

    @staticmethod
    def _prepare_shard(block, rows: list[dict]) -> Dataset:
        batch = {"text": [r["text"] for r in rows], "source": [r["source"] for r in rows]}
        out = block(batch) if rows else {name: [] for name in PREPARED}
        return Dataset.from_dict({name: out[name] for name in PREPARED}, features=PREPARED)

    def map_shards(self, name: str, lang: str, fp: str, inputs: list[Path], in_features, out_features, fn, bar) -> list[Path]:
        """Apply a model stage shard by shard, skipping shards a previous run finished."""
        stage = StageDir(self.work, lang, name, fp)
        for index, path in enumerate(inputs):
            shard = read_stage([path], in_features)
            if not stage.has(index):
                out = shard.map(fn, batched=True, batch_size=None, features=out_features, keep_in_memory=True,
                                new_fingerprint=f"{fp}-{index}")
                stage.write(index, out)
            bar.update(self._alive(shard))
        return [stage.shard(i) for i in range(len(inputs))]

    @staticmethod
    def _alive(dataset: Dataset) -> int:
        return sum(1 for d in dataset["dropped"] if d is None)

    def _seeds(self, lang: str) -> list[dict]:
        if self.config.generator or self.config.few_shot == 0:
            return []
        from .corpus.readers import read_seeds

        return read_seeds(self.config.seeds, lang)

    # -- the whole build --------------------------------------------------------------------
    def run(self) -> BuildResult:
        with _quiet_datasets():
            return self._run()

    def _timed(self, stage: str, start: float) -> None:
        self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - start

    def _run(self) -> BuildResult:
        c = self.config
        fps = {lang: self._fingerprints(lang) for lang in c.langs}
        start = time.perf_counter()
        prepared = {lang: self.prepare(lang, fps[lang]["prepare"]) for lang in c.langs}
        self._timed("prepare", start)

        tables: dict[str, Dataset] = {}
        for lang in c.langs:
            tables[lang] = read_stage(prepared[lang], PREPARED)
            self.funnel.record(lang, "prepare", [None] * len(tables[lang]), tables[lang]["dropped"])

        generated = self._model_stage("generate", prepared, fps, PREPARED, GENERATED, self._generate_block)
        refined = self._model_stage("refine", generated, fps, GENERATED, REFINED, self._refine_block)
        for lang in c.langs:
            before = tables[lang]["dropped"]
            tables[lang] = read_stage(generated[lang], GENERATED)
            self.funnel.record(lang, "generate", before, tables[lang]["dropped"])
            before = tables[lang]["dropped"]
            tables[lang] = read_stage(refined[lang], REFINED)
            self.funnel.record(lang, "refine", before, tables[lang]["dropped"])

        start = time.perf_counter()
        for lang in c.langs:
            before = tables[lang]["dropped"]
            tables[lang] = tables[lang].map(Select(lang, SelectConfig(accept_score=c.accept_score)), batched=True,
                                            keep_in_memory=True, new_fingerprint=f"select-{fps[lang]['refine']}")
            self.funnel.record(lang, "select", before, tables[lang]["dropped"])
        self._timed("select", start)

        start = time.perf_counter()
        tables = self._diversify(tables)
        self._timed("diversify", start)
        return self._finish(tables)

    def _generate_block(self, lang: str):
        return Generate(lang, self.models.generator, self._generate_config(), self._seeds(lang),
                        fine_tuned=self.config.generator is not None)

    def _refine_block(self, lang: str):
        return Refine(lang, self.models.evaluator, self._refine_config())

    def _model_stage(self, name, inputs, fps, in_features, out_features, make_block) -> dict[str, list[Path]]:
        start = time.perf_counter()
        total = sum(self._alive(read_stage(inputs[lang], in_features)) for lang in self.config.langs)
        outputs = {}
        with tqdm(total=total, desc=name, unit="row") as bar:
            for lang in self.config.langs:
                bar.set_postfix_str(lang)
                outputs[lang] = self.map_shards(name, lang, fps[lang][name], inputs[lang], in_features,
                                                out_features, make_block(lang), bar)
        self._timed(name, start)
        return outputs

    def _diversify(self, tables: dict[str, Dataset]) -> dict[str, Dataset]:
        c = self.config
        embedder = None
        out = {}
        for lang in tqdm(c.langs, desc="diversify", unit="lang"):
            table = tables[lang]
            alive = [i for i, d in enumerate(table["dropped"]) if d is None]
            clusters = [-1] * len(table)
            dropped = list(table["dropped"])
            if alive:
                embedder = embedder or Embedder(c.embedder)
                labels, kept = diversify([table["instruction"][i] for i in alive], [table["score"][i] for i in alive],
                                         DiversifyConfig(target_size=c.target_size, embedder=c.embedder, seed=c.seed),
                                         embedder)
                for i, label, keep in zip(alive, labels, kept):
                    clusters[i] = label
                    if not keep:
                        dropped[i] = "cluster_duplicate"
            before = table["dropped"]
            table = table.remove_columns(["dropped"]).add_column("dropped", dropped).add_column("cluster", clusters)
            out[lang] = table.cast(DIVERSIFIED)
            self.funnel.record(lang, "diversify", before, dropped)
        return out

    # -- output -----------------------------------------------------------------------------
    def _meta(self) -> dict:
        c = self.config
        gen, ev = self.models.generator.identity(), self.models.evaluator.identity()
        sampling = {"generate": self._generate_config().sampling().to_dict(),
                    "refine": dataclasses.asdict(self._refine_config())}
        return {"generator_model": gen["model"], "generator_revision": gen["revision"], "evaluator_model": ev["model"],
                "engine": gen["engine"], "sampling": json.dumps(sampling, sort_keys=True),
                "prompts": json.dumps(template_versions(), sort_keys=True), "builder_version": __version__}

    def _finish(self, tables: dict[str, Dataset]) -> BuildResult:
        c = self.config
        meta = self._meta()
        published = {}
        for lang, table in tables.items():
            rows = table.filter(lambda d: d is None, input_columns="dropped", keep_in_memory=True)
            rows = rows.sort("id")  # a stable order, whatever order shards finished in
            published[lang] = Dataset.from_dict(
                {**{k: rows[k] for k in PUBLISHED if k != "meta"}, "meta": [meta] * len(rows)}, features=PUBLISHED)
        audit = datasets.concatenate_datasets(list(tables.values())) if tables else Dataset.from_dict({})
        gen = self.models.generator.identity()
        info = {
            "builder_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "settings": {**{k: v for k, v in c.to_dict().items() if k not in ("work_dir", "output_dir", "dry_run")},
                         "model": gen["model"], "model_revision": gen["revision"], "engine": gen["engine"],
                         "evaluator_model": self.models.evaluator.identity()["model"],
                         "sampling": json.loads(meta["sampling"]), "prompts": template_versions()},
            "funnel": self.funnel.to_dict(),
            "engine_stats": self.models.stats(),
            "timings": {k: round(v, 2) for k, v in self.timings.items()},
        }
        return BuildResult(published, audit, self.funnel, info)


def split_heldout(dataset: Dataset, n: int) -> dict[str, Dataset]:
    """train, plus a `test` split of n rows chosen by id (stable across reruns)."""
    if n <= 0 or len(dataset) <= n:
        return {"train": dataset}
    order = sorted(range(len(dataset)), key=lambda i: fingerprint("heldout", dataset[i]["id"]))
    test = sorted(order[:n])
    train = sorted(order[n:])
    return {"train": dataset.select(train), "test": dataset.select(test)}


def build(config: BuildConfig, engines: dict[str, Engine] | None = None) -> BuildResult:
    """Run the pipeline, write the Hub layout to `config.output_dir`, push when asked."""
    result = Pipeline(config, engines).run()
    if not any(len(d) for d in result.languages.values()):
        raise EmptyBuildError(
            "every row was filtered out; nothing to publish. Funnel:\n" + result.funnel.table()
            + "\nLower --accept-score, use a stronger --model, or check the corpus language and --text-column."
        )
    from .hub import export_local

    configs = {lang: split_heldout(ds, config.heldout) for lang, ds in result.languages.items()}
    configs["candidates"] = {"train": result.audit}
    result.output_dir = export_local(config.output_dir, configs, result.build_info)
    if config.push_to_hub:
        from .hub import push

        result.push_summary = push(result.output_dir, config.push_to_hub, private=config.private)
    return result

"""Runs the stages in order, with shards, resume and the yield funnel.

prepare streams the corpus into shards; generate and refine map over those shards with
`Dataset.map(batched=True)` and write a shard each; relevance, select and diversify run on the
whole language, one language at a time, and their result is kept (builder/pipeline/final_stage.py),
so a rerun whose refine shards and settings are unchanged reads it back. From there to the
export, memory holds one language's table at a time (the audit config is written per language).
Model calls go through one request cache, so a rerun after a kill (same command) skips finished
shards, answers finished requests from the cache and ends with the same rows as an
uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import time
from datetime import datetime, timezone
from pathlib import Path

from datasets import Dataset
from tqdm.auto import tqdm

from .. import __version__
from ..config import BuildConfig
from ..engines import create_engine
from ..engines.base import Engine, EngineStats
from ..engines.cache import CachedModel, RequestCache
from ..executors import ShardResult, ShardTask, distributed, make_executor
from ..executors.shards import engine_options
from ..progress import quiet_datasets_bars
from ..prompts import template_versions
from ..publish.export import Parts
from ..publish.messages import messages_column
from ..publish.provenance import public_rows, public_settings
from ..quality.relevance import CachedEncoder
from ..redact import redact_url
from ..stages.base import apply_stage
from ..stages.diversify import Diversify, Embedder
from ..stages.relevance import pool_hash, rank_shards, reference_pools
from ..stages.schema import GENERATED, MISMATCHED, MISMATCHED_SCORED, PREPARED, PUBLISHED, REFINED
from ..stages.select import Select
from .final_stage import FinalStage, final_fingerprint
from .funnel import Funnel
from .prepare_pool import PreparePool
from .stage_configs import (
    borrowed_seed_languages,
    diversify_config,
    final_settings,
    generate_config,
    make_block,
    prepare_config,
    refine_config,
    select_config,
    stage_fingerprints,
    stage_model,
)
from .workdir import (
    StageDir,
    fingerprint,
    read_columns,
    read_dropped,
    read_shard,
    read_stage,
    recorded_checksums,
    shard_alive_rows,
)

logger = logging.getLogger(__name__)

WORK_BUILD_INFO = "build_info.json"  # the unredacted build info, kept in the work dir
# Ids of pairs kept below the seeds' floor (--relevance-floor flag) listed per language in the
# quality report, so that a user can drop them from the export; a build that flags more is not a demo.
MAX_FLAGGED_IDS = 1000


class EmptyBuildError(RuntimeError):
    """Every row of every language was filtered out; the funnel says where."""

    def __init__(self, message: str, funnel: Funnel | None = None):
        super().__init__(message)
        self.funnel = funnel  # so a caller can explain one language (builder/x_instruction.py)


@dataclasses.dataclass
class BuildResult:
    languages: dict[str, Dataset]  # published rows per language
    audit: Parts  # every row with its candidates, judgements and drop reason, one part per language
    funnel: Funnel
    build_info: dict
    output_dir: Path | None = None
    push_summary: dict | None = None  # {config: "uploaded" | "unchanged"} after --push-to-hub


class Models:
    """The engines a build needs, each loaded once and shared by every language, and what they
    cost: the executor's `ShardResult`s plus the driver's own calls through these engines.

    With a distributed executor the workers load the models, and the driver's engines are
    stand-ins with the same identity and tokenizer (`load_weights=False`)."""

    def __init__(self, config: BuildConfig, cache: RequestCache, engines: dict[str, Engine] | None = None):
        """`engines` maps a model name to an engine that is already loaded (reused instead of
        loading that model again, e.g. across several builds in one process)."""
        options = engine_options(config)
        load_weights = not distributed(config)
        engines = dict(engines or {})

        def load(name: str) -> Engine:
            if name not in engines:
                engines[name] = create_engine(config.engine, name, load_weights=load_weights, **options)
            return engines[name]

        self.engines = engines
        self.cache = cache
        chunk = config.batch_size * 4
        # The driver's own calls (a preloaded engine may have served earlier builds: counting
        # through these, not the engines' totals, reports only this build's work).
        self.generator = CachedModel(load(stage_model(config, "generate")), cache, chunk_size=chunk)
        self.evaluator = CachedModel(load(stage_model(config, "refine")), cache, chunk_size=chunk)
        # Before any request: prepare bounds texts in the generator's tokens, and an engine on a
        # server must first find a way to count them (None: the engine holds its tokenizer).
        self.token_counts = self.generator.engine.prepare_token_counts(config.tokenizer)
        self.shard_stats = EngineStats()  # what the executor's shards cost, wherever they ran
        self.shard_hits = 0
        self.shard_nodes: dict[str, int] = {}  # Ray node id -> shards it mapped (empty outside Ray)

    def engine(self, stage: str) -> Engine:
        """The driver's engine of a model stage (the local executor runs the stage on it)."""
        return (self.generator if stage == "generate" else self.evaluator).engine

    def count_tokens(self, text: str) -> int:
        return self.generator.engine.count_tokens(text)

    def count_tokens_many(self, texts: list[str]) -> list[int]:
        return self.generator.engine.count_tokens_many(texts)

    def record(self, results: list[ShardResult]) -> None:
        self.shard_stats += sum((r.stats for r in results), EngineStats())
        self.shard_hits += sum(r.cache_hits for r in results)
        for r in results:
            if r.node:
                self.shard_nodes[r.node] = self.shard_nodes.get(r.node, 0) + 1

    def stats(self) -> dict:
        total = self.generator.stats + self.evaluator.stats + self.shard_stats
        return {**total.to_dict(), "cache_hits": self.generator.hits + self.evaluator.hits + self.shard_hits}


class Pipeline:
    def __init__(self, config: BuildConfig, engines: dict[str, Engine] | None = None, executor=None):
        """`executor` replaces the one `config` asks for (tests inject a Ray worker that crashes)."""
        from ..corpus.by_language import check_not_all_empty
        from ..corpus.readers import check_corpus

        # A language with nothing to read fails here, in seconds, before any model loads.
        check_not_all_empty(check_corpus(config.corpus, config.langs, text_column=config.text_column,
                                         lang_column=config.lang_column))
        self.config = config
        self.work = Path(config.work_dir)
        self.work.mkdir(parents=True, exist_ok=True)
        self.cache = RequestCache(self.work / "cache.sqlite")
        self.models = Models(config, self.cache, engines)
        self.executor = executor
        self.funnel = Funnel()
        self.timings: dict[str, float] = {}
        self.quality: dict[str, dict] = {}  # per language: the relevance gate's (and rater's) AUC
        self.pools: dict[str, list[str]] = {}  # per language: the relevance gate's pool of other instructions
        self.strength: dict[str, float | None] = {}  # the language in hand: each row's relevance strength
        # Embeddings for ranking candidates and for relevance, kept in the work dir (builder/quality/relevance.py).
        self.encoder = CachedEncoder(config.relevance_encoder, self.work / "embeddings.sqlite")
        self.diversified = 0  # rows diversify clustered in this process (not read back from the work dir)
        self._embedder: Embedder | None = None  # diversify's, loaded when a language first needs it

    # -- settings that decide each stage's output ------------------------------------------
    def _fingerprints(self, lang: str) -> dict[str, str]:
        return stage_fingerprints(self.config, lang, self.models.generator.identity(),
                                  self.models.evaluator.identity(), self.models.token_counts)

    # -- stages -----------------------------------------------------------------------------
    def prepare(self, lang: str, fp: str, pool: PreparePool) -> list[Path]:
        from ..corpus.readers import read_corpus
        from ..stages.prepare import Prepare

        stage = StageDir(self.work, lang, "prepare", fp)
        if stage.complete and stage.intact():
            return stage.shards()
        stage.reset()  # dedup state spans the whole corpus: a partial (or damaged) prepare is redone
        c = self.config
        block = Prepare(lang, prepare_config(c), self.models.count_tokens, self.models.count_tokens_many)
        rows = read_corpus(c.corpus, lang, text_column=c.text_column, lang_column=c.lang_column, split=c.split,
                           limit=c.max_docs)
        with tqdm(desc=f"prepare {lang}", unit="doc", leave=False) as bar:
            for index, (shard, checks) in enumerate(pool.checked(_shards(rows, c.shard_size), lang, block.config)):
                stage.write(index, self._prepare_shard(block, shard, checks))
                bar.update(len(shard))
        stage.mark_complete()
        return stage.shards()

    @staticmethod
    def _prepare_shard(block, rows: list[dict], checks):
        # Called directly, not through `map`: its dedup state spans the shards of a streamed corpus.
        # An Arrow table, not a Dataset: a Dataset fingerprints its table by pickling it whole.
        from ..stages.prepare import prepare_table

        batch = {"text": [r["text"] for r in rows], "source": [r["source"] for r in rows]}
        return prepare_table(block(batch, checks) if rows else {name: [] for name in block.output_features})

    # -- the whole build --------------------------------------------------------------------
    def run(self) -> BuildResult:
        with quiet_datasets_bars():  # one bar per stage is ours
            if self.executor is None:
                self.executor = make_executor(self.config, self.models)
            try:
                return self._run()
            finally:
                self.executor.close()
                self.cache.close()  # checkpoints SQLite's WAL into cache.sqlite
                self.encoder.close()  # and embeddings.sqlite's

    def _timed(self, stage: str, start: float) -> None:
        self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - start

    def _run(self) -> BuildResult:
        c = self.config
        fps = {lang: self._fingerprints(lang) for lang in c.langs}
        if not all(StageDir(self.work, lang, "relevance", fps[lang]["relevance"]).complete for lang in c.langs):
            self.encoder.load()  # a bad --relevance-encoder fails now, not after generate
        start = time.perf_counter()
        with PreparePool(c.prepare_workers) as pool:  # one set of worker processes for every language
            prepared = {lang: self.prepare(lang, fps[lang]["prepare"], pool) for lang in c.langs}
        self._timed("prepare", start)

        for lang in c.langs:  # settings errors (no seed pairs, ...) now, not inside a worker later
            make_block(c, "generate", lang, self.models.generator)
        generated = self._model_stage("generate", prepared, fps, PREPARED)
        start = time.perf_counter()
        ranked = {lang: rank_shards(generated[lang], self.work, lang, fps[lang]["rank"], self.encoder)
                  for lang in c.langs}
        self._timed("relevance", start)
        refined = self._model_stage("refine", ranked, fps, GENERATED)
        # Each language's pairs are also compared with the seeds' and the other languages'
        # instructions (builder/stages/relevance.py: reference_pools).
        self.pools = reference_pools({lang: _kept_instructions(refined[lang]) for lang in c.langs})
        finals = {lang: FinalStage(self.work, lang, self._final_fp(refined[lang], fps[lang], self.pools[lang]))
                  for lang in c.langs}
        ready = {lang: final.ready() for lang, final in finals.items()}
        start = time.perf_counter()
        rater = self._rater_controls([lang for lang in c.langs if not ready[lang]], refined, fps)
        self._timed("rater_controls", start)
        # One language at a time from here on, each saved and released before the next: what is
        # in memory is one language's table, not every language's (builder/pipeline/final_stage.py).
        for lang in tqdm(c.langs, desc="relevance, select, diversify", unit="lang"):
            if ready[lang]:  # an unchanged rerun: the funnel and reports as saved
                start = time.perf_counter()
                funnel, self.quality[lang] = finals[lang].report()
                self.funnel.restore(lang, funnel)
                self._timed("final (read back)", start)
                continue
            table = self._final_table(lang, prepared[lang], generated[lang], refined[lang], fps[lang], rater[lang])
            finals[lang].save(table, self.funnel.to_dict()[lang], self.quality.get(lang, {}))
            del table
        return self._finish(finals)

    def _final_table(self, lang: str, prepared: list[Path], generated: list[Path], refined: list[Path],
                     fps: dict, rater: dict) -> Dataset:
        """One language's rows through relevance, select and diversify, with its funnel and
        quality reports (`rater`: the rater's controls) recorded on the way."""
        c = self.config
        # Only the `dropped` column of the earlier stages; columns as lists (a slice): iterating
        # a lazy column formats it row by row.
        dropped = read_dropped(prepared, PREPARED)
        self.funnel.record(lang, "prepare", [None] * len(dropped), dropped)
        after = read_dropped(generated, GENERATED)
        self.funnel.record(lang, "generate", dropped, after)
        table = read_stage(refined, REFINED)
        self.funnel.record(lang, "refine", after, table["dropped"][:])

        start = time.perf_counter()
        table = self._relevance(lang, table, fps)
        self._timed("relevance", start)
        self.quality.setdefault(lang, {})["rater"] = rater

        start = time.perf_counter()
        before = table["dropped"][:]
        report = self.quality[lang]["relevance"]
        select = Select(lang, select_config(c, report.get("floor")), self.strength)
        table = apply_stage(table, select, fingerprint("select", fps["refine"], dataclasses.asdict(select.config),
                                                       report.get("pool_hash")))
        table = self._meta_talk(lang, table)  # its drops count as select's: select is what decides publishing
        self.funnel.record(lang, "select", before, table["dropped"][:])
        self._timed("select", start)

        start = time.perf_counter()
        table = self._diversify(lang, table, fps)
        self._timed("diversify", start)
        if report.get("floor") is not None:  # how many pairs the seeds' floor dropped, or published flagged
            after = table["dropped"][:]
            flagged = [i for i, d in zip(table["id"][:], after) if d is None and select.below_floor(self.strength.get(i))]
            report["below_floor"] = {"mode": select.config.floor_mode, "kept": len(flagged),
                                     "dropped": sum(d == "below_seed_floor" for d in after),
                                     "kept_ids": flagged[:MAX_FLAGGED_IDS]}
        return table

    def _final_fp(self, refined: list[Path], fps: dict, pool: list[str]) -> str:
        """What decides a language's last table (builder/pipeline/final_stage.py): the refine shards and
        the settings of relevance (its pool of other instructions included), the rater's controls,
        select and diversify."""
        from ..quality.meta_talk import gate_settings
        from ..quality.rater import CONTROLS_VERSION

        return final_fingerprint(refined, fps["refine"], fps["relevance"], pool_hash(pool), *final_settings(self.config),
                                 CONTROLS_VERSION, gate_settings(self.config.relevance_encoder))

    def _model_stage(self, name, inputs, fps, in_features) -> dict[str, list[Path]]:
        """Hand the shards a previous run did not finish to the executor; return every output shard."""
        start = time.perf_counter()
        tasks, outputs, total, finished = [], {}, 0, 0
        for lang in self.config.langs:
            stage = StageDir(self.work, lang, name, fps[lang][name])
            stage.sweep()  # before any worker writes this stage's shards
            outputs[lang] = [stage.shard(i) for i in range(len(inputs[lang]))]
            for index, path in enumerate(inputs[lang]):
                alive = shard_alive_rows(path, in_features)
                total += alive
                if stage.has(index):
                    finished += alive
                else:
                    tasks.append(ShardTask(name, lang, fps[lang][name], index, str(path)))
        with tqdm(total=total, initial=finished, desc=name, unit="row") as bar:
            results = self.executor.run(name, tasks, bar)
        self.models.record(results)
        missing = [str(p) for paths in outputs.values() for p in paths if not p.is_file()]
        if missing:  # an executor that returns without every shard written is a bug, not a resume point
            raise RuntimeError(f"{name}: the {self.executor.name} executor finished without writing {missing[:3]}")
        self._timed(name, start)
        return outputs

    def _relevance(self, lang: str, table: Dataset, fps: dict) -> Dataset:
        """Each pair's relevance (builder/stages/relevance.py), read back from the work dir on a rerun."""
        from ..stages.relevance import add_relevance

        table, self.quality.setdefault(lang, {})["relevance"], self.strength = add_relevance(
            table, self.work, lang, fps["relevance"], lambda: self.encoder, self.config.seed, self.pools[lang])
        return table

    def _meta_talk(self, lang: str, table: Dataset) -> Dataset:
        """Chat-model talk the phrase rule missed, among the pairs select kept: the multilingual
        detector (builder/quality/meta_talk.py), on the relevance encoder's embedding store."""
        from ..quality.meta_talk import ENCODER, MetaTalkGate, gate_settings

        if self.config.relevance_encoder != ENCODER:  # its threshold holds for that encoder only
            self.quality.setdefault(lang, {})["meta_talk"] = {
                "note": f"not checked: calibrated on {ENCODER}, not {self.config.relevance_encoder}"}
            return table
        gate = MetaTalkGate(lambda: self.encoder)
        table = apply_stage(table, gate, fingerprint(table._fingerprint, *gate_settings(ENCODER)))
        self.quality.setdefault(lang, {})["meta_talk"] = gate.report
        return table

    def _rater_controls(self, langs: list[str], refined: dict[str, list[Path]], fps: dict) -> dict[str, dict]:
        """The rater's negative controls (builder/quality/rater.py) of `langs`: the driver picks
        each language's mismatched pairs and writes them as a shard, and the executor scores every
        language's shard in one stage, `rater_controls`, wherever the rater runs (a distributed
        driver holds no weights). Kept in the work dir, and through the request cache."""
        from ..quality.rater import CONTROL_PAIRS, control_pairs, controls_report

        matched, stages, tasks, pairs = {}, {}, [], 0
        for lang in langs:
            # The four columns the controls read, not the language's whole table.
            table = read_columns(refined[lang], REFINED, ("dropped", "judgements", "instruction", "output"))
            matched[lang], mismatched = control_pairs(table, self.config.seed)
            if not mismatched["text"]:  # fewer than 2 kept rows: nothing to score, no worker to start
                stages[lang] = None
                continue
            fp = fingerprint(fps[lang]["refine"], "rater_controls", recorded_checksums(refined[lang]), CONTROL_PAIRS,
                             self.config.seed)
            stages[lang] = StageDir(self.work, lang, "rater_controls", fp)
            if stages[lang].has(0):
                continue
            source = StageDir(self.work, lang, "rater_pairs", fp).write(
                0, Dataset.from_dict(mismatched, features=MISMATCHED))
            tasks.append(ShardTask("rater_controls", lang, fp, 0, str(source)))
            pairs += len(mismatched["text"])
        if tasks:
            with tqdm(total=pairs, desc="rater controls", unit="pair") as bar:
                self.models.record(self.executor.run("rater_controls", tasks, bar))
        return {lang: controls_report(matched[lang], [] if stages[lang] is None else
                                      read_shard(stages[lang].shard(0), MISMATCHED_SCORED)["score"][:])
                for lang in langs}

    def _diversify(self, lang: str, table: Dataset, fps: dict) -> Dataset:
        c = self.config

        def load_embedder() -> Embedder:  # loaded once, and only when some language's inputs are new
            self._embedder = self._embedder or Embedder(c.embedder)
            return self._embedder

        # Columns as lists (a slice): iterating a lazy column formats it row by row.
        before = table["dropped"][:]
        stage = Diversify(lang, diversify_config(c), self.work, c.embedder, load_embedder)
        key = fingerprint(fps["relevance"], "diversify", *final_settings(c))
        table = apply_stage(table, stage, key)
        self.diversified += stage.clustered
        self.funnel.record(lang, "diversify", before, table["dropped"][:])
        return table

    # -- output -----------------------------------------------------------------------------
    def _meta(self) -> dict:
        c = self.config
        gen, ev = self.models.generator.identity(), self.models.evaluator.identity()
        sampling = {"generate": generate_config(c).sampling().to_dict(),
                    "refine": dataclasses.asdict(refine_config(c))}
        return {"generator_model": gen["model"], "generator_revision": gen["revision"], "evaluator_model": ev["model"],
                "engine": gen["engine"], "sampling": json.dumps(sampling, sort_keys=True),
                "prompts": json.dumps(template_versions(), sort_keys=True), "builder_version": __version__}

    def _finish(self, finals: dict[str, FinalStage]) -> BuildResult:
        c = self.config
        meta = self._meta()
        published = {}
        for lang, final in finals.items():  # one language's whole table in memory at a time
            published[lang] = public_rows(_published_rows(final.table(), meta))
        # The audit config (every row, candidates and judgements included) is the biggest table:
        # the export reads and writes it one language at a time (builder/publish/export.py).
        audit = Parts(tuple(functools.partial(_audit_part, final) for final in finals.values()),
                      sum(final.num_rows() for final in finals.values()))
        gen = self.models.generator.identity()
        local_only = ("work_dir", "output_dir", "dry_run", "overwrite",  # where and how, not what was built
                      "project_kept", "project_tokens_per_s", "pipeline_requests_per_s")
        settings = {**{k: v for k, v in c.to_dict().items() if k not in local_only},
                    "model": gen["model"], "model_revision": gen["revision"], "engine": gen["engine"],
                    "evaluator_model": self.models.evaluator.identity()["model"],
                    "sampling": json.loads(meta["sampling"]), "prompts": template_versions()}
        info = {
            "builder_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "settings": {**settings, "base_url": redact_url(settings.get("base_url"))},
            "funnel": self.funnel.to_dict(),
            "engine_stats": self.models.stats(),
            "timings": {k: round(v, 2) for k, v in self.timings.items()},
            "quality": self.quality,
            "relevance_encoder": {"name": c.relevance_encoder, "texts_embedded": self.encoder.encoded},
            "diversify": {"embedder": c.embedder, "texts_embedded": self.diversified},
            # Languages whose few-shot examples came from other languages' seeds, and from which.
            "seeds_borrowed": {lang: donors for lang in c.langs if (donors := borrowed_seed_languages(c, lang))},
        }
        if self.models.shard_nodes:  # where a Ray build's shards ran, and the nodes it lost on the way
            info["ray"] = {"shards_per_node": self.models.shard_nodes, **getattr(self.executor, "report", {})}
        # The exact provenance (absolute corpus and model paths) stays in the work dir; what is
        # published names local files relative to where the build ran (builder/publish/provenance.py).
        text = json.dumps(info, indent=2, sort_keys=True, ensure_ascii=False, default=str)
        (self.work / WORK_BUILD_INFO).write_text(text + "\n", encoding="utf-8")
        info = {**info, "settings": public_settings(info["settings"])}
        return BuildResult(published, audit, self.funnel, info)


def _no_rows(config: BuildConfig) -> ValueError:
    """The corpus gave no row to any language (a file of blank lines; an empty one is refused
    before any model loads, by check_corpus): bad input."""
    from ..corpus.errors import no_rows
    from ..corpus.readers import corpus_files_read

    where = []
    for lang in config.langs:
        files = [path for path, *_ in corpus_files_read(config.corpus, lang, lang_column=config.lang_column)]
        where.append(f"{lang} in {', '.join(files) or config.corpus}")
    return no_rows(where)


def _kept_instructions(refined: list[Path]) -> list[str]:
    """The instructions of the rows refine kept, from its shards' two columns (verified)."""
    columns = read_columns(refined, REFINED, ("instruction", "dropped"))
    return [q for q, d in zip(columns["instruction"], columns["dropped"]) if q and d is None]


def _audit_part(final: FinalStage) -> Dataset:
    return public_rows(final.table())


def _shards(rows, size: int):
    """`rows` in lists of `size`; one empty list for no rows (prepare writes an empty shard then)."""
    shard, any_yielded = [], False
    for row in rows:
        shard.append(row)
        if len(shard) == size:
            yield shard
            shard, any_yielded = [], True
    if shard or not any_yielded:
        yield shard


def _published_rows(table: Dataset, meta: dict) -> Dataset:
    """The rows no stage dropped, sorted by id (a stable order, whatever order shards finished
    in), with PUBLISHED's columns, `meta` on every row and the pair as `messages`. In Arrow: row
    by row in Python this is a cost that grows with every published row (`messages` is built
    from plain lists: 1.6 s per 100k rows)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    data = table.with_format("arrow")[:]  # the rows as they stand (an indices mapping applied)
    data = data.filter(pc.is_null(data["dropped"]))
    data = data.take(pc.sort_indices(data, sort_keys=[("id", "ascending")]))
    schema = PUBLISHED.arrow_schema
    made = {"meta": pa.array([meta] * data.num_rows, type=schema.field("meta").type),
            "messages": messages_column(*(data[k].to_pylist() for k in ("instruction", "output", "lang")))}
    columns = [made[k] if k in made else data[k].cast(schema.field(k).type) for k in PUBLISHED]
    # A fingerprint from the input's: without one, `Dataset()` hashes every row.
    return Dataset(pa.Table.from_arrays(columns, schema=schema),
                   fingerprint=fingerprint(table._fingerprint, "published", meta))


def split_heldout(dataset: Dataset, n: int) -> dict[str, Dataset]:
    """train, plus a `test` split of n rows chosen by id (stable across reruns).

    A language with n rows or fewer keeps them all in train and gets no test split: holding
    them all out would leave an empty train split, which `datasets` cannot load.
    """
    if n <= 0 or len(dataset) <= n:
        if n > 0 and len(dataset):
            lang = dataset[0]["lang"] if "lang" in dataset.column_names else "this language"
            logger.warning("--heldout %d: %s has only %d rows; all stay in train and it has no test split",
                           n, lang, len(dataset))
        return {"train": dataset}
    order = sorted(range(len(dataset)), key=lambda i: fingerprint("heldout", dataset[i]["id"]))
    test = sorted(order[:n])
    train = sorted(order[n:])
    return {"train": dataset.select(train), "test": dataset.select(test)}


def build(config: BuildConfig, engines: dict[str, Engine] | None = None) -> BuildResult:
    """Run the pipeline, write the Hub layout to `config.output_dir`, push when asked."""
    from .lock import hold_work_dir
    from .preflight import check_build_start

    # folders (an output dir holding files no export wrote included), Hub repo and token,
    # packages: before any model loads, not after hours of model time
    check_build_start(config)
    with hold_work_dir(config.work_dir):  # one build per work dir, until its export is written
        return _run_and_export(config, engines)


def _run_and_export(config: BuildConfig, engines: dict[str, Engine] | None) -> BuildResult:
    from ..quality.rater import check_rater
    from .preflight import AUDIT_CONFIG

    result = Pipeline(config, engines).run()
    check_rater(result.build_info["quality"], config.min_rater_auc)
    if not any(result.funnel.rows_in.get(lang) for lang in config.langs):
        raise _no_rows(config)  # not the filters' doing: their advice would mislead
    if not any(len(d) for d in result.languages.values()):
        raise EmptyBuildError(
            "every row was filtered out; nothing to publish. Funnel:\n" + result.funnel.table()
            + "\nLower --accept-score, use a stronger --model, or check the corpus language and --text-column.",
            result.funnel,
        )
    from ..publish.export import export_local

    configs = {lang: split_heldout(ds, config.heldout) for lang, ds in result.languages.items()}
    configs[AUDIT_CONFIG] = {"train": result.audit}
    result.output_dir = export_local(config.output_dir, configs, result.build_info, overwrite=config.overwrite)
    if config.push_to_hub:
        from ..publish.push import push

        result.push_summary = push(result.output_dir, config.push_to_hub, private=config.private)
    return result

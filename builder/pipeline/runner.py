"""The build, top to bottom: the stages of builder/stages/plan.py in order, with resume and the funnel.

prepare streams the corpus into shards (prepare_loop.py); the other shard stages map those
shards, in the executor or in the driver (shard_stages.py); the language stages (relevance, the
rater's controls, select, diversify) then run one language at a time, and their result is kept,
so a rerun whose shards and settings are unchanged reads it back (language_stages.py). From
there to the export, memory holds one language's table at a time. Model calls go through one
request cache, so a rerun after a kill (same command) skips finished shards, answers finished
requests from the cache and ends with the same rows as an uninterrupted run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from ..config import BuildConfig
from ..core.funnel import Funnel
from ..core.workdir import StageDir, StoredOutput
from ..corpus.by_language import check_not_all_empty
from ..corpus.readers import check_corpus
from ..engines.base import Engine
from ..engines.cache import RequestCache
from ..executors import make_executor
from ..progress import quiet_datasets_bars
from ..publish.export import export_local
from ..publish.push import push
from ..publish.rows import split_heldout
from ..quality.rater import check_rater
from ..quality.relevance import CachedEncoder
from ..stages import plan
from .build_info import build_info, row_meta
from .language_stages import LanguageStages
from .loaded_models import Models
from .lock import hold_work_dir
from .preflight import AUDIT_CONFIG, check_build_start
from .results import (  # noqa: F401 (EmptyBuildError: for callers, which catch it)
    BuildResult,
    EmptyBuildError,
    check_not_empty,
    published_and_audit,
)
from .shard_stages import run_shard_stages

# on_stage(name, engine stats before, engine stats after, seconds): called after each step the runner times
StageHook = Callable[[str, dict, dict, float], None]


class Pipeline:
    def __init__(
        self,
        config: BuildConfig,
        engines: dict[str, Engine] | None = None,
        executor=None,
        on_stage: StageHook | None = None,
    ):
        """`executor` replaces the one `config` asks for (tests inject a Ray worker that crashes);
        `on_stage` sees what each step cost (the --dry-run pilot measures the rater's controls apart)."""
        # A language with nothing to read fails here, in seconds, before any model loads.
        c = config
        check_not_all_empty(
            check_corpus(c.corpus, c.langs, text_column=c.text_column, lang_column=c.lang_column)
        )
        self.config = config
        self.work = Path(config.work_dir)
        self.work.mkdir(parents=True, exist_ok=True)
        self.cache = RequestCache(self.work / "cache.sqlite")
        self.models = Models(config, self.cache, engines)
        self.executor = executor
        self.on_stage = on_stage
        self.funnel = Funnel(plan.funnel_stages())
        self.timings: dict[str, float] = {}
        self.quality: dict[str, dict] = {}  # per language: the relevance gate's (and rater's) AUC
        # Embeddings for ranking candidates and for relevance, kept in the work dir (builder/quality/relevance.py).
        self.encoder = CachedEncoder(config.relevance_encoder, self.work / "embeddings.sqlite")

    def fingerprints(self, lang: str) -> dict[str, str]:
        """The work-dir key of each chained stage of the plan, for one language."""
        m = self.models
        return plan.stage_fingerprints(
            self.config, lang, m.generator.identity(), m.evaluator.identity(), m.token_counts
        )

    def run(self) -> BuildResult:
        with quiet_datasets_bars():  # one bar per stage is ours
            if self.executor is None:
                self.executor = make_executor(self.config, self.models)
            self.stages = LanguageStages(
                self.config, self.work, self.encoder, self.executor, self.models, self.timings
            )
            try:
                return self._run()
            finally:
                self.executor.close()
                self.cache.close()  # checkpoints SQLite's WAL into cache.sqlite
                self.encoder.close()  # and embeddings.sqlite's

    def _step(self, name: str, work: Callable):
        """`work()`, timed under `name`, its cost shown to `on_stage`."""
        before, start = self.models.stats(), time.perf_counter()
        out = work()
        seconds = time.perf_counter() - start
        self.timings[name] = self.timings.get(name, 0.0) + seconds
        if self.on_stage:
            self.on_stage(name, before, self.models.stats(), seconds)
        return out

    def _spent(self, name: str, seconds: float) -> None:
        """A step's time measured by the shard flow, where the stages overlap (no hook: their
        engine stats cannot be told apart)."""
        self.timings[name] = self.timings.get(name, 0.0) + seconds

    def _run(self) -> BuildResult:
        c, langs = self.config, self.config.langs
        fps = {lang: self.fingerprints(lang) for lang in langs}
        if not all(
            StageDir(self.work, lang, "relevance", fps[lang]["relevance"]).complete
            for lang in langs
        ):
            self.encoder.load()  # a bad --relevance-encoder fails now, not after generate

        # The rater's controls start as soon as a language's shards are through, in the shard flow
        # (remote engines), but not in the pilot (--dry-run), whose hook measures them apart.
        def controls_ahead(lang: str, last: list[Path]):
            return self.stages.controls_ahead(lang, last, fps)

        outputs = run_shard_stages(
            c,
            self.work,
            fps,
            self.executor,
            self.models,
            self.encoder,
            self._step,
            self._spent,
            None if self.on_stage else controls_ahead,
        )
        finals = self.stages.run(outputs, fps, self.funnel, self.quality, self._step)
        return self._finish(finals)

    def _finish(self, finals: dict[str, StoredOutput]) -> BuildResult:
        meta = row_meta(self.config, self.models)
        published, audit = published_and_audit(finals, meta)
        info = build_info(
            self.config,
            self.models,
            meta,
            self.funnel,
            self.timings,
            self.quality,
            self.encoder.encoded,
            self.stages.diversified,
            self.executor,
        )
        return BuildResult(published, audit, self.funnel, info)


def build(config: BuildConfig, engines: dict[str, Engine] | None = None) -> BuildResult:
    """Run the pipeline, write the Hub layout to `config.output_dir`, push when asked."""
    # folders (an output dir holding files no export wrote included), Hub repo and token,
    # packages: before any model loads, not after hours of model time
    check_build_start(config)
    with hold_work_dir(config.work_dir):  # one build per work dir, until its export is written
        result = Pipeline(config, engines).run()
        check_rater(result.build_info["quality"], config.min_rater_auc)
        check_not_empty(result, config)
        configs = {lang: split_heldout(ds, config.heldout) for lang, ds in result.languages.items()}
        configs[AUDIT_CONFIG] = {"train": result.audit}
        result.output_dir = export_local(
            config.output_dir, configs, result.build_info, overwrite=config.overwrite
        )
        if config.push_to_hub:
            result.push_summary = push(
                result.output_dir, config.push_to_hub, private=config.private
            )
        return result

"""The language stages: relevance, the rater's controls, select and diversify, each on a whole language.

They read or rewrite a language's whole table, one language at a time, in the order of
builder/stages/plan.py: `final_table` loops over the plan's language stages, maps the table
through a stage its entry makes, or calls the step its entry names (`step`) where the stage has
needs of its own; `together` runs those marked so once for every language first. Each stage is pure
(builder/stages/); what the work dir keeps of it goes through one store, `StoredOutput`
(builder/core/workdir.py): relevance's scores and report (reused while the pool is the same),
diversify's clusters (keyed by what it reads), and the language's last table with its funnel
and quality reports (`final`, keyed by the last shard stage's checksums and the settings of
every language stage in the plan), which an unchanged rerun reads back instead of running these
stages at all. The rater's controls are a model stage scored by the executor, their pairs and
scores kept as shards.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

from datasets import Dataset
from tqdm.auto import tqdm

from .. import __version__
from ..config import BuildConfig
from ..core.hashing import fingerprint
from ..core.schema import DIVERSIFIED, MISMATCHED, MISMATCHED_SCORED, REFINED
from ..core.workdir import (
    StageDir,
    StoredOutput,
    read_columns,
    read_dropped,
    read_shard,
    read_stage,
    recorded_checksums,
)
from ..executors import ShardTask
from ..quality.meta_talk import ENCODER, MetaTalkGate, gate_settings
from ..quality.rater import CONTROL_PAIRS, control_pairs, controls_report
from ..stages.base import Applied, apply_stage
from ..stages.configs import diversify_config, select_config
from ..stages.diversify import Diversify, Embedder
from ..stages.plan import Context, language_stages, make_stage, shard_stages
from ..stages.relevance import Relevance, pool_hash, reference_pools
from ..stages.select import Select

# Ids of pairs kept below the seeds' floor (--relevance-floor flag) listed per language in the
# quality report, so that a user can drop them from the export; a build that flags more is not a demo.
MAX_FLAGGED_IDS = 1000


def final_output(
    work: Path, config: BuildConfig, lang: str, last: list[Path], fps: dict, pool: list[str]
) -> StoredOutput:
    """A language's last table in the store: its key hashes the checksums of the last shard
    stage's shards (checked by the shard stages on every run), that stage's fingerprint, the
    pool relevance calibrates against, the settings of every language stage and the builder's version."""
    upstream = shard_stages()[-1].name
    settings = [spec.settings(Context(config, lang)) for spec in language_stages()]
    fp = fingerprint(
        "final", __version__, recorded_checksums(last), fps[upstream], pool_hash(pool), *settings
    )
    return StoredOutput(StageDir(work, lang, "final", fp), DIVERSIFIED)


def record_shard_funnel(funnel, lang: str, outputs: dict[str, dict[str, list[Path]]]) -> None:
    """The funnel's shard-stage columns, from each one's `dropped` column alone."""
    before = None
    for spec in shard_stages():
        if spec.funnel:
            after = read_dropped(outputs[spec.name][lang], spec.output_features)
            funnel.record(lang, spec.name, [None] * len(after) if before is None else before, after)
            before = after


KEPT = ("dropped", "instruction")  # what the pools and the rater's controls both read: read once


def kept_columns(refined: list[Path]) -> dict[str, list]:
    """The `dropped` and `instruction` columns of refine's shards (verified)."""
    return read_columns(refined, REFINED, KEPT)


def kept_instructions(columns: dict[str, list]) -> list[str]:
    """The instructions of the rows refine kept (`columns`: kept_columns)."""
    return [q for q, d in zip(columns["instruction"], columns["dropped"]) if q and d is None]


def add_relevance(
    table: Dataset,
    work: Path,
    lang: str,
    fp: str,
    encoder: Callable,
    seed: int,
    pool: list[str] | None = None,
) -> tuple[Dataset, dict, dict]:
    """`table` (REFINED) with a `relevance` column, the language's report, and each row's
    strength by id (for select's floor). The scores are kept in the work dir while the pool
    (English instructions written for other texts, mismatched for every pair here) is the same."""
    stage = Relevance(lang, encoder, seed, pool)
    batch = {name: table[name][:] for name in ("id", "dropped", "instruction", "output")}
    same_pool = pool_hash(stage.pool)
    scores, report, _ = StoredOutput(
        StageDir(work, lang, "relevance", fp), stage.stored_features
    ).get(
        lambda: stage.run(batch),
        accept=lambda saved: saved is not None and saved.get("pool_hash") == same_pool,
    )
    scores = {
        "id": scores["id"][:],
        "relevance": scores["relevance"][:],
        "strength": scores["strength"][:],
    }
    out = apply_stage(
        table,
        Applied(stage, scores),
        fingerprint(fp, "relevance-column", table._fingerprint, same_pool),
    )
    return out, report, dict(zip(scores["id"], scores["strength"]))


@dataclasses.dataclass
class LanguageRun:
    """What one language's stages hand on to the ones after them."""

    lang: str
    fps: dict
    pool: list[str]
    quality: dict
    relevance: dict = dataclasses.field(default_factory=dict)  # relevance's report
    strength: dict = dataclasses.field(default_factory=dict)  # each row's, by id
    finish: list[Callable[[Dataset], None]] = dataclasses.field(default_factory=list)


class LanguageStages:
    """Runs the language stages of one build; `timings` and `diversified` are what they cost."""

    def __init__(self, config: BuildConfig, work: Path, encoder, executor, models, timings: dict):
        self.config = config
        self.work = work
        self.encoder = encoder
        self.executor = executor
        self.models = models
        self.timings = timings
        # rows diversify clustered in this process (not read back from the work dir)
        self.diversified = 0
        self._embedder: Embedder | None = None  # diversify's, loaded when a language first needs it
        # each language's controls as the shard flow prepared them (controls_ahead): matched
        # scores and stage dir, so rater_controls does not read its refine shards again
        self._ahead: dict[str, tuple[list, StageDir | None]] = {}
        # a step the plan names but this class lacks fails as the build starts, not after generate
        for spec in language_stages():
            if (spec.step or spec.together) and not callable(getattr(self, spec.step or "", None)):
                raise ValueError(
                    f"plan: language stage {spec.name!r} needs a LanguageStages step; "
                    f"{spec.step!r} is not one"
                )

    def _timed(self, stage: str, start: float) -> None:
        self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - start

    def rater_controls(
        self, langs: list[str], refined: dict[str, list[Path]], kept: dict[str, dict], fps: dict
    ) -> dict[str, dict]:
        """The rater's negative controls (builder/quality/rater.py) of `langs`: the driver picks
        each language's mismatched pairs and writes them as a shard, and the executor scores every
        language's shard in one stage, `rater_controls`, wherever the rater runs (a distributed
        driver holds no weights). Kept in the work dir, and through the request cache."""
        matched, stages, tasks, pairs = {}, {}, [], 0
        for lang in langs:
            if lang in self._ahead:  # the flow handed its task on; its shard is in the work dir
                matched[lang], stages[lang] = self._ahead.pop(lang)
                continue
            matched[lang], stages[lang], task, n = self._controls(
                lang, refined[lang], kept[lang], fps
            )
            if task:
                tasks.append(task)
                pairs += n
        if tasks:
            with tqdm(total=pairs, desc="rater controls", unit="pair") as bar:
                self.models.record(self.executor.run("rater_controls", tasks, bar))
        return {
            lang: controls_report(
                matched[lang],
                []
                if stages[lang] is None
                else read_shard(stages[lang].shard(0), MISMATCHED_SCORED)["score"][:],
            )
            for lang in langs
        }

    def _controls(
        self, lang: str, refined: list[Path], kept: dict, fps: dict
    ) -> tuple[list, StageDir | None, ShardTask | None, int]:
        """One language's controls: (matched scores, their stage dir or None when there is nothing
        to score, the task scoring them when the work dir lacks it, its pairs)."""
        # The four columns the controls read, not the language's whole table (two read already: `kept`).
        table = {**kept, **read_columns(refined, REFINED, ("judgements", "output"))}
        matched, mismatched = control_pairs(table, self.config.seed)
        # fewer than 2 kept rows: nothing to score, no worker to start
        if not mismatched["text"]:
            return matched, None, None, 0
        fp = fingerprint(
            fps[lang]["refine"],
            "rater_controls",
            recorded_checksums(refined),
            CONTROL_PAIRS,
            self.config.seed,
        )
        stage = StageDir(self.work, lang, "rater_controls", fp, MISMATCHED_SCORED)
        if stage.has(0):
            return matched, stage, None, 0
        source = StageDir(self.work, lang, "rater_pairs", fp, MISMATCHED).write(
            0, Dataset.from_dict(mismatched, features=MISMATCHED)
        )
        task = ShardTask("rater_controls", lang, fp, 0, str(source))
        return matched, stage, task, len(mismatched["text"])

    def controls_ahead(
        self, lang: str, refined: list[Path], fps: dict
    ) -> list[tuple[ShardTask, int]]:
        """The task scoring one language's controls, with its pairs, for the shard flow
        (builder/pipeline/shard_flow.py) once the language's refine shards are all written: it
        hands the task on when the engine has room, so the server scores them in the tails of
        other languages' shards instead of after the last shard of every language. Their shard
        is then in the work dir, which `rater_controls` reads as it would a resumed build's."""
        matched, stage, task, pairs = self._controls(lang, refined, kept_columns(refined), fps)
        self._ahead[lang] = (matched, stage)
        return [(task, pairs)] if task else []

    def run(self, outputs: dict, fps: dict, funnel, quality: dict, step) -> dict[str, StoredOutput]:
        """Every language through the language stages, after the shard stages (`outputs`: each
        shard stage's shards by name and language); fills `funnel` and `quality` and returns each
        language's saved final table. A language whose final table is kept is read back."""
        langs = self.config.langs
        last = outputs[shard_stages()[-1].name]
        # Each language's pairs are also compared with the seeds' and the other languages'
        # instructions (builder/stages/relevance.py: reference_pools).
        kept = {lang: kept_columns(last[lang]) for lang in langs}
        pools = reference_pools({lang: kept_instructions(kept[lang]) for lang in langs})
        finals = {
            lang: final_output(self.work, self.config, lang, last[lang], fps[lang], pools[lang])
            for lang in langs
        }
        ready = {
            lang: final.ready(accept=lambda saved: saved is not None)
            for lang, final in finals.items()
        }
        # the language stages run once for all languages (the rater's controls), for those not kept
        together = self.together([lang for lang in langs if not ready[lang]], last, kept, fps, step)
        # One language at a time from here on, each saved and released before the next: what is
        # in memory is one language's table, not every language's.
        each = ", ".join(s.name for s in language_stages() if not s.together)
        for lang in tqdm(langs, desc=each, unit="lang"):
            if ready[lang]:  # an unchanged rerun: the funnel and reports as saved
                saved = step("final (read back)", finals[lang].report)
                funnel.restore(lang, saved["funnel"])
                quality[lang] = saved["quality"]
                continue
            record_shard_funnel(funnel, lang, outputs)
            table = read_stage(last[lang], shard_stages()[-1].output_features)
            table, quality[lang] = self.final_table(
                lang, table, fps[lang], pools[lang], together, funnel
            )
            finals[lang].save(table, {"funnel": funnel.to_dict()[lang], "quality": quality[lang]})
            del table
        return finals

    def together(
        self,
        langs: list[str],
        refined: dict[str, list[Path]],
        kept: dict[str, dict],
        fps: dict,
        step,
    ) -> dict[str, dict[str, dict]]:
        """The plan's language stages that run once for every language in `langs` (`together`),
        each through `step(name, work)` (the runner's timer): {stage: {lang: its report}}."""
        return {
            spec.name: step(
                spec.name,
                lambda spec=spec: getattr(self, spec.step)(langs, refined, kept, fps),
            )
            for spec in language_stages()
            if spec.together
        }

    def final_table(
        self, lang: str, table: Dataset, fps: dict, pool: list[str], together: dict, funnel
    ) -> tuple[Dataset, dict]:
        """One language's rows (REFINED) through the plan's per-language stages in order, with
        the funnel recorded on the way for those that can drop rows; returns the table and the
        language's quality reports (`together`: the reports of the stages run for all languages)."""
        run = LanguageRun(lang, fps, pool, quality={})
        for spec in language_stages():
            if spec.together:
                if spec.report:
                    run.quality[spec.report] = together[spec.name][lang]
                continue
            start = time.perf_counter()
            before = table["dropped"][:] if spec.funnel else None
            if spec.step:
                table = getattr(self, spec.step)(spec, run, table)
            else:
                table = self._mapped(spec, run, table)
            if spec.funnel:
                funnel.record(lang, spec.name, before, table["dropped"][:])
            self._timed(spec.name, start)
        for finish in run.finish:
            finish(table)
        return table, run.quality

    def _mapped(self, spec, run: LanguageRun, table: Dataset) -> Dataset:
        """A language stage that maps the table through the stage object its entry makes."""
        x = Context(self.config, run.lang, encoder=lambda: self.encoder)
        stage = make_stage(spec.name, x)
        return apply_stage(
            table, stage, fingerprint(table._fingerprint, spec.name, *spec.settings(x))
        )

    def relevance(self, spec, run: LanguageRun, table: Dataset) -> Dataset:
        """Relevance's column, its report (quality) and each row's strength (for select)."""
        table, run.relevance, run.strength = add_relevance(
            table,
            self.work,
            run.lang,
            run.fps[spec.name],
            lambda: self.encoder,
            self.config.seed,
            run.pool,
        )
        run.quality = {"relevance": run.relevance, **run.quality}
        return table

    def select(self, spec, run: LanguageRun, table: Dataset) -> Dataset:
        """select, on relevance's floor and strengths, then the meta-talk gate: its drops count
        as select's, since select is what decides publishing."""
        report, strength = run.relevance, run.strength
        select = Select(run.lang, select_config(self.config, report.get("floor")), strength)
        table = apply_stage(table, select, fingerprint(table._fingerprint, "select", select.config))
        table = self._meta_talk(table, run.quality)
        if report.get("floor") is not None:
            # how many pairs the seeds' floor dropped, or published flagged: of the last table
            def below_floor(final: Dataset) -> None:
                after = final["dropped"][:]
                flagged = [
                    i
                    for i, d in zip(final["id"][:], after)
                    if d is None and select.below_floor(strength.get(i))
                ]
                report["below_floor"] = {
                    "mode": select.config.floor_mode,
                    "kept": len(flagged),
                    "dropped": sum(d == "below_seed_floor" for d in after),
                    "kept_ids": flagged[:MAX_FLAGGED_IDS],
                }

            run.finish.append(below_floor)
        return table

    def _meta_talk(self, table: Dataset, quality: dict) -> Dataset:
        """Chat-model talk the phrase rule missed, among the pairs select kept: the multilingual
        detector (builder/quality/meta_talk.py), on the relevance encoder's embedding store."""
        if self.config.relevance_encoder != ENCODER:  # its threshold holds for that encoder only
            quality["meta_talk"] = {
                "note": f"not checked: calibrated on {ENCODER}, not {self.config.relevance_encoder}"
            }
            return table
        gate = MetaTalkGate(lambda: self.encoder)
        table = apply_stage(table, gate, fingerprint(table._fingerprint, *gate_settings(ENCODER)))
        quality["meta_talk"] = gate.report
        return table

    # loaded once, and only when some language's inputs are new
    def _load_embedder(self) -> Embedder:
        self._embedder = self._embedder or Embedder(self.config.embedder)
        return self._embedder

    def diversify(self, spec, run: LanguageRun, table: Dataset) -> Dataset:
        """Clusters kept in the work dir under a key of what diversify reads, not the chain."""
        c, lang = self.config, run.lang
        stage = Diversify(lang, diversify_config(c), self._load_embedder)
        # Columns as lists (a slice): iterating a lazy column formats it row by row.
        batch = {name: table[name][:] for name in ("dropped", "instruction", "score")}
        alive = batch["dropped"].count(None)
        clusters, key = {"cluster": [], "kept": []}, None
        if alive:  # no row to cluster: nothing to keep in the work dir
            key = stage.key(batch, c.embedder)
            stored = StoredOutput(StageDir(self.work, lang, spec.name, key), stage.stored_features)
            saved, _, made = stored.get(lambda: stage.run(batch))
            clusters = {"cluster": saved["cluster"][:], "kept": saved["kept"][:]}
            self.diversified += alive if made else 0
        return apply_stage(
            table, Applied(stage, clusters), fingerprint(table._fingerprint, "diversify", key)
        )

"""The pipeline, declared: every stage in the order a build runs it, in one list.

Each entry says where the stage runs and on what, and which settings decide its output. What
repeats the order is derived from this list, not written again:
- the fingerprint chain (`fingerprints`): each chained stage's work-dir key hashes the previous
  one's and its own settings, so a change upstream renames everything after it;
- the work dir's layout and column types (`output_features`): `{lang}/{stage}-{fingerprint}/`;
- the funnel's columns (`FUNNEL`) and the model stages an executor runs (`MODEL_STAGES`);
- the stage objects themselves (`make_stage`), built the same way in the driver and in workers;
- the loop over the shard stages (builder/pipeline/shard_stages.py: `run_shard_stages`, or the
  shard flow of builder/pipeline/shard_flow.py on a remote engine) and the loop over the
  language stages (builder/pipeline/language_stages.py: `LanguageStages.run`).

To add a stage: write its module (a class keeping builder/stages/base.py's `Stage` protocol)
and add one `StageSpec` here. A shard stage on the driver needs nothing else: the runner maps
each shard through it, keeps its shards under the chained fingerprint, reuses them on resume,
and counts it in the funnel when `funnel=True`. A language stage without a `step` needs nothing
else either: each language's table is mapped through it after the stages before it, its
settings join the key of the language's kept result (so an unchanged rerun reads that back and
a changed setting runs it again), and it is counted in the funnel when `funnel=True`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from ..config import BuildConfig
from ..core import schema
from ..core.hashing import fingerprint
from ..core.schema import (
    DIVERSIFIED,
    GENERATED,
    MISMATCHED,
    MISMATCHED_SCORED,
    PREPARED,
    REFINED,
    RELEVANT,
)
from ..corpus.meta_talk import VERSION as META_TALK_VERSION
from ..corpus.readers import corpus_files_read
from ..prompts import template_versions
from ..quality.meta_talk import gate_settings
from ..quality.relevance import MAX_MISMATCHED, MIN_AUC_PAIRS
from . import configs
from .generate import Generate
from .prepare import Prepare
from .rank import Rank
from .rater_controls import CONTROLS_VERSION, RaterControls
from .refine import VERSION as REFINE_VERSION
from .refine import Refine
from .relevance import VERSION as RELEVANCE_VERSION

SHARD, LANGUAGE = "shard", "language"  # scope: one shard at a time, or a whole language at once
DRIVER, EXECUTOR = "driver", "executor"  # where: the driver process, or the executor's workers


@dataclasses.dataclass(frozen=True)
class Context:
    """What a stage's settings and objects are made from: the build's settings for one language,
    the identities of the engines, and the driver's tools (`model`: a CachedModel for a model
    stage; `encoder`: the relevance encoder; `count_tokens`: prepare's token count)."""

    config: BuildConfig
    lang: str
    generator: dict | None = None  # engine identities (Engine.identity())
    evaluator: dict | None = None
    token_counts: str | None = None  # how a served model's tokens are counted (None: its tokenizer)
    model: Any = None
    encoder: Callable[[], Any] | None = None
    count_tokens: Callable[[str], int] | None = None
    count_tokens_many: Callable[[list[str]], list[int]] | None = None  # the same, one batch encode


@dataclasses.dataclass(frozen=True)
class StageSpec:
    name: str
    scope: str  # SHARD or LANGUAGE
    runs_on: str  # DRIVER or EXECUTOR
    input_features: Any  # datasets.Features (None: the corpus)
    output_features: Any
    settings: Callable[[Context], tuple]  # what its output depends on, beside its input
    factory: Callable[[Context], Any] | None = None  # the stage object for one language
    funnel: bool = False  # a column of the yield funnel (the stage can drop rows)
    model: str | None = None  # "generator" or "evaluator": the model an executor stage runs
    chained: bool = True  # keyed by the fingerprint chain (False: keyed by its own inputs)
    # A language stage's own step: the name of the builder/pipeline/language_stages.py
    # `LanguageStages` method that runs it (its pool, its stored output, what it reads of the
    # stages before it). None: the table is mapped through the stage `factory` makes.
    step: str | None = None
    # Run once for every language, before the per-language loop (an executor stage's workers
    # start once); `report` names its per-language entry in the language's quality report.
    together: bool = False
    report: str | None = None


def _prepare_settings(x: Context) -> tuple:
    c = x.config
    counted = (x.token_counts,) if x.token_counts else ()
    # Which files and rows a language reads decides its prepared rows as much as its config does.
    read = (
        c.corpus,
        c.text_column,
        c.split,
        c.max_docs,
        corpus_files_read(c.corpus, x.lang, lang_column=c.lang_column),
        c.lang_column,
    )
    return (
        "prepare",
        META_TALK_VERSION,
        x.lang,
        dataclasses.asdict(configs.prepare_config(c)),
        x.generator,
        *counted,
        *read,
    )


def _generate_settings(x: Context) -> tuple:
    c = x.config
    # The seed pairs themselves, not only the file's name: a seeds file edited in place changes
    # the prompts, so generate runs again.
    return (
        dataclasses.asdict(configs.generate_config(c)),
        x.generator,
        c.seeds,
        configs.seeds_for(c, x.lang),
        c.generator is not None,
        template_versions(),
    )


def _generate_stage(x: Context) -> Generate:
    c = x.config
    return Generate(
        x.lang,
        x.model,
        configs.generate_config(c),
        configs.seeds_for(c, x.lang),
        fine_tuned=c.generator is not None,
    )


PLAN: list[StageSpec] = [
    # prepare's dedup state spans a language: the runner streams the corpus through it
    StageSpec(
        "prepare",
        SHARD,
        DRIVER,
        None,
        PREPARED,
        _prepare_settings,
        lambda x: Prepare(
            x.lang, configs.prepare_config(x.config), x.count_tokens, x.count_tokens_many
        ),
        funnel=True,
    ),
    StageSpec(
        "generate",
        SHARD,
        EXECUTOR,
        PREPARED,
        GENERATED,
        _generate_settings,
        _generate_stage,
        funnel=True,
        model="generator",
    ),
    StageSpec(
        "rank",
        SHARD,
        DRIVER,
        GENERATED,
        GENERATED,
        lambda x: ("rank", x.config.relevance_encoder),
        lambda x: Rank(x.encoder),
    ),
    StageSpec(
        "refine",
        SHARD,
        EXECUTOR,
        GENERATED,
        REFINED,
        lambda x: (
            REFINE_VERSION,
            dataclasses.asdict(configs.refine_config(x.config)),
            x.evaluator,
        ),
        lambda x: Refine(x.lang, x.model, configs.refine_config(x.config)),
        funnel=True,
        model="evaluator",
    ),
    # From here on a stage reads a whole language (builder/pipeline/language_stages.py).
    StageSpec(
        "relevance",
        LANGUAGE,
        DRIVER,
        REFINED,
        RELEVANT,
        lambda x: (
            "relevance",
            RELEVANCE_VERSION,
            x.config.relevance_encoder,
            x.config.seed,
            MAX_MISMATCHED,
            MIN_AUC_PAIRS,
        ),
        step="relevance",
    ),
    StageSpec(
        "rater_controls",
        LANGUAGE,
        EXECUTOR,
        MISMATCHED,
        MISMATCHED_SCORED,
        lambda x: (CONTROLS_VERSION,),
        lambda x: RaterControls(x.lang, x.model, configs.refine_config(x.config)),
        model="evaluator",
        chained=False,
        step="rater_controls",
        together=True,
        report="rater",
    ),
    # select's funnel entry counts the meta-talk gate's drops too: select decides what is published
    StageSpec(
        "select",
        LANGUAGE,
        DRIVER,
        RELEVANT,
        RELEVANT,
        lambda x: (
            dataclasses.asdict(configs.select_config(x.config)),
            gate_settings(x.config.relevance_encoder),
        ),
        funnel=True,
        chained=False,
        step="select",
    ),
    StageSpec(
        "diversify",
        LANGUAGE,
        DRIVER,
        RELEVANT,
        DIVERSIFIED,
        lambda x: (dataclasses.asdict(configs.diversify_config(x.config)), x.config.embedder),
        funnel=True,
        chained=False,
        step="diversify",
    ),
]


def spec(name: str) -> StageSpec:
    for entry in PLAN:
        if entry.name == name:
            return entry
    raise ValueError(f"{name!r} is not a stage; stages: {', '.join(s.name for s in PLAN)}")


def shard_stages() -> list[StageSpec]:
    return [s for s in PLAN if s.scope == SHARD]


def language_stages() -> list[StageSpec]:
    return [s for s in PLAN if s.scope == LANGUAGE]


def funnel_stages() -> tuple[str, ...]:
    """The funnel's columns, in order: the stages that can drop rows."""
    return tuple(s.name for s in PLAN if s.funnel)


def model_stages() -> tuple[str, ...]:
    """The stages an executor runs, each on one model."""
    return tuple(s.name for s in PLAN if s.runs_on == EXECUTOR)


def output_features(name: str):
    """The column types of a stage's shards in the work dir (`final`: a language's last table)."""
    return DIVERSIFIED if name == "final" else spec(name).output_features


def fingerprints(x: Context) -> dict[str, str]:
    """Each chained stage's fingerprint for one language: a hash of the previous chained stage's
    fingerprint and the stage's own settings (the first hashes its settings alone)."""
    out, upstream = {}, ()
    for entry in PLAN:
        if entry.chained:
            out[entry.name] = fingerprint(*upstream, *entry.settings(x))
            upstream = (out[entry.name],)
    return out


def describe_plan() -> str:
    """The plan as a table of text (the README's Architecture section shows it; a test keeps the two equal)."""

    def named(features) -> str:
        if features is None:
            return "corpus"
        return next(
            name for name, value in vars(schema).items() if name.isupper() and value is features
        )

    rows = [("stage", "scope", "runs on", "reads", "writes", "funnel", "work-dir key")]
    for entry in PLAN:
        key = "chain" if entry.chained else "its inputs"
        rows.append(
            (
                entry.name,
                entry.scope,
                entry.runs_on + (f" ({entry.model})" if entry.model else ""),
                named(entry.input_features),
                named(entry.output_features),
                "yes" if entry.funnel else "",
                key,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() + "\n" for row in rows
    )


def stage_fingerprints(
    c: BuildConfig, lang: str, generator: dict, evaluator: dict, token_counts: str | None = None
) -> dict[str, str]:
    """`fingerprints` from the engines' identities (`token_counts`: how a served model's tokens are counted)."""
    return fingerprints(Context(c, lang, generator, evaluator, token_counts))


def make_stage(name: str, x: Context):
    entry = spec(name)
    if entry.factory is None:
        raise ValueError(f"{name!r} is run by the pipeline itself, not built from the plan")
    return entry.factory(x)


def make_model_stage(c: BuildConfig, stage: str, lang: str, model):
    """The batched `Dataset.map` function of a model stage for one language (workers build their own)."""
    if spec(stage).runs_on != EXECUTOR:
        raise ValueError(
            f"{stage!r} is not a model stage; model stages: {', '.join(model_stages())}"
        )
    return make_stage(stage, Context(c, lang, model=model))


def stage_model(c: BuildConfig, stage: str) -> str:
    """The model a stage runs: the generator writes instructions, the evaluator scores them."""
    role = spec(stage).model if stage in {s.name for s in PLAN} else None
    if role == "generator":
        return c.generator or c.model
    if role == "evaluator":
        return c.evaluator or c.model
    raise ValueError(f"{stage!r} is not a model stage; model stages: {', '.join(model_stages())}")

"""How a `BuildConfig` becomes each stage's config, the model stages' blocks, and the
fingerprints that name each stage's output in the work dir.

The pipeline (for fingerprints and `meta`) and every executor's workers (which build their own
blocks next to their own engine) read the settings from here, so a shard is mapped the same
way whichever process maps it, and a fingerprint hashes the very config its stage runs with.
"""

from __future__ import annotations

import dataclasses

from ..config import BuildConfig
from ..core.hashing import fingerprint
from ..corpus.meta_talk import VERSION as META_TALK_VERSION
from ..corpus.readers import corpus_files_read, read_seeds
from ..corpus.seed_donors import seed_languages
from ..engines.cache import CachedModel
from ..engines.models import EMBEDDED_ALIASES, EMBEDDED_MODEL_ID
from ..prompts import template_versions
from .diversify import DiversifyConfig
from .generate import Generate, GenerateConfig
from .prepare import PrepareConfig
from .refine import VERSION as REFINE_VERSION
from .refine import Refine, RefineConfig
from .rater_controls import RaterControls
from .relevance import relevance_fingerprint
from .select import SelectConfig

# rater_controls: the rater scores mismatched pairs (builder/quality/rater.py), in the executor
# like refine, since a distributed driver holds no weights.
MODEL_STAGES = ("generate", "refine", "rater_controls")


def prepare_config(c: BuildConfig) -> PrepareConfig:
    return PrepareConfig(min_tokens=c.min_tokens, max_tokens=c.max_tokens)


def generate_config(c: BuildConfig) -> GenerateConfig:
    return GenerateConfig(candidates=c.candidates, temperature=c.temperature, top_p=c.top_p,
                          max_new_tokens=c.max_instruction_tokens, few_shot=0 if c.generator else c.few_shot,
                          seed=c.seed)


def refine_config(c: BuildConfig) -> RefineConfig:
    return RefineConfig(rounds=c.rounds, accept_score=c.accept_score, refine_response=c.refine_response, seed=c.seed)


def select_config(c: BuildConfig, relevance_floor: float | None = None) -> SelectConfig:
    """`relevance_floor`: the seeds' floor the language's relevance report gives (None: none yet)."""
    return SelectConfig(accept_score=c.accept_score, min_relevance=c.min_relevance, relevance_floor=relevance_floor,
                        floor_mode=floor_mode(c))


def floor_mode(c: BuildConfig) -> str:
    """--relevance-floor with `auto` resolved: off when --min-relevance 0 turned the relevance
    gate off; the embedded demo model's instructions rarely reach the floor, so its build flags
    them rather than publish nothing (README, Quality gates); else drop."""
    if c.relevance_floor != "auto":
        return c.relevance_floor
    if c.min_relevance == 0:
        return "off"
    model = c.generator or c.model
    return "flag" if model in EMBEDDED_ALIASES or model == EMBEDDED_MODEL_ID else "drop"


def diversify_config(c: BuildConfig) -> DiversifyConfig:
    return DiversifyConfig(target_size=c.target_size, seed=c.seed)


def stage_fingerprints(c: BuildConfig, lang: str, generator: dict, evaluator: dict,
                       token_counts: str | None = None) -> dict[str, str]:
    """The fingerprint of each stage's output for one language; each hashes the previous one, so
    a change upstream renames everything after it. `generator`/`evaluator` are the engines'
    identities; `token_counts` says how a served model's tokens are counted (None: its tokenizer)."""
    asdict = dataclasses.asdict
    counted = (token_counts,) if token_counts else ()
    # Which files and rows a language reads decides its prepared rows as much as its config does.
    read = (c.corpus, c.text_column, c.split, c.max_docs, corpus_files_read(c.corpus, lang, lang_column=c.lang_column),
            c.lang_column)
    prepare = fingerprint("prepare", META_TALK_VERSION, lang, asdict(prepare_config(c)), generator, *counted, *read)
    # The seed pairs themselves, not only the file's name: a seeds file edited in place changes
    # the prompts, so generate runs again.
    generate = fingerprint(prepare, asdict(generate_config(c)), generator, c.seeds, seeds_for(c, lang),
                           c.generator is not None, template_versions())
    rank = fingerprint(generate, "rank", c.relevance_encoder)  # candidates ordered by relevance
    refine = fingerprint(rank, REFINE_VERSION, asdict(refine_config(c)), evaluator)
    return {"prepare": prepare, "generate": generate, "rank": rank, "refine": refine,
            "relevance": relevance_fingerprint(refine, c.relevance_encoder, c.seed)}


def final_settings(c: BuildConfig) -> tuple:
    """The settings of the stages after relevance (select, diversify and its embedder): with the
    refine shards, they decide a language's last table (builder/pipeline/final_stage.py)."""
    return dataclasses.asdict(select_config(c)), dataclasses.asdict(diversify_config(c)), c.embedder


def uses_seeds(c: BuildConfig) -> bool:
    """A fine-tuned generator and zero-shot prompting show the model no seed pairs."""
    return not (c.generator or c.few_shot == 0)


def seeds_for(c: BuildConfig, lang: str) -> list[dict]:
    if not uses_seeds(c):
        return []
    return read_seeds(c.seeds, lang)


def borrowed_seed_languages(c: BuildConfig, lang: str) -> list[str]:
    """The languages whose embedded seeds `lang` borrowed ([] when it has its own or the user's)."""
    if c.seeds not in (None, "", "embedded"):
        return []  # the user's pairs: no need to read (or stream) them again to know that
    return seed_languages(seeds_for(c, lang))


def stage_model(c: BuildConfig, stage: str) -> str:
    """The model a stage runs: the generator writes instructions, the evaluator scores them."""
    if stage == "generate":
        return c.generator or c.model
    if stage in ("refine", "rater_controls"):
        return c.evaluator or c.model
    raise ValueError(f"{stage!r} is not a model stage; model stages: {', '.join(MODEL_STAGES)}")


def make_block(c: BuildConfig, stage: str, lang: str, model: CachedModel):
    """The batched `Dataset.map` function of a model stage for one language."""
    if stage == "generate":
        return Generate(lang, model, generate_config(c), seeds_for(c, lang), fine_tuned=c.generator is not None)
    if stage == "refine":
        return Refine(lang, model, refine_config(c))
    if stage == "rater_controls":
        return RaterControls(lang, model, refine_config(c))
    raise ValueError(f"{stage!r} is not a model stage; model stages: {', '.join(MODEL_STAGES)}")

"""How a `BuildConfig` becomes the model stages' blocks.

The pipeline (for fingerprints and `meta`) and every executor's workers (which build their own
blocks next to their own engine) read the settings from here, so a shard is mapped the same
way whichever process maps it.
"""

from __future__ import annotations

from ..engines.cache import CachedModel
from ..config import BuildConfig
from ..stages.generate import Generate, GenerateConfig
from ..stages.refine import Refine, RefineConfig

MODEL_STAGES = ("generate", "refine")


def generate_config(c: BuildConfig) -> GenerateConfig:
    return GenerateConfig(candidates=c.candidates, temperature=c.temperature, top_p=c.top_p,
                          max_new_tokens=c.max_instruction_tokens, few_shot=0 if c.generator else c.few_shot,
                          seed=c.seed)


def refine_config(c: BuildConfig) -> RefineConfig:
    return RefineConfig(rounds=c.rounds, accept_score=c.accept_score, refine_response=c.refine_response, seed=c.seed)


def seeds_for(c: BuildConfig, lang: str) -> list[dict]:
    if c.generator or c.few_shot == 0:
        return []
    from ..corpus.readers import read_seeds

    return read_seeds(c.seeds, lang)


def stage_model(c: BuildConfig, stage: str) -> str:
    """The model a stage runs: the generator writes instructions, the evaluator scores them."""
    if stage == "generate":
        return c.generator or c.model
    if stage == "refine":
        return c.evaluator or c.model
    raise ValueError(f"{stage!r} is not a model stage; model stages: {', '.join(MODEL_STAGES)}")


def make_block(c: BuildConfig, stage: str, lang: str, model: CachedModel):
    """The batched `Dataset.map` function of a model stage for one language."""
    if stage == "generate":
        return Generate(lang, model, generate_config(c), seeds_for(c, lang), fine_tuned=c.generator is not None)
    if stage == "refine":
        return Refine(lang, model, refine_config(c))
    raise ValueError(f"{stage!r} is not a model stage; model stages: {', '.join(MODEL_STAGES)}")

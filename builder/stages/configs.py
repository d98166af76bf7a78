"""How a `BuildConfig` becomes each stage's config.

The plan (builder/stages/plan.py: stage objects and fingerprints), the pipeline (`meta`) and every
executor's workers (which build their own stages next to their own engine) read the settings
from here, so a shard is mapped the same way whichever process maps it, and a fingerprint
hashes the very config its stage runs with.
"""

from __future__ import annotations

from ..config import BuildConfig
from ..corpus.readers import read_seeds
from ..corpus.seed_donors import seed_languages
from ..engines.models import EMBEDDED_ALIASES, EMBEDDED_MODEL_ID
from .diversify import DiversifyConfig
from .generate import GenerateConfig
from .prepare import PrepareConfig
from .refine import RefineConfig
from .select import SelectConfig


def prepare_config(c: BuildConfig) -> PrepareConfig:
    return PrepareConfig(min_tokens=c.min_tokens, max_tokens=c.max_tokens)


def generate_config(c: BuildConfig) -> GenerateConfig:
    return GenerateConfig(
        candidates=c.candidates,
        temperature=c.temperature,
        top_p=c.top_p,
        max_new_tokens=c.max_instruction_tokens,
        few_shot=0 if c.generator else c.few_shot,
        seed=c.seed,
    )


def refine_config(c: BuildConfig) -> RefineConfig:
    return RefineConfig(
        rounds=c.rounds, accept_score=c.accept_score, refine_response=c.refine_response, seed=c.seed
    )


def select_config(c: BuildConfig, relevance_floor: float | None = None) -> SelectConfig:
    """`relevance_floor`: the seeds' floor the language's relevance report gives (None: none yet)."""
    return SelectConfig(
        accept_score=c.accept_score,
        min_relevance=c.min_relevance,
        relevance_floor=relevance_floor,
        floor_mode=floor_mode(c),
    )


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

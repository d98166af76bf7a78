"""generate: English instruction candidates for each target-language text (backward prompting).

The text is treated as a candidate answer; the model writes the English instruction it answers.
With the default (instruction-tuned) model the prompt is a few-shot chat built from seed pairs
in that language; with a fine-tuned generator (`--generator`, trl_scripts/train_generator.py)
it is the single-turn `generator_prompt` the generator was trained on.
"""

from __future__ import annotations

import dataclasses

from ..core.hashing import stable_hash
from ..core.schema import GENERATED, PREPARED
from ..engines.base import SamplingParams
from ..engines.cache import CachedModel
from ..prompts import BACKWARD_TURN, GENERATOR, backward_messages, generator_messages
from .instructions import clean_instruction, instruction_problem


@dataclasses.dataclass
class GenerateConfig:
    candidates: int = 4  # samples per text
    temperature: float = 0.7
    top_p: float = 0.95
    max_new_tokens: int = 48  # an instruction is one line; the first line is kept
    few_shot: int = 2  # seed pairs per prompt (ignored with a fine-tuned generator)
    seed: int = 0

    def sampling(self) -> SamplingParams:
        # One candidate is read greedily: sampling a single draw only adds noise.
        if self.candidates == 1:
            return SamplingParams(
                max_new_tokens=self.max_new_tokens, temperature=0.0, seed=self.seed
            )
        return SamplingParams(
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            n=self.candidates,
            seed=self.seed,
        )


def pick_seeds(seeds: list[dict], row_id: str, k: int) -> list[dict]:
    """k seed pairs for one text, rotated by its id so prompts vary across texts but not runs."""
    if not seeds or k <= 0:
        return []
    start = int(stable_hash(row_id)[:8], 16) % len(seeds)
    return [seeds[(start + i) % len(seeds)] for i in range(min(k, len(seeds)))]


class Generate:
    """A batched `Dataset.map` function: adds `candidates`, `rejected` and `instruction`."""

    name = "generate"
    input_features = PREPARED
    output_features = GENERATED

    def __init__(
        self,
        lang: str,
        model: CachedModel,
        config: GenerateConfig,
        seeds: list[dict],
        *,
        fine_tuned: bool = False,
    ):
        if not fine_tuned and config.few_shot > 0 and not seeds:
            raise ValueError(
                f"no seed pairs for {lang!r}: few-shot generation needs a few (English instruction, "
                f"{lang} response) pairs; pass --seeds FILE, or --few-shot 0 to prompt without examples"
            )
        self.lang = lang
        self.model = model
        self.config = config
        self.seeds = seeds
        self.fine_tuned = fine_tuned

    @property
    def template_hash(self) -> str:
        return GENERATOR.hash if self.fine_tuned else BACKWARD_TURN.hash

    def prompt(self, row_id: str, text: str):
        if self.fine_tuned:
            return generator_messages(text, self.lang)
        return backward_messages(
            text, self.lang, pick_seeds(self.seeds, row_id, self.config.few_shot)
        )

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        n = len(batch["id"])
        out = {
            "candidates": [[] for _ in range(n)],
            "rejected": [[] for _ in range(n)],
            "instruction": [None] * n,
            "dropped": list(batch["dropped"]),
        }
        active = [i for i in range(n) if batch["dropped"][i] is None]
        prompts = [self.prompt(batch["id"][i], batch["text"][i]) for i in active]
        completions = self.model(prompts, self.config.sampling(), self.template_hash)
        for i, completion in zip(active, completions):
            kept, rejected = [], []
            for raw in completion.texts:
                instruction = clean_instruction(raw)
                problem = instruction_problem(instruction, batch["text"][i])
                if problem is None and instruction.lower() in {k.lower() for k in kept}:
                    problem = "duplicate_candidate"
                if problem is None:
                    kept.append(instruction)
                else:
                    rejected.append({"text": raw, "reason": problem})
            out["candidates"][i] = kept
            out["rejected"][i] = rejected
            if kept:
                out["instruction"][i] = kept[0]
            else:
                out["dropped"][i] = "no_valid_instruction"
        return out

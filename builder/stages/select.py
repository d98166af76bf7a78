"""select: keep pairs that scored well and pass the pair checks; name the reason for the rest."""

from __future__ import annotations

import dataclasses

from ..languages.lid import detect, matches
from .instructions import instruction_problem
from .schema import RELEVANT


@dataclasses.dataclass
class SelectConfig:
    accept_score: int = 4
    min_response_chars: int = 80
    max_response_chars: int = 8000
    min_relevance: float = 0.0  # off_topic below this; 0 disables (builder/quality/relevance.py)


class Select:
    """A batched `Dataset.map` function: only rewrites `dropped`."""

    name = "select"
    input_features = RELEVANT
    output_features = RELEVANT  # only `dropped` changes

    def __init__(self, lang: str, config: SelectConfig):
        self.lang = lang
        self.config = config

    def reason(self, instruction: str | None, output: str | None, score: int | None,
               relevance: float | None = None) -> str | None:
        if score is None:
            return "unscored"
        if score < self.config.accept_score:
            return "low_score"
        if not instruction:
            return "no_instruction"
        problem = instruction_problem(instruction, output or "")
        if problem is not None:
            return f"instruction_{problem}"
        # None: the language had too few pairs to calibrate against, so there is no evidence.
        if relevance is not None and relevance < self.config.min_relevance:
            return "off_topic"
        if not output or not self.config.min_response_chars <= len(output) <= self.config.max_response_chars:
            return "response_length"
        # prepare checked the original text; this catches refined responses that drifted.
        if matches(detect(output), self.lang) is False:
            return "response_wrong_language"
        return None

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        dropped = list(batch["dropped"])
        for i, already in enumerate(dropped):
            if already is None:
                relevance = batch["relevance"][i] if "relevance" in batch else None
                dropped[i] = self.reason(batch["instruction"][i], batch["output"][i], batch["score"][i], relevance)
        return {"dropped": dropped}

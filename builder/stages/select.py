"""select: keep pairs that scored well and pass the pair checks; name the reason for the rest."""

from __future__ import annotations

import dataclasses

from ..core.schema import RELEVANT
from ..languages.lid import detect, matches
from .instructions import instruction_problem


@dataclasses.dataclass
class SelectConfig:
    accept_score: int = 4
    min_response_chars: int = 80
    max_response_chars: int = 8000
    min_relevance: float = 0.0  # off_topic below this; 0 disables (builder/quality/relevance.py)
    # below_seed_floor when a pair's strength is below this (builder/quality/seed_reference.py) and
    # floor_mode is "drop"; "flag" keeps the pair (the build counts it), "off" ignores the floor.
    # None: no floor known.
    relevance_floor: float | None = None
    floor_mode: str = "drop"


class Select:
    """A batched `Dataset.map` function: only rewrites `dropped`."""

    name = "select"
    input_features = RELEVANT
    output_features = RELEVANT  # only `dropped` changes

    def __init__(
        self, lang: str, config: SelectConfig, strength: dict[str, float | None] | None = None
    ):
        """`strength`: each row's relevance strength by id (builder/stages/relevance.py)."""
        self.lang = lang
        self.config = config
        self.strength = strength or {}

    def reason(
        self,
        instruction: str | None,
        output: str | None,
        score: int | None,
        relevance: float | None = None,
        strength: float | None = None,
    ) -> str | None:
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
        if self.below_floor(strength) and self.config.floor_mode == "drop":
            return "below_seed_floor"
        if (
            not output
            or not self.config.min_response_chars <= len(output) <= self.config.max_response_chars
        ):
            return "response_length"
        # prepare checked the original text; this catches refined responses that drifted.
        if matches(detect(output), self.lang) is False:
            return "response_wrong_language"
        return None

    def below_floor(self, strength: float | None) -> bool:
        floor = self.config.relevance_floor
        return (
            strength is not None
            and floor is not None
            and self.config.floor_mode != "off"
            and strength < floor
        )

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        dropped = list(batch["dropped"])
        for i, already in enumerate(dropped):
            if already is None:
                relevance = batch["relevance"][i] if "relevance" in batch else None
                strength = self.strength.get(batch["id"][i]) if "id" in batch else None
                dropped[i] = self.reason(
                    batch["instruction"][i],
                    batch["output"][i],
                    batch["score"][i],
                    relevance,
                    strength,
                )
        return {"dropped": dropped}

"""rater_controls: the rater's negative controls as a model stage (builder/quality/rater.py).

The driver picks each language's mismatched pairs (`control_pairs`) and writes them as a
shard; this stage scores them with refine's own judging code (its round 1: the same prompt,
sampling and retry), in the executor like refine, since a distributed driver holds no weights.
"""

from __future__ import annotations

from ..core.schema import MISMATCHED, MISMATCHED_SCORED
from ..quality.rater import CONTROL_PAIRS, control_pairs, controls_report
from .refine import Pair, Refine, RefineConfig

# Part of the key of a language's last table (builder/pipeline/language_stages.py: final_output): 2: the controls
# are measured under every executor (before, a distributed build left them out).
CONTROLS_VERSION = 2


class RaterControls:
    """The model stage `rater_controls`: a shard of mismatched pairs, each scored by the rater
    through refine's own judging code (its round 1: the same prompt, sampling and retry)."""

    name = "rater_controls"
    input_features = MISMATCHED
    output_features = MISMATCHED_SCORED

    def __init__(self, lang: str, model, config: RefineConfig):
        self.refine = Refine(lang, model, config)

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        pairs = [
            Pair(text, [], instruction)
            for text, instruction in zip(batch["text"], batch["instruction"])
        ]
        if pairs:
            self.refine.judge(pairs, round_no=1)
        return {"score": [p.judgements[0]["score"] for p in pairs]}


def rater_controls(
    model, lang: str, table, config: RefineConfig, seed: int, sample: int = CONTROL_PAIRS
) -> dict:
    """Score mismatched pairs with the rater in this process; report its AUC and mean score on
    matched and mismatched (the build runs the same steps through its executor)."""
    matched, pairs = control_pairs(table, seed, sample)
    mismatched = RaterControls(lang, model, config)(pairs)["score"]
    return controls_report(matched, mismatched)

"""rank: order each row's candidate instructions by relevance to its text, after generate.

The first candidate becomes the instruction the rater sees first in refine's round 1. It runs in
the driver, shard by shard, on the relevance encoder (builder/quality/relevance.py), and only
reorders: no row is dropped and the columns stay generate's.
"""

from __future__ import annotations

from collections.abc import Callable

from ..core.schema import GENERATED
from ..quality.relevance import Encoder, rank_candidates


class Rank:
    name = "rank"
    input_features = GENERATED
    output_features = GENERATED  # `candidates` reordered, `instruction` their first

    def __init__(self, encoder: Callable[[], Encoder]):
        """`encoder` is called only when a shard is ranked (not on a resume that finds them all)."""
        self.encoder = encoder

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        ranked = rank_candidates(self.encoder(), batch["candidates"], batch["text"])
        return {
            "candidates": ranked,
            "instruction": [c[0] if c else q for c, q in zip(ranked, batch["instruction"])],
        }

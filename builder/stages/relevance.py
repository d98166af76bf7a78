"""relevance: add each pair's calibrated cross-lingual relevance (builder/quality/relevance.py) after refine.

It runs on a whole language at once: calibration compares a pair with the language's other
pairs and with a pool of English instructions (the embedded seeds' and the build's other
languages', `reference_pools`). The stage is pure: `run` scores a language and returns the
scores (id, relevance, strength) with the calibration report; the pipeline keeps them in the
work dir (builder/pipeline/language_stages.py), so a rerun with the same pool reads them back
and never loads the encoder or embeds again.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

from datasets import Features, Value

from ..core.hashing import fingerprint, stable_hash
from ..core.schema import REFINED, RELEVANT
from ..quality.relevance import Encoder, score_pairs
from ..quality.seed_reference import seed_instructions, seed_reference

# strength: the pair's cosine above its mismatches' in standard deviations, for the seeds' floor
SCORES = Features(
    {"id": Value("string"), "relevance": Value("float32"), "strength": Value("float32")}
)


# 2: calibrated against the seeds' and other languages' instructions too, shuffled controls
# without their true pairs, AUC intervals, the seeds' control and floor.
VERSION = 2


def pool_hash(pool: list[str]) -> str:
    return fingerprint("relevance-pool", pool)


class Relevance:
    """The stage: given a whole language in one batch (`batch_size=None`: calibration compares a
    pair with the language's other pairs), adds `relevance`. `run` gives what the work dir keeps
    (each row's scores and the language's report); `apply` adds the column from them.
    `encoder` is called only when a language is scored."""

    name = "relevance"
    input_features = REFINED
    output_features = RELEVANT
    stored_features = SCORES

    def __init__(
        self, lang: str, encoder: Callable[[], Encoder], seed: int, pool: list[str] | None = None
    ):
        self.lang = lang
        self.encoder = encoder
        self.seed = seed
        self.pool = list(pool or [])

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        return self.apply(batch, self.run(batch)[0])

    def run(self, batch: dict[str, list]) -> tuple[dict[str, list], dict]:
        """(SCORES columns, the calibration report) for one language's rows."""
        alive = [d is None for d in batch["dropped"]]
        instructions = [q if keep else None for q, keep in zip(batch["instruction"], alive)]
        outputs = [r if keep else None for r, keep in zip(batch["output"], alive)]
        if any(alive):
            encoder = self.encoder()
            scored = score_pairs(
                encoder,
                instructions,
                outputs,
                seed=self.seed,
                pool=self.pool,
                reference=seed_reference(encoder, self.lang, self.seed),
            )
            relevance, strength, report = scored.relevance, scored.strength, scored.report
        else:
            relevance, strength, report = (
                [None] * len(alive),
                [None] * len(alive),
                {"pairs": 0, "auc": None, "note": "no pairs"},
            )
        report["pool_hash"] = pool_hash(self.pool)
        return {"id": list(batch["id"]), "relevance": relevance, "strength": strength}, report

    @staticmethod
    def apply(batch: dict[str, list], scores: dict[str, list]) -> dict[str, list]:
        by_id = dict(zip(scores["id"], scores["relevance"]))
        return {"relevance": [by_id.get(i) for i in batch["id"]]}


# Instructions of the other languages in a language's pool: enough to fill the comparisons of a
# small language (MAX_MISMATCHED) without embedding a large build's every instruction again.
MAX_POOL_OTHERS = 256


def reference_pools(instructions: dict[str, list[str]]) -> dict[str, list[str]]:
    """Per language, the English instructions its pairs are also compared with: every embedded
    seed's, and up to MAX_POOL_OTHERS of the build's other languages' (`instructions`: each
    language's kept instructions), chosen by a hash of the text so that the choice does not
    depend on order. Each instruction is hashed once, whatever the number of languages."""
    seeds = seed_instructions()
    firsts = {lang: _first_by_hash(qs) for lang, qs in instructions.items()}
    pools = {}
    for lang in instructions:
        others = sorted(
            {pair for other, pairs in firsts.items() if other != lang for pair in pairs}
        )
        pools[lang] = seeds + [q for _, q in others[:MAX_POOL_OTHERS]]
    return pools


def _first_by_hash(instructions: list[str]) -> list[tuple[str, str]]:
    """(hash, instruction) of the MAX_POOL_OTHERS instructions with the lowest hashes: another
    language's pool takes its share from these."""
    return heapq.nsmallest(
        MAX_POOL_OTHERS, {(stable_hash("pool", q), q) for q in instructions if q}
    )

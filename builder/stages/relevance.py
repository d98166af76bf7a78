"""relevance: add each pair's calibrated cross-lingual relevance (builder/quality/relevance.py) after refine.

It runs on a whole language at once (calibration compares a pair with the language's other
pairs and with a pool of English instructions: the embedded seeds' and the build's other
languages') and keeps its result in the work dir as `{lang}/relevance-{fp}/`: one shard (id,
relevance) and report.json. The fingerprint covers refine's output and the encoder, and the
report records the pool it was calibrated against, so a rerun with the same pool reads the shard
back and never loads the encoder or embeds again; another pool (a language added) scores again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pyarrow as pa
from datasets import Dataset, Features, Value

from ..core.workdir import StageDir, fingerprint, read_shard, read_shard_table
from ..quality.relevance import MAX_MISMATCHED, MIN_AUC_PAIRS, Encoder, score_pairs
from ..core.schema import REFINED, RELEVANT

# strength: the pair's cosine above its mismatches' in standard deviations, for the seeds' floor
SCORES = Features({"id": Value("string"), "relevance": Value("float32"), "strength": Value("float32")})


# 2: calibrated against the seeds' and other languages' instructions too, shuffled controls
# without their true pairs, AUC intervals, the seeds' control and floor.
VERSION = 2


def relevance_fingerprint(refine_fp: str, encoder: str, seed: int) -> str:
    return fingerprint(refine_fp, "relevance", VERSION, encoder, seed, MAX_MISMATCHED, MIN_AUC_PAIRS)


def pool_hash(pool: list[str]) -> str:
    return fingerprint("relevance-pool", pool)


class Relevance:
    """The stage: given a whole language in one batch (`batch_size=None`: calibration compares a
    pair with the language's other pairs), adds `relevance`; `report` is the language's
    calibration report. `encoder` is called only when the stage is not in the work dir yet."""

    name = "relevance"
    input_features = REFINED
    output_features = RELEVANT

    def __init__(self, lang: str, work: Path, fp: str, encoder: Callable[[], Encoder], seed: int,
                 pool: list[str] | None = None):
        self.stage = StageDir(work, lang, "relevance", fp)
        self.lang = lang
        self.encoder = encoder
        self.seed = seed
        self.pool = list(pool or [])
        self.report: dict | None = None
        self.strength: dict[str, float | None] = {}  # per row id, for select's floor

    def _stored(self) -> bool:
        if not (self.stage.complete and self.stage.intact()):
            return False
        report = json.loads((self.stage.path / "report.json").read_text(encoding="utf-8"))
        return report.get("pool_hash") == pool_hash(self.pool)

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        if not self._stored():
            self._score(batch)
        scores = read_shard(self.stage.shard(0), SCORES)
        by_id = dict(zip(scores["id"][:], scores["relevance"][:]))
        self.strength.update(zip(scores["id"][:], scores["strength"][:]))
        self.report = json.loads((self.stage.path / "report.json").read_text(encoding="utf-8"))
        return {"relevance": [by_id.get(i) for i in batch["id"]]}

    def _score(self, batch: dict[str, list]) -> None:
        stage = self.stage
        stage.reset()
        alive = [d is None for d in batch["dropped"]]
        instructions = [q if keep else None for q, keep in zip(batch["instruction"], alive)]
        outputs = [r if keep else None for r, keep in zip(batch["output"], alive)]
        if any(alive):
            from ..quality.seed_reference import seed_reference

            encoder = self.encoder()
            scored = score_pairs(encoder, instructions, outputs, seed=self.seed, pool=self.pool,
                                 reference=seed_reference(encoder, self.lang, self.seed))
            relevance, strength, report = scored.relevance, scored.strength, scored.report
        else:
            relevance, strength, report = [None] * len(alive), [None] * len(alive), {"pairs": 0, "auc": None,
                                                                                     "note": "no pairs"}
        report["pool_hash"] = pool_hash(self.pool)
        stage.write(0, Dataset.from_dict({"id": list(batch["id"]), "relevance": relevance, "strength": strength},
                                         features=SCORES))
        (stage.path / "report.json").write_text(json.dumps(report, sort_keys=True), encoding="utf-8")
        stage.mark_complete()


def add_relevance(table: Dataset, work: Path, lang: str, fp: str, encoder: Callable[[], Encoder],
                  seed: int, pool: list[str] | None = None) -> tuple[Dataset, dict, dict]:
    """`table` (REFINED) with a `relevance` column, the language's report, and each row's
    strength by id (for select's floor). `pool`: English instructions written for other texts
    (reference_pools), mismatched for every pair here."""
    from .base import apply_stage

    stage = Relevance(lang, work, fp, encoder, seed, pool)
    out = apply_stage(table, stage, fingerprint(fp, "relevance-column", table._fingerprint, pool_hash(stage.pool)))
    if stage.report is None or not stage.strength:  # no rows, or map answered from its cache
        stage(table.to_dict())
    return out, stage.report, stage.strength


def rank_shards(paths: list[Path], work: Path, lang: str, fp: str, encoder: Encoder) -> list[Path]:
    """generate's shards with each row's candidates ordered by relevance to its text (the first
    one becomes the instruction the rater sees first); one output shard per input, kept on resume."""
    from ..quality.relevance import rank_candidates
    from ..core.schema import GENERATED

    stage = StageDir(work, lang, "rank", fp)
    schema = GENERATED.arrow_schema
    for index, path in enumerate(paths):
        if stage.has(index):
            continue
        # In Arrow, not through Dataset.remove_columns/add_column/cast: each of those costs a
        # fingerprint and a copy of the features, more than the ranking itself on a small shard.
        table = read_shard_table(path, GENERATED)
        ranked = rank_candidates(encoder, table.column("candidates").to_pylist(), table.column("text").to_pylist())
        first = [c[0] if c else q for c, q in zip(ranked, table.column("instruction").to_pylist())]
        for name, values in (("candidates", ranked), ("instruction", first)):
            column = schema.names.index(name)
            table = table.set_column(column, schema.field(name), pa.array(values, type=schema.field(name).type))
        stage.write(index, table)
    return [stage.shard(i) for i in range(len(paths))]


# Instructions of the other languages in a language's pool: enough to fill the comparisons of a
# small language (MAX_MISMATCHED) without embedding a large build's every instruction again.
MAX_POOL_OTHERS = 256


def reference_pools(instructions: dict[str, list[str]]) -> dict[str, list[str]]:
    """Per language, the English instructions its pairs are also compared with: every embedded
    seed's, and up to MAX_POOL_OTHERS of the build's other languages' (`instructions`: each
    language's kept instructions), chosen by a hash of the text so that the choice does not
    depend on order. Each instruction is hashed once, whatever the number of languages."""
    from ..quality.seed_reference import seed_instructions

    seeds = seed_instructions()
    firsts = {lang: _first_by_hash(qs) for lang, qs in instructions.items()}
    pools = {}
    for lang in instructions:
        others = sorted({pair for other, pairs in firsts.items() if other != lang for pair in pairs})
        pools[lang] = seeds + [q for _, q in others[:MAX_POOL_OTHERS]]
    return pools


def _first_by_hash(instructions: list[str]) -> list[tuple[str, str]]:
    """(hash, instruction) of the MAX_POOL_OTHERS instructions with the lowest hashes: another
    language's pool takes its share from these."""
    import heapq

    from ..core.hashing import stable_hash

    return heapq.nsmallest(MAX_POOL_OTHERS, {(stable_hash("pool", q), q) for q in instructions if q})

"""relevance: add each pair's calibrated cross-lingual relevance (builder/quality/relevance.py) after refine.

It runs on a whole language at once (calibration compares a pair with the language's other
pairs) and keeps its result in the work dir as `{lang}/relevance-{fp}/`: one shard (id,
relevance) and report.json. The fingerprint covers refine's output and the encoder, so a rerun
reads the shard back and never loads the encoder or embeds again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pyarrow as pa
from datasets import Dataset, Features, Value

from ..pipeline.workdir import StageDir, fingerprint, read_shard, read_shard_table
from ..quality.relevance import MAX_MISMATCHED, Encoder, score_pairs
from .schema import REFINED, RELEVANT

SCORES = Features({"id": Value("string"), "relevance": Value("float32")})


def relevance_fingerprint(refine_fp: str, encoder: str, seed: int) -> str:
    return fingerprint(refine_fp, "relevance", encoder, seed, MAX_MISMATCHED)


class Relevance:
    """The stage: given a whole language in one batch (`batch_size=None`: calibration compares a
    pair with the language's other pairs), adds `relevance`; `report` is the language's
    calibration report. `encoder` is called only when the stage is not in the work dir yet."""

    name = "relevance"
    input_features = REFINED
    output_features = RELEVANT

    def __init__(self, lang: str, work: Path, fp: str, encoder: Callable[[], Encoder], seed: int):
        self.stage = StageDir(work, lang, "relevance", fp)
        self.encoder = encoder
        self.seed = seed
        self.report: dict | None = None

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        if not (self.stage.complete and self.stage.intact()):
            self._score(batch)
        scores = read_shard(self.stage.shard(0), SCORES)
        by_id = dict(zip(scores["id"][:], scores["relevance"][:]))
        self.report = json.loads((self.stage.path / "report.json").read_text(encoding="utf-8"))
        return {"relevance": [by_id.get(i) for i in batch["id"]]}

    def _score(self, batch: dict[str, list]) -> None:
        stage = self.stage
        stage.reset()
        alive = [d is None for d in batch["dropped"]]
        instructions = [q if keep else None for q, keep in zip(batch["instruction"], alive)]
        outputs = [r if keep else None for r, keep in zip(batch["output"], alive)]
        relevance, report = score_pairs(self.encoder(), instructions, outputs, seed=self.seed) if any(alive) else \
            ([None] * len(alive), {"pairs": 0, "auc": None, "note": "no pairs"})
        stage.write(0, Dataset.from_dict({"id": list(batch["id"]), "relevance": relevance}, features=SCORES))
        (stage.path / "report.json").write_text(json.dumps(report, sort_keys=True), encoding="utf-8")
        stage.mark_complete()


def add_relevance(table: Dataset, work: Path, lang: str, fp: str, encoder: Callable[[], Encoder],
                  seed: int) -> tuple[Dataset, dict]:
    """`table` (REFINED) with a `relevance` column, and the language's report."""
    from .base import apply_stage

    stage = Relevance(lang, work, fp, encoder, seed)
    out = apply_stage(table, stage, fingerprint(fp, "relevance-column", table._fingerprint))
    if stage.report is None:  # no rows: nothing to call the stage with
        stage(table.to_dict())
    return out, stage.report


def rank_shards(paths: list[Path], work: Path, lang: str, fp: str, encoder: Encoder) -> list[Path]:
    """generate's shards with each row's candidates ordered by relevance to its text (the first
    one becomes the instruction the rater sees first); one output shard per input, kept on resume."""
    from ..quality.relevance import rank_candidates
    from .schema import GENERATED

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

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

from datasets import Dataset, Features, Value

from ..quality.relevance import MAX_MISMATCHED, Encoder, score_pairs
from .schema import RELEVANT
from ..pipeline.workdir import StageDir, fingerprint, read_shard

SCORES = Features({"id": Value("string"), "relevance": Value("float32")})


def relevance_fingerprint(refine_fp: str, encoder: str, seed: int) -> str:
    return fingerprint(refine_fp, "relevance", encoder, seed, MAX_MISMATCHED)


def add_relevance(table: Dataset, work: Path, lang: str, fp: str, encoder: Callable[[], Encoder],
                  seed: int) -> tuple[Dataset, dict]:
    """`table` (REFINED) with a `relevance` column, and the language's report; `encoder` is
    called only when the stage is not in the work dir yet."""
    stage = StageDir(work, lang, "relevance", fp)
    if not (stage.complete and stage.intact()):
        stage.reset()
        # Columns as lists (slices): iterating a lazy column formats it row by row.
        alive = [d is None for d in table["dropped"][:]]
        instructions = [q if keep else None for q, keep in zip(table["instruction"][:], alive)]
        outputs = [r if keep else None for r, keep in zip(table["output"][:], alive)]
        relevance, report = score_pairs(encoder(), instructions, outputs, seed=seed) if any(alive) else \
            ([None] * len(table), {"pairs": 0, "auc": None, "note": "no pairs"})
        stage.write(0, Dataset.from_dict({"id": table["id"][:], "relevance": relevance}, features=SCORES))
        (stage.path / "report.json").write_text(json.dumps(report, sort_keys=True), encoding="utf-8")
        stage.mark_complete()
    scores = read_shard(stage.shard(0), SCORES)
    by_id = dict(zip(scores["id"][:], scores["relevance"][:]))
    report = json.loads((stage.path / "report.json").read_text(encoding="utf-8"))
    column = [by_id.get(i) for i in table["id"][:]]
    return table.add_column("relevance", column).cast(RELEVANT), report


def rank_shards(paths: list[Path], work: Path, lang: str, fp: str, encoder: Encoder) -> list[Path]:
    """generate's shards with each row's candidates ordered by relevance to its text (the first
    one becomes the instruction the rater sees first); one output shard per input, kept on resume."""
    from ..quality.relevance import rank_candidates
    from .schema import GENERATED

    stage = StageDir(work, lang, "rank", fp)
    for index, path in enumerate(paths):
        if stage.has(index):
            continue
        table = read_shard(path, GENERATED)
        ranked = rank_candidates(encoder, table["candidates"][:], table["text"][:])
        first = [c[0] if c else q for c, q in zip(ranked, table["instruction"][:])]
        table = table.remove_columns(["candidates", "instruction"]).add_column("candidates", ranked) \
            .add_column("instruction", first).cast(GENERATED)
        stage.write(index, table)
    return [stage.shard(i) for i in range(len(paths))]

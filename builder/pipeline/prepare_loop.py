"""The source stage: a language's corpus streamed through prepare into shards, in the driver.

prepare is called directly, not through `map`: its dedup state spans every shard of a
streamed corpus. Its per-text checks can run in worker processes (prepare_pool.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
from tqdm.auto import tqdm

from ..config import BuildConfig
from ..core.schema import PREPARED
from ..core.workdir import StageDir
from ..corpus.readers import read_corpus
from ..stages.plan import Context, make_stage
from ..stages.prepare import prepare_table
from .prepare_pool import PreparePool


def prepare(
    work: Path,
    config: BuildConfig,
    lang: str,
    fp: str,
    pool: PreparePool,
    count_tokens,
    count_tokens_many=None,
) -> Iterator[Path]:
    """The language's prepared shards, each as soon as it is written; a complete, intact set in
    the work dir is reused. The stage is marked complete after its last shard is yielded, so a
    caller that maps shards while they come (shard_flow.py) and is killed leaves prepare partial,
    and the rerun prepares the language again (dedup is deterministic: the same shards)."""
    stage = StageDir(work, lang, "prepare", fp, PREPARED)
    if stage.complete and stage.intact():
        yield from stage.shards()
        return
    stage.reset()  # dedup state spans the whole corpus: a partial (or damaged) prepare is redone
    c = config
    source = make_stage(
        "prepare", Context(c, lang, count_tokens=count_tokens, count_tokens_many=count_tokens_many)
    )
    rows = read_corpus(
        c.corpus,
        lang,
        text_column=c.text_column,
        lang_column=c.lang_column,
        split=c.split,
        limit=c.max_docs,
    )
    with tqdm(desc=f"prepare {lang}", unit="doc", leave=False) as bar:
        for index, (shard, checks) in enumerate(
            pool.checked(shards_of(rows, c.shard_size), lang, source.config)
        ):
            path = stage.write(index, prepare_shard(source, shard, checks))
            bar.update(len(shard))
            yield path
    stage.mark_complete()


def prepare_shard(stage, rows: list[dict], checks) -> pa.Table:
    # An Arrow table, not a Dataset: a Dataset fingerprints its table by pickling it whole.
    batch = {"text": [r["text"] for r in rows], "source": [r["source"] for r in rows]}
    return prepare_table(
        stage(batch, checks) if rows else {name: [] for name in stage.output_features}
    )


def shards_of(rows, size: int):
    """`rows` in lists of `size`; one empty list for no rows (prepare writes an empty shard then)."""
    shard, any_yielded = [], False
    for row in rows:
        shard.append(row)
        if len(shard) == size:
            yield shard
            shard, any_yielded = [], True
    if shard or not any_yielded:
        yield shard

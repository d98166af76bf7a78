"""prepare's rows on a planted corpus are the rows the code before the speed-up (833f332) wrote:
every column of every row, through the build's own shard function, in one process and with the
per-text checks done as a worker does them. The expectation is frozen in
tests/data/prepare_frozen.json, written by `python tests/test_prepare_frozen.py --write` on that
code; rewrite it only for a change that is meant to change prepared rows (and then change
prepare's fingerprint too, so old work dirs are redone)."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest
from _prepare_helpers import PLANTED_CONFIG, PLANTED_LANGS, planted_corpus, prepared_rows

FROZEN = Path(__file__).parent / "data" / "prepare_frozen.json"


def _digest(rows: list[dict]) -> list[dict]:
    """Rows as stored in the expectation: the text by its hash, the rest as is."""
    return [{**row, "text": hashlib.sha256(row["text"].encode()).hexdigest()[:16]} for row in rows]


@pytest.fixture(scope="module")
def engine(embedded_model_dir):
    from builder.engines.tokenizer_only import TokenizerOnlyEngine

    return TokenizerOnlyEngine("transformers", "smollm2-135m", model_path=str(embedded_model_dir))


@pytest.fixture(scope="module")
def frozen():
    return json.loads(FROZEN.read_text(encoding="utf-8"))


def _block(lang, engine):
    from builder.stages.prepare import Prepare, PrepareConfig

    return Prepare(
        lang, PrepareConfig(**PLANTED_CONFIG), engine.count_tokens, engine.count_tokens_many
    )


@pytest.mark.parametrize("lang", PLANTED_LANGS)
def test_the_build_prepares_the_frozen_rows(lang, engine, frozen):
    from builder.pipeline.prepare_loop import prepare_shard

    rows = prepared_rows(
        planted_corpus(lang), _block(lang, engine), lambda b, s: prepare_shard(b, s, None)
    )
    assert _digest(rows) == frozen[lang]


@pytest.mark.parametrize("lang", PLANTED_LANGS)
def test_worker_checks_give_the_frozen_rows(lang, engine, frozen):
    """With --prepare-workers, the per-text checks come from check_texts (run here in-process)."""
    from builder.pipeline.prepare_loop import prepare_shard
    from builder.stages.prepare import check_texts

    def shard(block, rows):
        return prepare_shard(
            block, rows, check_texts(lang, block.config, [r["text"] for r in rows])
        )

    assert _digest(prepared_rows(planted_corpus(lang), _block(lang, engine), shard)) == frozen[lang]


def test_one_row_at_a_time_gives_the_frozen_rows(engine, frozen):
    """`process` (the stream path: one row, no batch ahead) decides the same."""
    block = _block("hi", engine)
    rows = [block.process(r["text"], r["source"]) for r in planted_corpus("hi")]
    for row in rows:  # as the table stores them: lid's score as float32
        if row["lid"]:
            row["lid"] = {
                **row["lid"],
                "score": float(__import__("numpy").float32(row["lid"]["score"])),
            }
    assert _digest(rows) == frozen["hi"]


def test_the_planted_corpus_reaches_every_check(frozen):
    """The expectation is worth checking against: every drop reason occurs, copies are caught
    across shards, and most rows are kept."""
    dropped = [row["dropped"] for rows in frozen.values() for row in rows]
    for reason in (
        "empty",
        "boilerplate",
        "too_short",
        "exact_duplicate",
        "garbled",
        "too_long",
        "wrong_language",
        "near_duplicate",
        "meta_talk",
    ):
        assert reason in dropped, reason
    assert dropped.count(None) > len(dropped) / 3
    sw = frozen["sw"]
    kept_at = {row["id"]: i for i, row in enumerate(sw) if row["dropped"] is None}
    far = [
        i
        for i, row in enumerate(sw)
        if row["dropped"] == "exact_duplicate" and i // 16 != kept_at[row["id"]] // 16
    ]
    assert far, "no exact copy in another shard than its original"


def test_the_shard_table_is_what_dataset_from_dict_made(engine):
    """Byte for byte the same shards: the table prepare writes equals the one Dataset.from_dict
    made before, schema metadata (datasets' features) included."""
    from datasets import Dataset

    from builder.stages.prepare import PREPARED, prepare_table

    block = _block("ta", engine)
    rows = planted_corpus("ta")[:40]
    out = block({"text": [r["text"] for r in rows], "source": [r["source"] for r in rows]})
    made = Dataset.from_dict({name: out[name] for name in PREPARED}, features=PREPARED).data.table
    assert prepare_table(out).equals(made, check_metadata=True)
    empty = {name: [] for name in PREPARED}
    assert prepare_table(empty).equals(
        Dataset.from_dict(empty, features=PREPARED).data.table, check_metadata=True
    )


def write() -> None:
    """Write the expectation with the code on sys.path (only APIs the old code has)."""
    import functools

    from datasets import Dataset
    from transformers import AutoTokenizer

    from builder.engines.models import embedded_model_dir
    from builder.engines.prompt_tokens import count_text_tokens
    from builder.stages.prepare import Prepare, PrepareConfig

    try:
        from builder.core.schema import PREPARED
    except ImportError:  # the code before the layers refactor, which wrote the frozen rows
        from builder.stages.schema import PREPARED

    count = functools.partial(
        count_text_tokens, AutoTokenizer.from_pretrained(embedded_model_dir())
    )

    def shard(block, rows):
        out = block({"text": [r["text"] for r in rows], "source": [r["source"] for r in rows]})
        return Dataset.from_dict(
            {name: out[name] for name in PREPARED}, features=PREPARED
        ).data.table

    expected = {
        lang: _digest(
            prepared_rows(
                planted_corpus(lang), Prepare(lang, PrepareConfig(**PLANTED_CONFIG), count), shard
            )
        )
        for lang in PLANTED_LANGS
    }
    FROZEN.parent.mkdir(exist_ok=True)
    FROZEN.write_text(json.dumps(expected, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/test_prepare_frozen.py --write")
    sys.path.insert(0, str(Path(__file__).parent))
    write()


def test_batch_token_counts_equal_one_by_one(engine, embedded_model_dir):
    """count_tokens_many (one batch encode on the Rust tokenizer) counts what count_tokens counts,
    and a tokenizer left truncating by someone else still gets whole counts."""
    from transformers import AutoTokenizer

    from builder.corpus.cleaning import clean_text
    from builder.engines.prompt_tokens import count_text_tokens, count_text_tokens_many

    texts = [clean_text(row["text"])[0] for lang in PLANTED_LANGS for row in planted_corpus(lang)]
    assert engine.count_tokens_many(texts) == [engine.count_tokens(text) for text in texts]
    assert engine.count_tokens_many([]) == []
    tokenizer = AutoTokenizer.from_pretrained(embedded_model_dir)
    tokenizer.backend_tokenizer.enable_truncation(8)
    counts = count_text_tokens_many(tokenizer, texts[:5])
    assert counts == [count_text_tokens(tokenizer, text) for text in texts[:5]] and max(counts) > 8

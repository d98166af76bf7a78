"""prepare's batched MinHash (TextChecker.minhash_many) gives datasketch's own values, so the
near-duplicate decisions are the ones datasketch's MinHash.update_batch made before, on the
planted corpus too (exact and near copies, across shards, in five scripts)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from _prepare_helpers import PLANTED_CONFIG, PLANTED_LANGS, PLANTED_SHARD, planted_corpus
from datasketch import MinHash

from builder.corpus.cleaning import dedup_key
from builder.stages.prepare import Prepare, PrepareConfig, TextChecker


def datasketch_values(checker: TextChecker, key: str) -> np.ndarray:
    """What prepare computed before: a datasketch MinHash over the key's shingles."""
    cfg = checker.config
    minhash = MinHash(cfg.num_perm, seed=cfg.minhash_seed, scheme="affine32")
    minhash.update_batch(checker._shingles(key))
    return minhash.hashvalues


class DatasketchChecker(TextChecker):
    """The reference: each text's MinHash by datasketch, one text at a time."""

    def minhash_many(self, keys):
        return [datasketch_values(self, key) for key in keys]


@pytest.mark.parametrize("lang", PLANTED_LANGS)
@pytest.mark.parametrize(
    "config", [{}, {"num_perm": 64, "minhash_seed": 7, "shingle_words": 3, "shingle_chars": 4}]
)
def test_batched_values_are_datasketchs(lang, config):
    checker = TextChecker(lang, PrepareConfig(**config))
    keys = [dedup_key(row["text"]) for row in planted_corpus(lang)]
    # fewer words or characters than a shingle
    keys = [k for k in keys if k] + ["a", "one two", "x" * 3]
    values = checker.minhash_many(keys)
    assert len(values) == len(keys)
    for key, got in zip(keys, values):
        want = datasketch_values(checker, key)
        assert got.dtype == want.dtype and np.array_equal(got, want), key[:40]
    assert np.array_equal(checker.minhash_values(keys[0]), values[0])


def test_random_keys_match_datasketch():
    rng = random.Random(3)
    checker = TextChecker("sw", PrepareConfig())
    words = ["maji", "watu", "haki", "elimu", "kazi", "nchi", "ya", "na", "wa", "kwa"]
    keys = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 300))) for _ in range(200)]
    # more shingles than one chunk
    keys.insert(50, " ".join(f"{rng.choice(words)}{i}" for i in range(6000)))
    values = checker.minhash_many(keys)
    assert len(values) == len(keys)
    for key, got in zip(keys, values):
        assert np.array_equal(got, datasketch_values(checker, key))


@pytest.mark.parametrize("lang", PLANTED_LANGS)
def test_dedup_decisions_match_datasketch_on_the_planted_corpus(lang, embedded_model_dir):
    from _prepare_helpers import TokenCounter
    from transformers import AutoTokenizer

    count = TokenCounter(AutoTokenizer.from_pretrained(embedded_model_dir))
    rows = planted_corpus(lang)
    decisions = {}
    for name, checker_class in (("batched", TextChecker), ("datasketch", DatasketchChecker)):
        block = Prepare(lang, PrepareConfig(**PLANTED_CONFIG), count)
        block.checker = checker_class(lang, block.config)
        dropped = []
        for i in range(0, len(rows), PLANTED_SHARD):
            shard = rows[i : i + PLANTED_SHARD]
            dropped += block(
                {"text": [r["text"] for r in shard], "source": [r["source"] for r in shard]}
            )["dropped"]
        decisions[name] = dropped
    assert decisions["batched"] == decisions["datasketch"]
    assert decisions["batched"].count("near_duplicate") >= 5  # the planted near copies are found
    assert decisions["batched"].count("exact_duplicate") >= 10

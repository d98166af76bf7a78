"""The embedded demo corpus and seed examples for bn, hi, ta, th, ur (package data under builder/data).

These files are what `x-instruction build` runs on offline, so they must load, be in the language
they claim (by the same LID the pipeline uses), and carry exactly the three labelled noise rows
that exercise the cleaning filters: an exact duplicate, a near duplicate and boilerplate.
"""

from __future__ import annotations

import json
import re
import unicodedata
from importlib import resources

import pytest

from builder.languages.lid import detect, is_english, matches

LANGS = ("bn", "hi", "ta", "th", "ur")
GENRES = {
    "news",
    "how-to",
    "encyclopedic",
    "opinion",
    "culture",
    "health",
    "travel",
    "forum-answer",
    "product-review",
}
TEXT_BOUNDS = (300, 900)
SEED_BOUNDS = (150, 400)
MIN_GOOD_ROWS = 20
# character 5-gram Jaccard: the near-duplicate must be this close to its original
NEAR_DUP_MIN = 0.7
DISTINCT_MAX = 0.3  # ...and no two good rows may be this close, or dedup would drop real text


def _read_jsonl(kind: str, lang: str) -> list[dict]:
    path = resources.files("builder") / "data" / kind / f"{lang}.jsonl"
    assert path.is_file(), f"missing package data file builder/data/{kind}/{lang}.jsonl"
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        assert line.strip(), f"{kind}/{lang}.jsonl line {lineno} is blank"
        row = json.loads(line)
        assert isinstance(row, dict), f"{kind}/{lang}.jsonl line {lineno} is not a JSON object"
        rows.append(row)
    return rows


def _shingles(text: str, n: int = 5) -> set[str]:
    # Characters, not words: Thai has no spaces between words.
    return {text[i : i + n] for i in range(len(text) - n + 1)}


def _jaccard(a: str, b: str) -> float:
    sa, sb = _shingles(a), _shingles(b)
    return len(sa & sb) / len(sa | sb)


def _is_nfc(text: str) -> bool:
    return unicodedata.normalize("NFC", text) == text


@pytest.fixture(scope="module", params=LANGS)
def lang(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def corpus(lang) -> list[dict]:
    return _read_jsonl("corpus", lang)


@pytest.fixture(scope="module")
def seeds(lang) -> list[dict]:
    return _read_jsonl("seeds", lang)


def _good(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["genre"] != "noise"]


def test_corpus_schema_ids_and_nfc(lang, corpus):
    ids = [r["id"] for r in corpus]
    assert len(ids) == len(set(ids)), f"duplicate ids in corpus/{lang}.jsonl"
    for row in corpus:
        assert set(row) == {"id", "genre", "title", "text"}, row["id"]
        assert all(isinstance(row[k], str) and row[k].strip() for k in row), row["id"]
        assert re.fullmatch(rf"{lang}-\d{{3}}", row["id"]), row["id"]
        assert row["genre"] in GENRES | {"noise"}, (row["id"], row["genre"])
        assert len(row["title"]) <= 60, f"{row['id']}: title should be short"
        assert _is_nfc(row["text"]) and _is_nfc(row["title"]), f"{row['id']} is not NFC-normalised"


def test_good_rows_lengths_genres_and_language(lang, corpus):
    good = _good(corpus)
    assert len(good) >= MIN_GOOD_ROWS
    assert len({r["genre"] for r in good}) >= 6, "genres should be mixed"
    lo, hi = TEXT_BOUNDS
    for row in good:
        assert lo <= len(row["text"]) <= hi, f"{row['id']}: {len(row['text'])} characters"
        result = detect(row["text"])
        assert matches(result, lang) is True, f"{row['id']} detected as {result}"
        assert result.reliable


def test_good_rows_are_distinct(corpus):
    good = _good(corpus)
    for i, a in enumerate(good):
        for b in good[i + 1 :]:
            assert _jaccard(a["text"], b["text"]) < DISTINCT_MAX, (a["id"], b["id"])


def test_noise_rows_exercise_the_cleaning_filters(lang, corpus):
    noise = [r for r in corpus if r["genre"] == "noise"]
    assert len(noise) == 3 and corpus[-3:] == noise, "exactly three noise rows, at the end"
    exact, near, boilerplate = noise
    good_texts = [r["text"] for r in _good(corpus)]

    assert exact["text"] in good_texts, "the first noise row must repeat an earlier text exactly"

    assert near["text"] not in good_texts
    closest = max(_jaccard(near["text"], t) for t in good_texts)
    assert closest >= NEAR_DUP_MIN, f"near duplicate too far from its original ({closest:.2f})"

    result = detect(boilerplate["text"])
    assert matches(result, lang) is False, f"boilerplate row passes LID as {lang}: {result}"


def test_seeds(lang, seeds):
    assert len(seeds) == 5
    assert [s["id"] for s in seeds] == [f"{lang}-seed-{i}" for i in range(1, 6)]
    lo, hi = SEED_BOUNDS
    for seed in seeds:
        assert set(seed) == {"id", "instruction", "output"}, seed["id"]
        assert _is_nfc(seed["instruction"]) and _is_nfc(seed["output"]), seed["id"]
        assert is_english(seed["instruction"]) is True, f"{seed['id']}: instruction is not English"
        assert lo <= len(seed["output"]) <= hi, (
            f"{seed['id']}: output has {len(seed['output'])} characters"
        )
        result = detect(seed["output"])
        assert matches(result, lang) is True, f"{seed['id']} output detected as {result}"
    assert len({s["instruction"] for s in seeds}) == 5

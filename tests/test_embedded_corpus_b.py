"""The embedded demo corpus and seed pairs for fi, id, sw, tr and vi.

These files are what `x-instruction build` reads by default, offline, so a broken row breaks
the first command a user runs. The checks: each file parses with the documented columns, ids
are unique, text is NFC, lengths fit the prompts, language ID agrees with the file's language
(the prepare stage drops rows it does not), and the three deliberate "noise" rows at the end
really are what they claim to be, so the cleaning filters have something to catch.
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest

import builder
from builder.languages.lid import detect, is_english, matches

LANGS = ["fi", "id", "sw", "tr", "vi"]
DATA = Path(builder.__file__).resolve().parent / "data"

GENRES = {
    "news",
    "how-to",
    "encyclopedic",
    "opinion",
    "culture",
    "health",
    "travel",
    "forum",
    "review",
}
TEXT_CHARS = (300, 900)
SEED_CHARS = (150, 400)
MIN_GOOD_ROWS = 20
# The near-duplicate must be one that prepare's MinHash filter (5-word shingles, Jaccard 0.8
# by default) is meant to catch; measured on exact shingle sets here, not on an estimate.
NEAR_DUP_JACCARD = 0.8


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            assert line.strip(), f"{path}:{number} is blank"
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                pytest.fail(f"{path}:{number} is not JSON: {err}")
    return rows


def _shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.casefold())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def _jaccard(a: str, b: str) -> float:
    sa, sb = _shingles(a), _shingles(b)
    return len(sa & sb) / len(sa | sb)


@pytest.fixture(scope="module", params=LANGS)
def lang(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def corpus(lang) -> list[dict]:
    return _read_jsonl(DATA / "corpus" / f"{lang}.jsonl")


@pytest.fixture(scope="module")
def seeds(lang) -> list[dict]:
    return _read_jsonl(DATA / "seeds" / f"{lang}.jsonl")


def _good(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["genre"] != "noise"]


def test_corpus_rows_are_well_formed(lang, corpus):
    ids = [r.get("id") for r in corpus]
    assert len(set(ids)) == len(ids), f"{lang}: duplicate ids"
    for row in corpus:
        assert set(row) == {"id", "genre", "title", "text"}, (
            f"{row.get('id')}: columns {sorted(row)}"
        )
        assert re.fullmatch(rf"{lang}-\d{{3}}", row["id"]), row["id"]
        assert row["genre"] in GENRES | {"noise"}, f"{row['id']}: unknown genre {row['genre']!r}"
        assert 0 < len(row["title"]) <= 60, f"{row['id']}: title should be short"
        for field in ("title", "text"):
            assert unicodedata.is_normalized("NFC", row[field]), f"{row['id']}: {field} is not NFC"


def test_good_rows_lengths_and_variety(lang, corpus):
    good = _good(corpus)
    assert len(good) >= MIN_GOOD_ROWS, f"{lang}: {len(good)} non-noise rows"
    for row in good:
        assert TEXT_CHARS[0] <= len(row["text"]) <= TEXT_CHARS[1], (
            f"{row['id']}: {len(row['text'])} chars"
        )
        assert "\n" not in row["text"], f"{row['id']}: a paragraph is one line"
    assert len({r["genre"] for r in good}) >= 7, f"{lang}: too few genres"
    texts = [r["text"] for r in good]
    assert len(set(texts)) == len(texts), f"{lang}: a non-noise text repeats"


def test_good_rows_are_in_the_language(lang, corpus):
    wrong = {}
    for row in _good(corpus):
        result = detect(row["text"])
        if matches(result, lang) is not True:
            wrong[row["id"]] = result
    assert not wrong, f"language ID disagrees with {lang}: {wrong}"


def test_noise_rows_exercise_the_filters(lang, corpus):
    good, tail = corpus[:-3], corpus[-3:]
    assert [r["genre"] for r in tail] == ["noise"] * 3, (
        f"{lang}: the three noise rows must come last"
    )
    assert all(r["genre"] != "noise" for r in good)
    exact, near, garbage = tail
    good_texts = [r["text"] for r in good]
    assert exact["text"] in good_texts, f"{exact['id']} is not an exact duplicate of an earlier row"
    assert near["text"] not in good_texts
    best = max(_jaccard(near["text"], t) for t in good_texts)
    assert best >= NEAR_DUP_JACCARD, f"{near['id']}: Jaccard {best:.3f} to its closest row"
    assert matches(detect(garbage["text"]), lang) is False, f"{garbage['id']} reads as {lang}"
    assert max(_jaccard(garbage["text"], t) for t in good_texts) == 0.0


def test_seeds(lang, seeds):
    assert len(seeds) == 5, f"{lang}: {len(seeds)} seed pairs"
    assert [s.get("id") for s in seeds] == [f"{lang}-seed-{i}" for i in range(1, 6)]
    assert len({s["instruction"] for s in seeds}) == 5
    for seed in seeds:
        assert set(seed) == {"id", "instruction", "output"}, f"{seed['id']}: columns {sorted(seed)}"
        for field in ("instruction", "output"):
            assert unicodedata.is_normalized("NFC", seed[field]), (
                f"{seed['id']}: {field} is not NFC"
            )
        assert SEED_CHARS[0] <= len(seed["output"]) <= SEED_CHARS[1], (
            f"{seed['id']}: {len(seed['output'])} chars"
        )
        assert is_english(seed["instruction"]) is True, f"{seed['id']}: instruction not English"
        result = detect(seed["output"])
        assert matches(result, lang) is True, f"{seed['id']}: output detected as {result}"

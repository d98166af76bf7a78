"""The model stages' logic: candidates, rounds, retries, rewrites, selection and clustering."""

from __future__ import annotations

import re

import pytest
from _scripted_engine import ScriptedEngine, last_user

from builder.engines.cache import CachedModel, RequestCache
from builder.stages.diversify import DiversifyConfig, Embedder, diversify
from builder.stages.generate import Generate, GenerateConfig
from builder.stages.refine import Refine, RefineConfig, parse_score_reply
from builder.stages.select import Select, SelectConfig

SW_TEXT = (
    "Ugali ni chakula kikuu katika Afrika Mashariki. Chemsha maji, ongeza unga wa mahindi "
    "polepole huku ukikoroga kwa mwiko hadi uwe mzito, kisha funika kwa dakika tano."
)
SEEDS = [
    {"instruction": "How do I make tea?", "output": "Chemsha maji, weka majani ya chai na sukari."}
]


def _batch(n=2, dropped=None):
    return {
        "id": [f"id{i}" for i in range(n)],
        "text": [SW_TEXT] * n,
        "dropped": dropped or [None] * n,
    }


def test_generate_keeps_clean_candidates_and_names_rejects():
    replies = [
        "Sure! Here is the instruction: How do I cook ugali?",
        "Translate this text into English.",
        "How do I cook ugali?",
        "What is the staple food of East Africa and how is it cooked?",
    ]
    engine = ScriptedEngine(lambda prompt, params, k: replies[k])
    stage = Generate("sw", CachedModel(engine), GenerateConfig(candidates=4), SEEDS)
    out = stage(_batch(2, dropped=[None, "too_short"]))

    assert out["candidates"][0] == [
        "How do I cook ugali?",
        "What is the staple food of East Africa and how is it cooked?",
    ]
    assert [r["reason"] for r in out["rejected"][0]] == ["asks_to_translate", "duplicate_candidate"]
    assert out["instruction"][0] == "How do I cook ugali?"
    # an already dropped row is not sent to the model and keeps its reason
    assert out["dropped"] == [None, "too_short"] and out["candidates"][1] == []
    assert len(engine.prompts) == 1
    # the few-shot chat: system, one seed exchange, then the text
    assert [m["role"] for m in engine.prompts[0]] == ["system", "user", "assistant", "user"]
    assert SW_TEXT in last_user(engine.prompts[0])


def test_generate_drops_rows_without_a_valid_candidate():
    engine = ScriptedEngine(lambda prompt, params, k: "This text is about food.")
    out = Generate("sw", CachedModel(engine), GenerateConfig(candidates=2), SEEDS)(_batch(1))
    assert out["dropped"] == ["no_valid_instruction"]
    assert out["rejected"][0][0]["reason"] == "not_an_instruction"


def test_generate_without_seeds_says_how_to_fix():
    with pytest.raises(ValueError, match="--few-shot 0"):
        Generate("sw", CachedModel(ScriptedEngine(lambda *a: "")), GenerateConfig(), [])


def test_generate_with_fine_tuned_generator_uses_single_turn_prompt():
    engine = ScriptedEngine(lambda prompt, params, k: "How is ugali prepared?")
    Generate(
        "sw", CachedModel(engine), GenerateConfig(candidates=1, few_shot=0), [], fine_tuned=True
    )(_batch(1))
    assert len(engine.prompts[0]) == 1 and "Swahili" in engine.prompts[0][0]["content"]


@pytest.mark.parametrize(
    "reply, expected",
    [
        (" 4\nReason: answers fully.", (4, "answers fully.")),
        (" **5**/5 - great", (5, "- great")),
        (" I think this deserves Score: 3 because it is web text", (3, "because it is web text")),
        (" 5 out of 5\n\nThe response is a good answer", (5, "The response is a good answer")),
        (" 3.\nReason: web text", (3, "web text")),
        (" 1-5\n\nThe response is in Swahili", (None, "")),
        (" 5 out of 10", (None, "")),
        (" 10 out of 10", (None, "")),
        (" 4.5", (None, "")),
        (" 0", (None, "")),
        (" 7\nReason: x", (None, "")),
        ("The response is good.", (None, "")),
        ("", (None, "")),
    ],
)
def test_parse_score_reply(reply, expected):
    assert parse_score_reply(reply) == expected


def _refine_batch(candidates):
    return {
        **_batch(1),
        "candidates": [candidates],
        "instruction": [candidates[0] if candidates else None],
    }


def _scores(table: dict[str, str], rewrite="How is ugali cooked step by step?"):
    """An evaluator scoring by instruction; rewrites answer with `rewrite`."""

    def reply(prompt, params, k):
        content = last_user(prompt)
        if content.startswith("A text in"):
            return rewrite
        instruction = re.search(r"Instruction: (.*)", content).group(1)
        return table[instruction]

    return reply


def test_refine_moves_to_the_next_candidate_and_keeps_the_best():
    engine = ScriptedEngine(
        _scores(
            {"What is ugali?": " 2\nReason: too vague", "How do I cook ugali?": " 5\nReason: good"}
        )
    )
    out = Refine("sw", CachedModel(engine), RefineConfig(rounds=2))(
        _refine_batch(["What is ugali?", "How do I cook ugali?"])
    )
    assert (
        out["instruction"] == ["How do I cook ugali?"]
        and out["score"] == [5]
        and out["rounds"] == [2]
    )
    assert [(j["round"], j["score"], j["status"]) for j in out["judgements"][0]] == [
        (1, 2, "ok"),
        (2, 5, "ok"),
    ]
    assert out["output"] == [SW_TEXT] and out["dropped"] == [None]


def test_refine_rewrites_when_candidates_run_out_and_never_gets_worse():
    engine = ScriptedEngine(
        _scores(
            {
                "What is ugali?": " 3\nReason: reads like web text",
                "How is ugali cooked step by step?": " 2\nReason: worse",
            }
        )
    )
    out = Refine("sw", CachedModel(engine), RefineConfig(rounds=3))(
        _refine_batch(["What is ugali?"])
    )
    rewrites = [p for p in engine.prompts if last_user(p).startswith("A text in")]
    assert len(rewrites) >= 1 and "reads like web text" in last_user(rewrites[0])
    # the rewrite scored lower, so the first instruction stays
    assert out["instruction"] == ["What is ugali?"] and out["score"] == [3]
    # round 3 produces the same rewrite again, which is not rescored
    assert [j["instruction"] for j in out["judgements"][0]] == [
        "What is ugali?",
        "How is ugali cooked step by step?",
    ]


def test_refine_stops_early_when_accepted():
    engine = ScriptedEngine(_scores({"How do I cook ugali?": " 5"}))
    out = Refine("sw", CachedModel(engine), RefineConfig(rounds=3))(
        _refine_batch(["How do I cook ugali?", "unused?"])
    )
    assert out["rounds"] == [1] and len(engine.prompts) == 1


def test_unparseable_judgement_is_retried_once_then_never_read_as_a_score():
    calls = []

    def reply(prompt, params, k):
        calls.append(params.temperature)
        return " 4" if params.temperature > 0 else " good answer"

    out = Refine("sw", CachedModel(ScriptedEngine(reply)), RefineConfig(rounds=1))(
        _refine_batch(["How do I cook ugali?"])
    )
    assert out["judgements"][0][0]["status"] == "retried" and out["score"] == [4]
    assert calls == [0.0, 0.7]

    never = Refine("sw", CachedModel(ScriptedEngine(lambda *a: " fine")), RefineConfig(rounds=1))
    out = never(_refine_batch(["How do I cook ugali?"]))
    assert out["score"] == [None] and out["dropped"] == ["unparseable_judgement"]
    assert (
        out["judgements"][0][0]["status"] == "unparseable"
        and out["judgements"][0][0]["score"] is None
    )


SW_REWRITE = (
    "Ili kupika ugali, chemsha maji kwanza, kisha ongeza unga wa mahindi polepole huku ukikoroga "
    "kwa mwiko hadi uwe mzito. Funika sufuria kwa dakika tano kabla ya kula."
)


def test_refine_response_scores_the_rewrite_and_keeps_the_better_text():
    """The rewrite is judged with the evaluate prompt and the kept instruction; it is published,
    with its own score, only when it scores no lower; both judgements are kept."""
    original = {
        "How do I cook ugali?": " 3\nReason: web text",
        "What is ugali?": " 4\nReason: good",
        "Why is ugali eaten?": " 4\nReason: good",
        "Where is ugali eaten?": " 4\nReason: good",
    }
    # never a score, not even on the retry
    rewritten = {
        "How do I cook ugali?": " 5\nReason: an answer",
        "What is ugali?": " 2\nReason: worse",
        "Why is ugali eaten?": " fine",
    }

    def reply(prompt, params, k):
        content = last_user(prompt)
        instruction = re.search(r"Instruction: (.*)", content).group(1)
        # drifting into English: never judged, never published
        if content.startswith("Rewrite the"):
            return (
                "Ugali is maize porridge." if instruction == "Where is ugali eaten?" else SW_REWRITE
            )
        response = content.split("Response:\n", 1)[1].split("\n\nHow well", 1)[0]
        return (rewritten if response == SW_REWRITE else original)[instruction]

    batch = {**_batch(4), "candidates": [[q] for q in original], "instruction": list(original)}
    out = Refine(
        "sw", CachedModel(ScriptedEngine(reply)), RefineConfig(rounds=1, refine_response=True)
    )(batch)
    assert out["output"] == [SW_REWRITE, SW_TEXT, SW_TEXT, SW_TEXT]
    assert (
        out["score"] == [5, 4, 4, 4]
        and out["rounds"] == [1, 1, 1, 1]
        and out["dropped"] == [None] * 4
    )
    judged = [
        [(j["round"], j["response"], j["score"], j["status"]) for j in js]
        for js in out["judgements"]
    ]
    assert judged == [
        [(1, "original", 3, "ok"), (1, "rewritten", 5, "ok")],
        [(1, "original", 4, "ok"), (1, "rewritten", 2, "ok")],
        [(1, "original", 4, "ok"), (1, "rewritten", None, "unparseable")],
        [(1, "original", 4, "ok")],
    ]
    assert all(j["instruction"] == q for q, js in zip(original, out["judgements"]) for j in js)


def test_select_names_each_reason():
    stage = Select("sw", SelectConfig(accept_score=4))
    batch = {
        "dropped": [None, None, None, None, "garbled", None],
        "instruction": ["How do I cook ugali?"] * 3
        + ["Translate it into English please", "x", "How do I cook ugali?"],
        "output": [
            SW_TEXT,
            SW_TEXT,
            SW_TEXT,
            SW_TEXT,
            SW_TEXT,
            "The quick brown fox jumps over the lazy dog " * 3,
        ],
        "score": [5, 3, None, 5, 5, 5],
    }
    assert stage(batch)["dropped"] == [
        None,
        "low_score",
        "unscored",
        "instruction_asks_to_translate",
        "garbled",
        "response_wrong_language",
    ]


@pytest.fixture(scope="module")
def embedder():
    return Embedder("all-MiniLM-L6-v2")


def test_diversify_keeps_the_best_pair_per_topic(embedder):
    instructions = [
        "How do I cook ugali?",
        "What is the way to prepare ugali?",
        "Explain the causes of inflation.",
        "Why does inflation happen?",
        "Describe the history of Zanzibar.",
        "Tell me about Zanzibar's past.",
    ]
    scores = [4, 5, 5, 4, 4, 4]
    clusters, kept = diversify(instructions, scores, DiversifyConfig(target_size=3), embedder)
    assert len(set(clusters)) == 3
    assert clusters[0] == clusters[1] and clusters[2] == clusters[3] and clusters[4] == clusters[5]
    assert sum(kept) == 3 and kept[1] and kept[2]  # the higher score wins inside a cluster
    assert kept[4] != kept[5]  # a tie keeps exactly one


def test_diversify_keeps_everything_under_the_target(embedder):
    clusters, kept = diversify(
        ["How do I cook ugali?", "Why does inflation happen?"],
        [4, 4],
        DiversifyConfig(target_size=10),
        embedder,
    )
    assert kept == [True, True] and len(clusters) == 2


def test_cached_model_sends_only_misses(tmp_path):
    engine = ScriptedEngine(lambda prompt, params, k: f"answer to {prompt}")
    from builder.engines.base import SamplingParams

    model = CachedModel(engine, RequestCache(tmp_path / "c.sqlite"), chunk_size=2)
    params = SamplingParams(max_new_tokens=8)
    first = model(["a", "b", "c"], params, "t1")
    assert engine.stats.calls == 3 and model.hits == 0
    again = CachedModel(engine, RequestCache(tmp_path / "c.sqlite"))(["c", "d", "a"], params, "t1")
    assert engine.stats.calls == 4  # only "d" was new
    assert again[0].texts == first[2].texts and again[2].texts == first[0].texts
    # another template hash or other sampling parameters are other requests
    model(["a"], params, "t2")
    model(["a"], SamplingParams(max_new_tokens=9), "t1")
    assert engine.stats.calls == 6


def test_generate_and_refine_run_on_a_real_tiny_model(tiny_engine):
    """The stages accept real engine output (random text from a random Llama) without crashing.
    The random words pass the instruction checks (they are English subwords); the rater's reply
    holds no score, so the pair is dropped as unparseable, never read as a score."""
    gen = Generate(
        "sw", CachedModel(tiny_engine), GenerateConfig(candidates=2, max_new_tokens=8), SEEDS
    )(_batch(2))
    for i in range(2):
        assert len(gen["candidates"][i]) + len(gen["rejected"][i]) == 2
        assert (gen["dropped"][i] is None) == bool(gen["candidates"][i])
    batch = {
        **_batch(1),
        "candidates": [["How do I cook ugali?"]],
        "instruction": ["How do I cook ugali?"],
    }
    out = Refine("sw", CachedModel(tiny_engine), RefineConfig(rounds=1, max_new_tokens=4))(batch)
    # Seeded weights and sampling: the reply (and its retry) is random words every time.
    assert [(j["status"], j["score"]) for j in out["judgements"][0]] == [("unparseable", None)]
    assert out["score"] == [None] and out["dropped"] == ["unparseable_judgement"]


def test_top_up_fills_empty_clusters_with_best_scored_distinct_rows():
    import numpy as np

    from builder.stages.diversify import top_up

    vectors = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.5, 0.5], [0.8, 0.2]])
    labels = np.array([0, 0, 1, 1, 0])
    centroids = np.array([[0.9, 0.1], [0.25, 0.75]])
    kept = np.array([False, True, True, False, False])
    top_up(kept, labels, centroids, vectors, [5, 4, 4, 5, 3], target=4)
    # rows 0 and 3 score 5: they fill the two missing places; row 4 (score 3) does not
    assert kept.tolist() == [True, True, True, True, False]
    top_up(kept, labels, centroids, vectors, [5, 4, 4, 5, 3], target=3)  # already enough: unchanged
    assert kept.sum() == 4

"""The `evaluate` metric modules in eval/, loaded by path as a user would load them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _engine_helpers import judged_answers

from builder.judge.aggregate import pairwise_summary
from builder.judge.fidelity import language_fidelity

evaluate = pytest.importorskip("evaluate")

EVAL_DIR = Path(__file__).resolve().parents[1] / "eval"


@pytest.fixture(scope="module")
def pairwise():
    return evaluate.load(str(EVAL_DIR / "pairwise_judge"))


@pytest.fixture(scope="module")
def fidelity():
    return evaluate.load(str(EVAL_DIR / "language_fidelity"))


def s(first, second) -> str:
    return f"<score1>{first}</score1> <score2>{second}</score2>"


QUESTIONS = [
    "Why do leaves change colour?",
    "How do I boil an egg?",
    "What is rain?",
    "Name a prime number.",
]
ANSWERS_A = [
    "Because chlorophyll breaks down in autumn.",
    "Boil it for eight minutes.",
    "Water falling from clouds.",
    "7",
]
ANSWERS_B = ["Seasons.", "Use water.", "Rain is when water falls from clouds as drops.", "Four."]
JUDGEMENTS = [s(9, 3), s(8, 5), s(6, 6), "Answer 1 is better"]
SWAPPED = [s(2, 9), s(5, 8), s(8, 5), s(1, 9)]


def test_pairwise_metric_loads_by_path_and_matches_the_builder_maths(pairwise):
    result = pairwise.compute(
        questions=QUESTIONS,
        answers_a=ANSWERS_A,
        answers_b=ANSWERS_B,
        judgements=JUDGEMENTS,
        judgements_swapped=SWAPPED,
    )
    expected = pairwise_summary(
        JUDGEMENTS,
        SWAPPED,
        lengths_a=[len(a) for a in ANSWERS_A],
        lengths_b=[len(b) for b in ANSWERS_B],
    )
    assert result == expected
    # pair 3: tie in the first order, B in the second -> loss; pair 4 is invalid
    assert (result["win_rate"], result["loss_rate"]) == (
        pytest.approx(2 / 3, abs=1e-4),
        pytest.approx(1 / 3, abs=1e-4),
    )
    assert result["invalid_judgements"] == 1 and result["excluded_pairs"] == 1


def test_pairwise_metric_options_reach_the_maths(pairwise):
    kwargs = dict(
        questions=QUESTIONS,
        answers_a=ANSWERS_A,
        answers_b=ANSWERS_B,
        judgements=JUDGEMENTS,
        judgements_swapped=SWAPPED,
    )
    single = pairwise.compute(partial="single", **kwargs)
    # pair 4 has only its swapped order: B first scored 1, A second 9 -> a win for A
    assert single["valid_pairs"] == 4 and single["win_rate"] == 0.75 and single["loss_rate"] == 0.25
    agree = pairwise.compute(rule="agree", **kwargs)
    assert agree["tie_rate"] == pytest.approx(1 / 3, abs=1e-4)
    verdicts = pairwise.compute(
        questions=QUESTIONS[:2],
        answers_a=ANSWERS_A[:2],
        answers_b=ANSWERS_B[:2],
        judgements=["[[1]]", "[[tie]]"],
        judgements_swapped=["[[2]]", "[[tie]]"],
        judge_format="verdict",
    )
    assert (verdicts["win_rate"], verdicts["tie_rate"]) == (0.5, 0.5)


def test_pairwise_metric_add_batch_then_compute(pairwise):
    for i in range(0, 4, 2):
        pairwise.add_batch(
            questions=QUESTIONS[i : i + 2],
            answers_a=ANSWERS_A[i : i + 2],
            answers_b=ANSWERS_B[i : i + 2],
            judgements=JUDGEMENTS[i : i + 2],
            judgements_swapped=SWAPPED[i : i + 2],
        )
    result = pairwise.compute()
    assert result["pairs"] == 4 and result["valid_pairs"] == 3


def test_pairwise_metric_with_a_judge_callable_asks_both_orders(pairwise):
    seen = []

    def judge(prompts):
        # a judge that reads the prompt: the answer that mentions chlorophyll or minutes wins
        seen.extend(prompts)
        replies = []
        for messages in prompts:
            text = messages[-1]["content"]
            first, second = judged_answers(text)
            good = lambda a: any(w in a for w in ("chlorophyll", "minutes", "7"))  # noqa: E731
            replies.append(s(9 if good(first) else 4, 9 if good(second) else 4))
        return replies

    result = pairwise.compute(
        questions=QUESTIONS, answers_a=ANSWERS_A, answers_b=ANSWERS_B, judge=judge, lang="sw"
    )
    assert len(seen) == 8  # every pair, both orders
    assert all("Swahili" in p[-1]["content"] for p in seen)
    assert result["judgements"] == 8 and result["invalid_judgements"] == 0
    assert result["win_rate"] == 0.75 and result["tie_rate"] == 0.25
    assert result["consistency"] == 1.0


def test_pairwise_metric_judges_a_second_turn_with_its_conversation(pairwise):
    seen = []

    def judge(prompts):  # prefers the answer that does what turn 2 asked (a shorter version)
        seen.extend(prompts)
        replies = []
        for messages in prompts:
            text = messages[-1]["content"]
            first, second = judged_answers(text)
            replies.append(s(8, 2) if len(first) < len(second) else s(2, 8))
        return replies

    result = pairwise.compute(
        questions=["Now say it in five words."],
        answers_a=["Leaves lose chlorophyll."],
        answers_b=["Autumn leaves change colour because the green chlorophyll breaks down."],
        contexts_a=[
            [["Why do leaves change colour?", "Because chlorophyll breaks down in autumn."]]
        ],
        contexts_b=[[["Why do leaves change colour?", "Seasons."]]],
        judge=judge,
        lang="sw",
    )
    assert result["win_rate"] == 1.0
    ab, ba = seen[0][-1]["content"], seen[1][-1]["content"]
    # each order shows each system's own earlier answer in the conversation of its position
    assert (
        "<conversation1>" in ab
        and "Because chlorophyll breaks down" in ab.split("</conversation1>")[0]
    )
    assert "Seasons." in ab.split("<conversation2>")[1].split("</conversation2>")[0]
    assert "Seasons." in ba.split("</conversation1>")[0]
    with pytest.raises(ValueError, match="pass judge= too"):
        pairwise.compute(
            questions=QUESTIONS,
            answers_a=ANSWERS_A,
            answers_b=ANSWERS_B,
            judgements=JUDGEMENTS,
            judgements_swapped=SWAPPED,
            contexts_a=[[]] * 4,
        )


def test_pairwise_metric_with_a_real_engine_as_judge(pairwise, tiny_engine):
    # The random tiny model cannot keep the format: every judgement is invalid, none is a score.
    result = pairwise.compute(
        questions=QUESTIONS[:2],
        answers_a=ANSWERS_A[:2],
        answers_b=ANSWERS_B[:2],
        judge=tiny_engine,
        lang="fi",
        prefill=True,
        judge_max_tokens=6,
    )
    assert result["judgements"] == 4 and result["invalid_judgements"] == 4
    assert result["win_rate"] is None and result["valid_pairs"] == 0


def test_pairwise_metric_refuses_ambiguous_or_incomplete_input(pairwise):
    with pytest.raises(ValueError, match="not both"):
        pairwise.compute(
            questions=QUESTIONS,
            answers_a=ANSWERS_A,
            answers_b=ANSWERS_B,
            judgements=JUDGEMENTS,
            judgements_swapped=SWAPPED,
            judge=lambda p: [],
            lang="sw",
        )
    with pytest.raises(ValueError, match="lang="):
        pairwise.compute(
            questions=QUESTIONS, answers_a=ANSWERS_A, answers_b=ANSWERS_B, judge=lambda p: []
        )
    with pytest.raises(ValueError, match="one string per prompt"):
        pairwise.compute(
            questions=QUESTIONS,
            answers_a=ANSWERS_A,
            answers_b=ANSWERS_B,
            judge=lambda p: ["x"],
            lang="sw",
        )
    with pytest.raises(ValueError, match="Mismatch in the number"):
        pairwise.compute(
            questions=QUESTIONS,
            answers_a=ANSWERS_A,
            answers_b=ANSWERS_B,
            judgements=JUDGEMENTS,
            judgements_swapped=SWAPPED[:3],
        )


def _udhr(shared_data: Path, lang: str, n: int = 4) -> list[str]:
    rows = [
        json.loads(line)
        for line in (shared_data / "udhr" / f"{lang}.jsonl")
        .read_text(encoding="utf-8")
        .splitlines()
    ]
    return [r["text"] for r in rows[:n]]


def test_fidelity_metric_on_real_text(fidelity, shared_data):
    answers, languages = [], []
    for lang in ("sw", "bn", "ta", "th", "fi", "vi", "tr"):
        answers += _udhr(shared_data, lang)
        languages += [lang] * 4
    result = fidelity.compute(answers=answers, languages=languages)
    assert result["answers"] == 28 and result["undecided"] == 0
    assert result["fidelity"] == 1.0
    assert set(result["per_language"]) == {"sw", "bn", "ta", "th", "fi", "vi", "tr"}
    assert all(score["in_language"] for score in result["scores"])
    # English text where Swahili was asked for is the failure this metric exists to catch
    english = _udhr(shared_data, "en")
    wrong = fidelity.compute(answers=english + _udhr(shared_data, "sw"), lang="sw")
    assert wrong["fidelity"] == 0.5 and wrong["in_language"] == 4
    assert [s["detected"] for s in wrong["scores"][:4]] == ["en"] * 4
    low, high = wrong["fidelity_ci"]
    assert 0 < low < 0.5 < high < 1


def test_fidelity_short_and_empty_answers(fidelity):
    result = fidelity.compute(
        answers=["Sawa.", "", "Mvua inanyesha sana leo katika mji wetu wa pwani na mashambani."],
        lang="sw",
    )
    assert result["undecided"] == 1  # "Sawa." is too short to tell, not a failure
    assert result["scores"][1]["in_language"] is False  # an empty answer is a failure
    assert result["fidelity"] == 0.5
    assert result == language_fidelity(
        ["Sawa.", "", "Mvua inanyesha sana leo katika mji wetu wa pwani na mashambani."], ["sw"] * 3
    )


def test_fidelity_metric_refuses_bad_input(fidelity):
    with pytest.raises(ValueError, match="either lang="):
        fidelity.compute(answers=["x"], languages=["sw"], lang="sw")
    with pytest.raises(ValueError, match="unknown language code 'xx'"):
        fidelity.compute(answers=["some answer text here"], lang="xx")
    assert fidelity.compute(answers=[], languages=[])["fidelity"] is None

"""Parsing judge outputs as real judges write them: clean, chatty, malformed, cut off, reversed."""

from __future__ import annotations

import pytest

from builder.judge.parsing import (
    CONFLICTING,
    EMPTY,
    INCOMPLETE,
    MALFORMED,
    MISSING,
    OK,
    OUT_OF_RANGE,
    TRUNCATED,
    parse_judgement,
)
from builder.judge.prompts import judge_messages, judge_template_hash, prefill_of


@pytest.mark.parametrize(
    "text, expected",
    [
        ("<score1>8</score1> <score2>6</score2>", (8, 6)),
        # reversed tag order: names, not positions, decide which answer a score belongs to
        ("<score2>3</score2>\n<score1>9</score1>", (9, 3)),
        # GPT-4 style: reasoning first, scores at the end
        (
            "Answer 1 is accurate and written in Swahili, while answer 2 switches to English halfway.\n"
            "<score1>9</score1>\n<score2>4</score2>",
            (9, 4),
        ),
        ("<score1> 7.5 </score1><score2>7</score2>", (7.5, 7)),
        ("<SCORE1>**8**</SCORE1> <Score2>5/10</Score2>", (8, 5)),
        ("<score1>6 out of 10</score1> <score2>10</score2>", (6, 10)),
        ("<score1>0</score1><score2>10</score2>", (0, 10)),
        # a missing slash on the closing tag, a slip weak judges make
        ("<score1>7<score1> <score2>2<score2>", (7, 2)),
        # the template echoed back first, then the real scores
        ("<score1>N</score1> <score2>M</score2>\n<score1>4</score1> <score2>8</score2>", (4, 8)),
        # the same score restated
        ("<score1>8</score1> <score2>5</score2>. To sum up: <score1>8</score1>", (8, 5)),
    ],
)
def test_valid_score_outputs(text, expected):
    judgement = parse_judgement(text, "scores")
    assert judgement.status == OK
    assert (judgement.score1, judgement.score2) == expected


@pytest.mark.parametrize(
    "text, finish_reason, status",
    [
        ("", None, EMPTY),
        ("   \n", None, EMPTY),
        ("Both answers are good. Score 1: 8, score 2: 7.", None, MISSING),
        ("<score1>N</score1> <score2>M</score2>", None, MALFORMED),  # placeholders copied
        ("<score1>eight</score1> <score2>seven</score2>", None, MALFORMED),
        ("<score1>11</score1> <score2>4</score2>", None, OUT_OF_RANGE),
        ("<score1>-1</score1> <score2>4</score2>", None, OUT_OF_RANGE),
        ("<score1>7</score1> <score2>100</score2>", None, OUT_OF_RANGE),
        ("<score1>8</score1> <score1>3</score1> <score2>5</score2>", None, CONFLICTING),
        ("<score1>8</score1>", None, INCOMPLETE),
        ("<score2>8</score2>", None, INCOMPLETE),
        # cut off by max tokens: an open tag, a half-written tag, or the engine says "length"
        ("<score1>8</score1> <score2>6", None, TRUNCATED),
        ("<score1>8</score1> <sco", None, TRUNCATED),
        ("Answer 1 explains the idea clearly, but answer 2 is", "length", TRUNCATED),
        ("<score1>8</score1> and then", "length", TRUNCATED),
    ],
)
def test_invalid_score_outputs(text, finish_reason, status):
    judgement = parse_judgement(text, "scores", finish_reason)
    assert judgement.status == status
    assert not judgement.valid
    assert judgement.preference() is None
    assert judgement.score1 is None and judgement.score2 is None


def test_finish_reason_does_not_invalidate_a_complete_judgement():
    judgement = parse_judgement(
        "<score1>8</score1> <score2>6</score2> Answer 1 is", "scores", "length"
    )
    assert judgement.status == OK and judgement.preference() == 1


def test_score_preference_and_ties():
    assert parse_judgement("<score1>8</score1><score2>6</score2>").preference() == 1
    assert parse_judgement("<score1>6</score1><score2>8</score2>").preference() == -1
    assert parse_judgement("<score1>7</score1><score2>7.0</score2>").preference() == 0


@pytest.mark.parametrize(
    "text, verdict",
    [
        ("Answer 1 is in Tamil and complete.\n[[1]]", "1"),
        ("[[2]]", "2"),
        ("Both are equally helpful. [[tie]]", "tie"),
        ("[[ TIE ]]", "tie"),
        ("MT-bench labels work too: [[A]]", "1"),
        ("[[B]]", "2"),
        ("[[C]]", "tie"),
        # the options restated, then the verdict on its own last line, as the prompt asks
        (
            "I must answer [[1]] if answer 1 is better, [[2]] if answer 2 is better, or [[tie]].\n"
            "Answer 2 answers in English, which this user cannot read.\n[[1]]",
            "1",
        ),
        ("[[2]] ... on reflection I keep my verdict: [[2]]", "2"),
    ],
)
def test_valid_verdicts(text, verdict):
    judgement = parse_judgement(text, "verdict")
    assert judgement.status == OK and judgement.verdict == verdict
    assert judgement.preference() == {"1": 1, "2": -1, "tie": 0}[verdict]


@pytest.mark.parametrize(
    "text, finish_reason, status",
    [
        ("Answer 1 is better.", None, MISSING),
        ("[[1]] or maybe [[2]]", None, CONFLICTING),
        ("Answer 1 is more detailed, and answer 2", "length", TRUNCATED),
        ("", None, EMPTY),
        ("[[3]]", None, MISSING),
    ],
)
def test_invalid_verdicts(text, finish_reason, status):
    assert parse_judgement(text, "verdict", finish_reason).status == status


def test_unknown_format_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="scores, scores-reasoned, verdict"):
        parse_judgement("<score1>1</score1>", "stars")


def test_judge_prompt_puts_answers_in_positions_and_names_the_language():
    messages = judge_messages(
        "Why is the sky blue?", "first answer", "second answer", "sw", "scores"
    )
    user = messages[1]["content"]
    assert "Swahili" in user
    assert user.index("<answer1>\nfirst answer\n</answer1>") < user.index(
        "<answer2>\nsecond answer\n</answer2>"
    )
    assert "<score1>" in user and "<score2>" in user
    assert prefill_of(messages) == ""


def test_prefill_only_for_the_plain_scores_format_and_part_of_the_cache_key():
    assert prefill_of(judge_messages("q", "a", "b", "sw", "scores", prefill=True)) == "<score1>"
    # reasoning has to come before the verdict, so those formats are never pre-filled
    assert prefill_of(judge_messages("q", "a", "b", "sw", "verdict", prefill=True)) == ""
    assert judge_template_hash("scores", True) != judge_template_hash("scores", False)
    assert judge_template_hash("verdict", True) == judge_template_hash("verdict", False)


def test_prefilled_reply_parses_once_the_prefill_is_put_back():
    # The engine returns only the continuation of "<score1>"; run_judge prepends it.
    assert parse_judgement("7</score1> <score2>3</score2>").status == INCOMPLETE
    assert parse_judgement("<score1>" + "7</score1> <score2>3</score2>").preference() == 1

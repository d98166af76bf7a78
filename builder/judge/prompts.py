"""The judge's prompts, versioned like every other prompt of the project (builder/prompts.py).

Two output formats:

* ``scores`` (the paper's): each answer gets a whole-number score from 0 to 10, written as
  ``<score1>N</score1>`` and ``<score2>M</score2>``. ``scores-reasoned`` asks for two sentences
  of reasoning before the same tags (the paper's first prompt variant).
* ``verdict``: one verdict, ``[[1]]``, ``[[2]]`` or ``[[tie]]`` (MT-bench's pairwise style).

Later turns of a multi-turn question (MT-Bench) are judged with their context: the prompt
shows each assistant's own earlier conversation, then the last user message and the two
replies to it, and asks to judge those replies only (as FastChat's multi-turn pairwise judge
does). The format contract is the same, so parsing and aggregation do not change.

The wording is this project's own; only the tag contract follows the paper. Answers are
labelled 1 and 2 by position: the harness asks every pair twice with the order swapped and
maps the labels back to systems A and B (builder.judge.aggregate).

A weak local judge (the embedded 135M model) rarely keeps the output format on its own, so
the judge's reply can be pre-filled with the start of the format (``<score1>``, ``[[``); the
engines continue a final assistant message instead of answering it. OpenAI-compatible APIs
generally do not continue a final assistant message, so the harness pre-fills only local
engines unless told otherwise. The pre-fill is part of the prompt, hence of the cache key.
"""

from __future__ import annotations

from ..languages import get_language
from ..prompts import Template

FORMATS = ("scores", "scores-reasoned", "verdict")

JUDGE_SYSTEM = Template(
    "judge_system",
    "1",
    "You are an impartial judge of answers written by AI assistants. You judge content and "
    "language only: not the order in which answers are shown, and not their length.",
)

_PAIR = (
    "A user asked the question below and wants the answer in {language}; the user reads "
    "{language} only.\n\n"
    "<question>\n{question}\n</question>\n\n"
    "<answer1>\n{answer1}\n</answer1>\n\n"
    "<answer2>\n{answer2}\n</answer2>\n\n"
)

_SCORE_CRITERIA = (
    "Give each answer a whole-number score from 0 (useless) to 10 (excellent) for how helpful, "
    "relevant, accurate and detailed it is for this user. An answer that is not written in "
    "{language} cannot help this user and scores low.\n"
)

# A later turn: each assistant's own earlier turns, then the last message and the two replies.
_CONVERSATION = (
    "A user held a conversation with two AI assistants, sending both the same messages, and "
    "wants every answer in {language}; the user reads {language} only. Each assistant saw its "
    "own earlier answers.\n\n"
    "<conversation1>\n{history1}\n</conversation1>\n\n"
    "<conversation2>\n{history2}\n</conversation2>\n\n"
    "Then the user sent this message to both; answer 1 continues conversation 1 and answer 2 "
    "continues conversation 2.\n\n"
    "<question>\n{question}\n</question>\n\n"
    "<answer1>\n{answer1}\n</answer1>\n\n"
    "<answer2>\n{answer2}\n</answer2>\n\n"
    "Judge answer 1 and answer 2 only, the replies to this last message, each in the light of "
    "its own conversation (a request about an earlier answer refers to that assistant's "
    "answer).\n"
)

# The format is shown with letters, not digits: a weak judge that copies an example would
# otherwise copy its numbers and produce scores that look valid; a copied "N" is reported as
# malformed instead.
_SCORES = (
    _SCORE_CRITERIA
    + "Reply with the two scores only, in this form, where N is the score of answer 1 and M "
    "the score of answer 2:\n<score1>N</score1> <score2>M</score2>"
)
_SCORES_REASONED = (
    _SCORE_CRITERIA
    + "First explain your judgement in at most three sentences. Then end with the two scores "
    "in this form, where N is the score of answer 1 and M the score of answer 2:\n"
    "<score1>N</score1> <score2>M</score2>"
)
_VERDICT = (
    "Decide which answer helps this user more, considering helpfulness, relevance, accuracy "
    "and detail. An answer that is not written in {language} cannot help this user.\n"
    "Explain your decision in at most three sentences, then end with your verdict on its own "
    "line: [[1]] if answer 1 is better, [[2]] if answer 2 is better, [[tie]] if they are "
    "equally good."
)

PAIRWISE_SCORES = Template("judge_pairwise_scores", "1", _PAIR + _SCORES)
PAIRWISE_SCORES_REASONED = Template("judge_pairwise_scores_reasoned", "1", _PAIR + _SCORES_REASONED)
PAIRWISE_VERDICT = Template("judge_pairwise_verdict", "1", _PAIR + _VERDICT)
MULTI_TURN_TEMPLATES = {
    "scores": Template("judge_multiturn_scores", "1", _CONVERSATION + _SCORES),
    "scores-reasoned": Template(
        "judge_multiturn_scores_reasoned", "1", _CONVERSATION + _SCORES_REASONED
    ),
    "verdict": Template("judge_multiturn_verdict", "1", _CONVERSATION + _VERDICT),
}

TRANSLATE_QUESTION = Template(
    "translate_question",
    "1",
    "Translate this English question into {language}. Keep its meaning, tone and any code or "
    "numbers unchanged. Reply with the translation only.\n\n{question}",
)

TEMPLATES = {
    "scores": PAIRWISE_SCORES,
    "scores-reasoned": PAIRWISE_SCORES_REASONED,
    "verdict": PAIRWISE_VERDICT,
}
# What a pre-filled reply starts with, per format. Reasoned formats are not pre-filled: the
# reasoning has to come first.
PREFILLS = {"scores": "<score1>", "scores-reasoned": None, "verdict": None}


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown judge format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    return fmt


def judge_template(fmt: str, multi_turn: bool = False) -> Template:
    return (MULTI_TURN_TEMPLATES if multi_turn else TEMPLATES)[check_format(fmt)]


def judge_template_hash(fmt: str, prefill: bool, multi_turn: bool = False) -> str:
    """The hash that goes into the judge's cache keys: template, system prompt and pre-fill."""
    return f"{judge_template(fmt, multi_turn).hash}-{JUDGE_SYSTEM.hash}-{'p' if prefill and PREFILLS[fmt] else 'n'}"


# One earlier turn of a conversation: (the user's message, the assistant's answer).
Turn = tuple[str, str]


def format_history(turns: list[Turn]) -> str:
    return "\n".join(
        f"<user>\n{user.strip()}\n</user>\n<assistant>\n{answer.strip() or '(empty answer)'}\n</assistant>"
        for user, answer in turns
    )


def judge_messages(
    question: str,
    answer1: str,
    answer2: str,
    lang: str,
    fmt: str = "scores",
    prefill: bool = False,
    history1: list[Turn] | None = None,
    history2: list[Turn] | None = None,
) -> list[dict[str, str]]:
    """The chat for one judgement, answers in the given positions. With histories (the earlier
    turns each answer continues) the multi-turn template is used."""
    fields = {}
    if history1 or history2:
        fields = {
            "history1": format_history(history1 or []),
            "history2": format_history(history2 or []),
        }
    text = judge_template(fmt, bool(fields)).format(
        language=get_language(lang).name,
        question=question.strip(),
        answer1=answer1.strip() or "(empty answer)",
        answer2=answer2.strip() or "(empty answer)",
        **fields,
    )
    messages = [{"role": "system", "content": JUDGE_SYSTEM.text}, {"role": "user", "content": text}]
    start = PREFILLS[fmt] if prefill else None
    if start:
        messages.append({"role": "assistant", "content": start})
    return messages


def prefill_of(messages: list[dict[str, str]]) -> str:
    """The pre-filled start of the reply in `messages` ('' when there is none)."""
    return messages[-1]["content"] if messages and messages[-1]["role"] == "assistant" else ""


def translate_messages(question: str, lang: str) -> list[dict[str, str]]:
    return [
        {
            "role": "user",
            "content": TRANSLATE_QUESTION.format(
                language=get_language(lang).name, question=question.strip()
            ),
        }
    ]

"""Multi-turn questions (MT-Bench): each turn is asked inside the conversation so far.

As in FastChat's llm_judge, turn k of a question is sent with turns 1..k-1 and the answering
model's own answers to them, so the model under test and the reference each continue their
own conversation. Every user turn carries the same request to answer in the target language
(`builder.prompts.answer_prompt`), so a first turn is the exact prompt a single-turn question
gets (same cache keys).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from ..engines import Completion, Prompt, SamplingParams
from ..prompts import answer_prompt

# (prompts, params, turn number from 1) -> one completion per prompt
Generate = Callable[[list[Prompt], SamplingParams, int], list[Completion]]


def conversation_messages(
    turns: Sequence[str], answers: Sequence[str], lang: str
) -> list[dict[str, str]]:
    """The chat that asks the last of `turns`, with the answers given to the earlier ones."""
    if len(answers) != len(turns) - 1:
        raise ValueError(
            f"{len(turns)} turns need {len(turns) - 1} earlier answers, got {len(answers)}"
        )
    messages = []
    for k, turn in enumerate(turns):
        messages.append({"role": "user", "content": answer_prompt(turn, lang)})
        if k < len(answers):
            messages.append({"role": "assistant", "content": answers[k]})
    return messages


def answer_conversations(
    generate: Generate, turns: Sequence[Sequence[str]], langs: Sequence[str], params: SamplingParams
) -> list[list[list[str]]]:
    """Answer every question turn by turn; result[i][s][k] is sample s's answer to turn k+1 of
    question i. All first turns go out as one batch, then all second turns, and so on.

    The first turn asks for `params.n` samples; each sample then continues its own conversation
    with one answer per later turn."""
    if not turns:
        return []
    first = generate(
        [conversation_messages(t[:1], [], lang) for t, lang in zip(turns, langs)], params, 1
    )
    answers = [[[text] for text in completion.texts] for completion in first]
    later = dataclasses.replace(params, n=1)
    for k in range(1, max(len(t) for t in turns)):
        todo = [(i, s) for i, t in enumerate(turns) if len(t) > k for s in range(len(answers[i]))]
        prompts = [
            conversation_messages(turns[i][: k + 1], answers[i][s], langs[i]) for i, s in todo
        ]
        for (i, s), completion in zip(todo, generate(prompts, later, k + 1)):
            answers[i][s].append(completion.text)
    return answers

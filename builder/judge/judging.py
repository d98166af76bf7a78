"""Asking the judge: both orders of every pair, batched, through an engine or any callable.

Used by the harness and by the pairwise-judge metric (eval/pairwise_judge), so both send the
same prompts and read the outputs the same way.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence

from ..engines.base import Engine, Prompt, PromptTooLongError, SamplingParams
from ..engines.cache import RequestCache, cached_generate
from .prompts import Turn, judge_messages, judge_template_hash, prefill_of

logger = logging.getLogger(__name__)

# A judge is an engine, or a function from a list of chat prompts to a list of output texts
# (e.g. a wrapper around an API client the user already has).
Judge = Engine | Callable[[list[Prompt]], Sequence[str]]

DEFAULT_MAX_TOKENS = {"scores": 64, "scores-reasoned": 384, "verdict": 384}


@dataclasses.dataclass(frozen=True)
class JudgeOutput:
    text: str  # the full reply, pre-fill included, exactly as it is parsed
    finish_reason: str | None  # "stop", "length", or None when the judge does not say
    prompt_tokens: int = 0
    completion_tokens: int = 0


def pair_prompts(
    questions: Sequence[str],
    answers_a: Sequence[str],
    answers_b: Sequence[str],
    langs: Sequence[str],
    fmt: str = "scores",
    prefill: bool = False,
    histories_a: Sequence[list[Turn] | None] | None = None,
    histories_b: Sequence[list[Turn] | None] | None = None,
) -> tuple[list[Prompt], list[Prompt]]:
    """The judge prompts with A in position 1 ("ab") and with B in position 1 ("ba").

    `histories_a`/`histories_b`: for a later turn of a conversation, the earlier turns that
    each system's answer continues (None or empty for a first turn)."""
    n = len(questions)
    hist_a = list(histories_a) if histories_a is not None else [None] * n
    hist_b = list(histories_b) if histories_b is not None else [None] * n
    if not (len(answers_a) == len(answers_b) == len(langs) == len(hist_a) == len(hist_b) == n):
        raise ValueError(
            f"need one answer of each system and one language per question: {n} questions, "
            f"{len(answers_a)} answers A, {len(answers_b)} answers B, {len(langs)} languages, "
            f"{len(hist_a)} and {len(hist_b)} histories"
        )
    rows = list(zip(questions, answers_a, answers_b, langs, hist_a, hist_b))
    ab = [judge_messages(q, a, b, lang, fmt, prefill, ha, hb) for q, a, b, lang, ha, hb in rows]
    ba = [judge_messages(q, b, a, lang, fmt, prefill, hb, ha) for q, a, b, lang, ha, hb in rows]
    return ab, ba


def judge_params(fmt: str, max_tokens: int | None = None) -> SamplingParams:
    """Greedy decoding: a judge that samples would give a different verdict on every rerun."""
    return SamplingParams(max_new_tokens=max_tokens or DEFAULT_MAX_TOKENS[fmt], temperature=0.0)


def run_judge(
    judge: Judge,
    prompts: list[Prompt],
    fmt: str,
    prefill: bool,
    params: SamplingParams | None = None,
    cache: RequestCache | None = None,
    batch_size: int = 64,
    multi_turn: bool = False,
) -> list[JudgeOutput]:
    """Send every prompt to the judge, `batch_size` per call; cached replies are reused.
    `multi_turn`: the prompts judge later turns (their template's hash goes into the cache keys)."""
    if isinstance(judge, Engine):
        params = params or judge_params(fmt)
        try:
            completions = cached_generate(
                judge,
                prompts,
                params,
                cache,
                judge_template_hash(fmt, prefill, multi_turn),
                chunk_size=batch_size,
                desc="judge",
            )
        except PromptTooLongError as error:
            raise PromptTooLongError(
                f"a judge prompt does not fit the judge's context: {error}. Use a judge with a longer "
                "context, or lower --answer-max-tokens so the answers shown to the judge are shorter"
            ) from error
        return [
            JudgeOutput(
                prefill_of(p) + c.text, c.finish_reasons[0], c.prompt_tokens, c.completion_tokens
            )
            for p, c in zip(prompts, completions)
        ]
    if not callable(judge):
        raise TypeError(
            f"a judge must be a builder Engine or a callable, got {type(judge).__name__}"
        )
    outputs: list[JudgeOutput] = []
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start : start + batch_size]
        texts = list(judge(chunk))
        if len(texts) != len(chunk) or not all(isinstance(t, str) for t in texts):
            raise ValueError(
                f"the judge callable must return one string per prompt; got {len(texts)} items for {len(chunk)} prompts"
            )
        outputs.extend(JudgeOutput(prefill_of(p) + t, None) for p, t in zip(chunk, texts))
    return outputs

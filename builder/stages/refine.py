"""refine: score each (instruction, response) pair, and give low-scored pairs another instruction.

Round 1 scores every pair's first candidate. In each later round, a pair still below the
accept level gets its next unused candidate or, when none is left, an instruction rewritten
from the evaluator's reason; the new instruction is scored in that round. The best-scored
instruction seen is kept, so an extra round never makes a pair worse. The paper calls k such
rounds "iter-k".

Scores come from the evaluator's text. A reply that does not parse is asked again once with
sampling; if it still does not parse, the judgement is stored as "unparseable" with no score.
It is never read as a number.

With `refine_response`, a kept pair's response is rewritten in an assistant's register and the
rewrite is judged with the same prompt and the kept instruction. The rewrite is published, with
its score, only when it scores at least as well as the original text; both judgements are kept
(`response`: "original" or "rewritten"), so `score` always describes the published `output`.
"""

from __future__ import annotations

import dataclasses
import re

from ..core.schema import GENERATED, REFINED
from ..engines.base import SamplingParams
from ..engines.cache import CachedModel
from ..languages.lid import detect, matches
from ..prompts import (
    EVALUATE,
    REFINE_RESPONSE,
    REWRITE,
    evaluate_messages,
    refine_response_messages,
    rewrite_messages,
)
from .instructions import clean_instruction, instruction_problem

SCORE_PREFILL = "Score:"
# A digit 1-5, optionally bold or "/5" or "out of 5"; not part of a range ("1-5", echoed from
# the prompt), a decimal ("4.5") or a larger number ("10").
_NUMBER = (
    r"\**\s*([1-5])\**(?:\s*(?:/|out of)\s*5(?!\d))?(?!\d|\.\d|\s*[-–]\s*\d|\s*(?:/|out of)\s*\d)"
)
_SCORE = re.compile(r"^\s*" + _NUMBER)
_SCORE_ANYWHERE = re.compile(r"score\s*[:=]?\s*" + _NUMBER, re.IGNORECASE)
_REASON = re.compile(r"reason\s*:\s*(.+)", re.IGNORECASE | re.DOTALL)

# Part of refine's fingerprint: a change in what the stage computes for the same settings redoes
# it on an old work dir. 2: rewritten responses are judged; judgements name the response judged.
VERSION = 2


def parse_score_reply(continuation: str) -> tuple[int | None, str]:
    """(score, reason) from the evaluator's reply, which continues the pre-filled "Score:".

    The score must be the first thing after the pre-fill, or appear as "Score: N" later (models
    that restart the format); anything else (prose, 0, 6, 4.5) is unparseable: None."""
    match = _SCORE.match(continuation) or _SCORE_ANYWHERE.search(continuation)
    if not match:
        return None, ""
    reason_match = _REASON.search(continuation)
    reason = reason_match.group(1) if reason_match else continuation[match.end() :]
    return int(match.group(1)), " ".join(reason.split())[:300]


@dataclasses.dataclass
class RefineConfig:
    rounds: int = 2
    accept_score: int = 4
    max_new_tokens: int = 32  # a score and one sentence of reason
    rewrite_max_new_tokens: int = 48
    temperature: float = 0.7  # for the retry of an unparseable judgement and for rewrites
    refine_response: bool = False
    response_max_new_tokens: int = 512
    seed: int = 0

    def __post_init__(self):
        if self.rounds < 1:
            raise ValueError(f"rounds must be >= 1, got {self.rounds}")
        if not 1 <= self.accept_score <= 5:
            raise ValueError(f"accept_score must be between 1 and 5, got {self.accept_score}")


@dataclasses.dataclass
class Pair:
    """A row's refinement state across rounds."""

    text: str
    pending: list[str]  # candidates not scored yet
    current: str | None  # the instruction to score this round
    best: tuple[int, str] | None = None
    last_reason: str = ""
    last_score: int | None = None
    rounds: int = 0
    judgements: list[dict] = dataclasses.field(default_factory=list)


class Refine:
    """A batched `Dataset.map` function: adds `output`, `score`, `rounds`, `judgements`."""

    name = "refine"
    input_features = GENERATED
    output_features = REFINED

    def __init__(self, lang: str, model: CachedModel, config: RefineConfig):
        self.lang = lang
        self.model = model
        self.config = config

    def judge(self, pairs: list[Pair], round_no: int, response: str = "original") -> None:
        """Score each pair's current instruction against its text; `response` names that text in
        the judgement ("original", or "rewritten" for refine_response's rewrite)."""
        prompts = [
            evaluate_messages(p.current, p.text, self.lang)
            + [{"role": "assistant", "content": SCORE_PREFILL}]
            for p in pairs
        ]
        greedy = SamplingParams(
            max_new_tokens=self.config.max_new_tokens, temperature=0.0, seed=self.config.seed
        )
        replies = [c.text for c in self.model(prompts, greedy, EVALUATE.hash)]
        parsed = [parse_score_reply(r) for r in replies]
        statuses = ["ok"] * len(pairs)
        retry = [i for i, (score, _) in enumerate(parsed) if score is None]
        if retry:
            sampled = dataclasses.replace(
                greedy, temperature=self.config.temperature, seed=self.config.seed + round_no
            )
            again = self.model([prompts[i] for i in retry], sampled, EVALUATE.hash)
            for i, completion in zip(retry, again):
                replies[i] = completion.text
                parsed[i] = parse_score_reply(completion.text)
                statuses[i] = "retried" if parsed[i][0] is not None else "unparseable"
        for pair, reply, (score, reason), status in zip(pairs, replies, parsed, statuses):
            pair.rounds = round_no
            pair.judgements.append(
                {
                    "round": round_no,
                    "instruction": pair.current,
                    "prompt_hash": EVALUATE.hash,
                    "raw": SCORE_PREFILL + reply,
                    "score": score,
                    "status": status,
                    "response": response,
                }
            )
            pair.last_score, pair.last_reason = score, reason
            if score is not None and (pair.best is None or score > pair.best[0]):
                pair.best = (score, pair.current)

    def _next_instructions(self, pairs: list[Pair], round_no: int) -> None:
        """Give each low-scored pair its next instruction: an unused candidate, else a rewrite."""
        to_rewrite = []
        for pair in pairs:
            pair.current = pair.pending.pop(0) if pair.pending else None
            if pair.current is None:
                to_rewrite.append(pair)
        if not to_rewrite:
            return
        prompts = [
            rewrite_messages(
                p.judgements[-1]["instruction"], p.text, self.lang, p.last_score, p.last_reason
            )
            for p in to_rewrite
        ]
        params = SamplingParams(
            max_new_tokens=self.config.rewrite_max_new_tokens,
            temperature=self.config.temperature,
            seed=self.config.seed + round_no,
        )
        for pair, completion in zip(to_rewrite, self.model(prompts, params, REWRITE.hash)):
            instruction = clean_instruction(completion.text)
            tried = {j["instruction"].lower() for j in pair.judgements}
            if (
                instruction_problem(instruction, pair.text) is None
                and instruction.lower() not in tried
            ):
                pair.current = instruction

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        n = len(batch["id"])
        out = {
            "output": [None] * n,
            "score": [None] * n,
            "rounds": [0] * n,
            "judgements": [[] for _ in range(n)],
            "instruction": list(batch["instruction"]),
            "dropped": list(batch["dropped"]),
        }
        active = [i for i in range(n) if batch["dropped"][i] is None]
        pairs = {
            i: Pair(batch["text"][i], list(batch["candidates"][i][1:]), batch["instruction"][i])
            for i in active
        }
        for round_no in range(1, self.config.rounds + 1):
            if round_no > 1:
                low = [
                    p
                    for p in pairs.values()
                    if p.best is None or p.best[0] < self.config.accept_score
                ]
                self._next_instructions(low, round_no)
                todo = [p for p in low if p.current is not None]
            else:
                todo = list(pairs.values())
            if not todo:
                break
            self.judge(todo, round_no)

        for i, pair in pairs.items():
            out["rounds"][i] = pair.rounds
            out["judgements"][i] = pair.judgements
            out["output"][i] = pair.text
            if pair.best is None:
                out["dropped"][i] = "unparseable_judgement"
                continue
            out["score"][i], out["instruction"][i] = pair.best
        if self.config.refine_response:
            self._refine_responses(out, [i for i in active if out["dropped"][i] is None])
        return out

    def _refine_responses(self, out: dict[str, list], rows: list[int]) -> None:
        """Rewrite kept responses in an assistant's register, judge each rewrite like the original
        (same prompt, the kept instruction) and publish it only when it scores no lower. A rewrite
        that leaves the target language (small models drift into English) or is cut off is not judged."""
        prompts = [
            refine_response_messages(out["instruction"][i], out["output"][i], self.lang)
            for i in rows
        ]
        params = SamplingParams(max_new_tokens=self.config.response_max_new_tokens, temperature=0.0)
        rewrites = {}
        for i, completion in zip(rows, self.model(prompts, params, REFINE_RESPONSE.hash)):
            rewritten = completion.text.strip()
            if (
                rewritten
                and completion.finish_reasons[0] == "stop"
                and matches(detect(rewritten), self.lang)
            ):
                rewrites[i] = Pair(rewritten, [], out["instruction"][i])
        # Judged under the row's last round number (its sampled retry uses that round's seed, as
        # the original's did); `response` tells the two judgements of that round apart.
        for round_no in sorted({out["rounds"][i] for i in rewrites}):
            same_round = [pair for i, pair in rewrites.items() if out["rounds"][i] == round_no]
            self.judge(same_round, round_no, response="rewritten")
        for i, pair in rewrites.items():
            judgement = pair.judgements[-1]
            out["judgements"][i] = out["judgements"][i] + [judgement]
            if judgement["score"] is not None and judgement["score"] >= out["score"][i]:
                out["output"][i], out["score"][i] = pair.text, judgement["score"]

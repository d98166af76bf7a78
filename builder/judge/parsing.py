"""Turning a judge's raw text into scores or a verdict, or into a named reason it is invalid.

The official X-Instruction script stored a failed parse as -1 and averaged it with real
scores. Here a judgement is either valid (two scores in 0..10, or one verdict) or it carries
a status that says why not, and invalid judgements never reach the score maths.

What is accepted, on purpose:
* tags in any order (``<score2>`` before ``<score1>``), with spaces inside the tag, any case,
  a missing or misplaced slash (``<score1>7<score1>``, ``</score1>7</score1>``);
* a number with decimals, a ``/10`` or ``out of 10`` suffix, or Markdown emphasis (``**8**``);
* the same tag repeated with the same value (a judge restating its score).
What is not: scores outside 0..10, words instead of numbers, one score without the other, the
same tag with two different values, or two different verdicts.
"""

from __future__ import annotations

import dataclasses
import re

from .prompts import check_format

LOW, HIGH = 0.0, 10.0

OK = "ok"
EMPTY = "empty"  # the judge returned nothing
MISSING = "missing"  # no score tags / verdict at all
INCOMPLETE = "incomplete"  # one score without the other
TRUNCATED = "truncated"  # the output stops inside the format (max tokens hit)
MALFORMED = "malformed"  # a tag whose content is not a number
OUT_OF_RANGE = "out_of_range"  # a number outside 0..10
CONFLICTING = "conflicting"  # the same tag with different values, or several verdicts

_NUMBER = r"[-+]?\d+(?:\.\d+)?"
_VALUE = re.compile(
    rf"^[*_\s]*({_NUMBER})[*_\s]*(?:(?:/|out\s+of)\s*10(?:\.0+)?)?[*_\s.]*$", re.IGNORECASE
)
_VERDICT = re.compile(r"\[\[\s*(1|2|a|b|c|tie)\s*\]\]", re.IGNORECASE)
_VERDICT_LABELS = {"1": "1", "a": "1", "2": "2", "b": "2", "tie": "tie", "c": "tie"}


def _tag_pattern(name: str) -> re.Pattern:
    # Opening and closing tag of the same name; the slash may be missing or on the wrong tag.
    return re.compile(rf"<\s*/?\s*{name}\s*>(.*?)<\s*/?\s*{name}\s*>", re.IGNORECASE | re.DOTALL)


def _open_tag(name: str) -> re.Pattern:
    return re.compile(rf"<\s*{name}\s*>", re.IGNORECASE)


_TAGS = {name: (_tag_pattern(name), _open_tag(name)) for name in ("score1", "score2")}


@dataclasses.dataclass(frozen=True)
class Judgement:
    """One parsed judge output; positions are 1 and 2 as the judge saw them."""

    status: str
    score1: float | None = None
    score2: float | None = None
    verdict: str | None = None  # "1", "2" or "tie" (verdict format only)

    @property
    def valid(self) -> bool:
        return self.status == OK

    def preference(self) -> int | None:
        """+1 when answer 1 is preferred, -1 for answer 2, 0 for a tie, None when invalid.

        With scores, the higher score wins and equal scores are a tie.
        """
        if not self.valid:
            return None
        if self.verdict is not None:
            return {"1": 1, "2": -1, "tie": 0}[self.verdict]
        return (self.score1 > self.score2) - (self.score1 < self.score2)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _parse_value(raw: str) -> float | None:
    """A score tag's content -> the number, or None when it is not a number."""
    match = _VALUE.match(raw)
    return float(match.group(1)) if match else None


def _find_score(text: str, name: str) -> float | str:
    """The score in tag `name`, or the status that says why there is none."""
    closed, opened = _TAGS[name]
    values = [_parse_value(m.group(1)) for m in closed.finditer(text)]
    if not values:
        # An opening tag that nothing closes: the output was cut inside the format.
        return TRUNCATED if opened.search(text) else MISSING
    numbers = {v for v in values if v is not None}
    if not numbers:
        return MALFORMED  # e.g. the template's placeholder echoed back: <score1>N</score1>
    if len(numbers) > 1:
        return CONFLICTING
    value = numbers.pop()
    return value if LOW <= value <= HIGH else OUT_OF_RANGE


def _ends_inside_tag(text: str) -> bool:
    """Does the text stop in a half-written score tag ('... <scor')?"""
    stripped = text.rstrip()
    cut = stripped.rfind("<")
    if cut == -1 or ">" in stripped[cut:]:
        return False
    fragment = stripped[cut + 1 :].strip("/ ").lower()
    return "score1".startswith(fragment) or "score2".startswith(fragment)


def parse_scores(text: str, finish_reason: str | None = None) -> Judgement:
    if not text or not text.strip():
        return Judgement(EMPTY)
    first, second = _find_score(text, "score1"), _find_score(text, "score2")
    if not isinstance(first, str) and not isinstance(second, str):
        return Judgement(OK, score1=first, score2=second)
    statuses = {s for s in (first, second) if isinstance(s, str)}
    for status in (CONFLICTING, OUT_OF_RANGE, MALFORMED):
        if status in statuses:
            return Judgement(status)
    # Cut short: an unclosed tag, a half-written one, or the engine says it hit max tokens.
    if TRUNCATED in statuses or finish_reason == "length" or _ends_inside_tag(text):
        return Judgement(TRUNCATED)
    both_missing = first == MISSING and second == MISSING
    return Judgement(MISSING if both_missing else INCOMPLETE)


def _verdicts(text: str) -> set[str]:
    return {_VERDICT_LABELS[m.group(1).lower()] for m in _VERDICT.finditer(text)}


def parse_verdict(text: str, finish_reason: str | None = None) -> Judgement:
    if not text or not text.strip():
        return Judgement(EMPTY)
    labels = _verdicts(text)
    if len(labels) > 1:
        # A judge often restates the options ("[[1]] if ..., [[2]] if ...") before deciding;
        # the prompt asks for the verdict on the last line, so a single verdict there wins.
        last_line = text.strip().splitlines()[-1]
        labels = _verdicts(last_line) if len(_verdicts(last_line)) == 1 else labels
    if len(labels) > 1:
        return Judgement(CONFLICTING)
    if labels:
        return Judgement(OK, verdict=labels.pop())
    return Judgement(TRUNCATED if finish_reason == "length" else MISSING)


def parse_judgement(text: str, fmt: str = "scores", finish_reason: str | None = None) -> Judgement:
    """Parse one raw judge output. `finish_reason="length"` turns a missing format into
    `truncated`, which tells the user to raise the judge's max tokens."""
    check_format(fmt)
    if fmt == "verdict":
        return parse_verdict(text, finish_reason)
    return parse_scores(text, finish_reason)

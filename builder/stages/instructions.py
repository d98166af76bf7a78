"""Cleaning and checking generated English instructions (pure functions, no model).

Generators, especially small ones, wrap the instruction in chatter ("Sure! Here is the
instruction: ..."), describe the task instead of doing it ("This text is a riddle..."), or ask
to translate or summarise "this text", which is useless once the text becomes the answer.
`clean_instruction` strips the wrapping; `instruction_problem` names what is still wrong.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..languages.lid import detect, matches

_PREFIX = re.compile(
    r"^\s*(?:(?:sure|okay|ok|certainly|of course)[,!.]?\s*(?:here(?:'s| is)[^:]*:)?\s*|"
    r"(?:english\s+)?(?:instruction|question|prompt|task|query|request)\s*(?:\d+)?\s*[:\-–]\s*|"
    r"here(?:'s| is) (?:the|an|a|my) [^:]{0,60}:\s*|"
    r"(?:\d+[.)]|[-*•])\s+)",
    re.IGNORECASE,
)
_WRAPPERS = "\"'“”‘’*`«» "

MIN_WORDS = 3
MAX_WORDS = 80

# An instruction that points at a text the answerer will never see ("summarise this passage").
_REFERS_TO_TEXT = re.compile(
    r"\b(?:this|the|above|following|given|provided|that)\s+(?:text|passage|paragraph|article|"
    r"sentence|excerpt|document|snippet|statement)s?\b",
    re.IGNORECASE,
)
_TRANSLATE = re.compile(
    r"\b(?:translat\w*|in english|into english|from (?:\w+ )?to english)\b", re.IGNORECASE
)
# The model describing the task or the text instead of writing an instruction.
_META = re.compile(
    r"^(?:this (?:text|is)|the (?:answer|text|response|instruction)|here is|i'm sorry|i am sorry|"
    r"as an ai|i cannot|i can't|the given)\b",
    re.IGNORECASE,
)


def clean_instruction(raw: str) -> str:
    """The first non-empty line, without chatty prefixes, list markers or wrapping quotes."""
    for line in raw.splitlines():
        line = line.strip()
        if not line:
            continue
        for _ in range(3):  # prefixes stack: "Sure! Instruction: 1. ..."
            stripped = _PREFIX.sub("", line, count=1)
            if stripped == line:
                break
            line = stripped.strip()
        line = line.strip(_WRAPPERS).strip()
        if line:
            return line
    return ""


@lru_cache(maxsize=256)
def _haystack(text: str) -> str:
    """The text lowercased, its words joined by single spaces. Every candidate of a request is
    checked against the same text (4 a request in generate), so it is normalised once, not 4
    times. 256: more texts than the shards a build maps at once ask for between two candidates
    of one text."""
    return " ".join(text.lower().split())


def _shared_run(instruction: str, text: str, n: int = 6) -> bool:
    """Does the instruction copy a run of n words from the text?"""
    words = instruction.lower().split()
    if len(words) < n:
        return False
    haystack = _haystack(text)
    return any(" ".join(words[i : i + n]) in haystack for i in range(len(words) - n + 1))


def instruction_problem(instruction: str, text: str) -> str | None:
    """Why this instruction cannot be paired with `text`, or None when it can."""
    if not instruction:
        return "empty"
    words = instruction.split()
    if len(words) < MIN_WORDS:
        return "too_short"
    if len(words) > MAX_WORDS:
        return "too_long"
    if _META.search(instruction):
        return "not_an_instruction"
    if _TRANSLATE.search(instruction):
        return "asks_to_translate"
    if _REFERS_TO_TEXT.search(instruction):
        return "refers_to_unseen_text"
    if _shared_run(instruction, text):
        return "repeats_text"
    # Short instructions are below what language ID can judge: only a confident "no" rejects.
    if matches(detect(instruction), "en") is False:
        return "not_english"
    return None

"""Held-out prompts for the language check (callbacks.LanguageShareCallback)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from .callbacks import Probe
from .formats import answer_input

logger = logging.getLogger(__name__)

# Fields that hold an English instruction in common prompt files; Vicuna/MT-Bench use `turns`.
_TEXT_FIELDS = ("instruction", "question", "prompt", "text")


def read_instructions(path: str) -> list[str]:
    """English instructions from a .txt file (one per line) or a .json/.jsonl file of objects
    with an instruction/question/prompt/text field or a `turns` list (the first turn is used)."""
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"--language_check_file {path}: no such file")
    if file.suffix == ".txt":
        lines = [line.strip() for line in file.read_text(encoding="utf-8").splitlines()]
        instructions = [line for line in lines if line]
    else:
        text = file.read_text(encoding="utf-8")
        rows = (
            json.loads(text)
            if file.suffix == ".json"
            else [json.loads(line) for line in text.splitlines() if line.strip()]
        )
        instructions = []
        for i, row in enumerate(rows):
            value = (
                row.get("turns", [None])[0] if isinstance(row, dict) and "turns" in row else None
            )
            value = value or next(
                (row[f] for f in _TEXT_FIELDS if isinstance(row, dict) and row.get(f)), None
            )
            if not isinstance(value, str):
                raise ValueError(
                    f"{path}, row {i}: no {'/'.join(_TEXT_FIELDS)} field or `turns` list"
                )
            instructions.append(value.strip())
    if not instructions:
        raise ValueError(f"--language_check_file {path} holds no instructions")
    return instructions


def answer_probes(
    held_out: dict[str, list[str]],
    languages: list[str],
    fmt: str,
    per_language: int,
    instructions_file: str | None = None,
    skip_missing: bool = False,
) -> list[Probe]:
    """Prompts asking for answers in each training language.

    The English instructions come from `instructions_file` when given (asked in every language),
    else from each language's held-out rows. A language without any is an error, or with
    `skip_missing` (held-out rows were asked for, but the language was too small) left out."""
    shared = read_instructions(instructions_file)[:per_language] if instructions_file else None
    probes, missing = [], []
    for lang in languages:
        instructions = shared if shared is not None else held_out.get(lang, [])[:per_language]
        if not instructions and not skip_missing:
            raise ValueError(
                f"the language check needs held-out English instructions for {lang!r}: set --eval_size, "
                "export a test split, or pass --language_check_file (e.g. Vicuna-80's question.jsonl)"
            )
        if not instructions:
            missing.append(lang)
        probes.extend(Probe(answer_input(text, lang, fmt), lang, lang) for text in instructions)
    if missing and probes:
        logger.warning(
            "The language check leaves out %s: no held-out row (too few rows to hold one out)",
            ", ".join(missing),
        )
    return probes


def check_or_skip(
    probes: list, eval_size: float, message: str, what: str = "the language check"
) -> list | None:
    """The probes, or None (no check) with a warning when held-out rows were asked for
    (`eval_size`) but no language had rows to spare; with no `eval_size`, `message` is the error."""
    if probes:
        return probes
    if not eval_size:
        raise ValueError(message)
    logger.warning("No language had a row to hold out: %s is off for this run", what)
    return None

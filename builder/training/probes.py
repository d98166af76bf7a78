"""Held-out prompts for the language check (callbacks.LanguageShareCallback)."""

from __future__ import annotations

import json
from pathlib import Path

from .callbacks import Probe
from .formats import answer_input

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
        rows = json.loads(text) if file.suffix == ".json" else [json.loads(line) for line in text.splitlines() if line.strip()]
        instructions = []
        for i, row in enumerate(rows):
            value = row.get("turns", [None])[0] if isinstance(row, dict) and "turns" in row else None
            value = value or next((row[f] for f in _TEXT_FIELDS if isinstance(row, dict) and row.get(f)), None)
            if not isinstance(value, str):
                raise ValueError(f"{path}, row {i}: no {'/'.join(_TEXT_FIELDS)} field or `turns` list")
            instructions.append(value.strip())
    if not instructions:
        raise ValueError(f"--language_check_file {path} holds no instructions")
    return instructions


def answer_probes(held_out: dict[str, list[str]], languages: list[str], fmt: str, per_language: int,
                  instructions_file: str | None = None) -> list[Probe]:
    """Prompts asking for answers in each training language.

    The English instructions come from `instructions_file` when given (asked in every language),
    else from each language's held-out rows."""
    shared = read_instructions(instructions_file)[:per_language] if instructions_file else None
    probes = []
    for lang in languages:
        instructions = shared if shared is not None else held_out.get(lang, [])[:per_language]
        if not instructions:
            raise ValueError(
                f"the language check needs held-out English instructions for {lang!r}: set --eval_size, "
                "export a test split, or pass --language_check_file (e.g. Vicuna-80's question.jsonl)"
            )
        probes.extend(Probe(answer_input(text, lang, fmt), lang, lang) for text in instructions)
    return probes

"""Question sets for the judge harness, and the files of answers and translations beside them.

Sources, in `load_questions(source)`:
* ``embedded`` (default): 27 questions written for this project, 3 per Vicuna category
  (builder/data/questions/embedded.jsonl); a demo set that runs offline.
* a ``.jsonl`` / ``.json`` file in FastChat's format: ``question_id``, ``category`` and ``turns``
  (a list; the first turn is the question) or ``text`` (as in the X-Instruction release);
  ``/work/shared/data/vicuna_bench/question.jsonl`` (Vicuna-80) is one.
* a Hub dataset id or a local dataset folder, read with `datasets.load_dataset`; the same
  column names are recognised, plus ``id``, ``question``, ``instruction`` and ``prompt``.

Target-language questions (the zero-shot setting) come from a file with the same fields,
matched by question id, or from `translate_questions` through any engine.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from importlib import resources
from pathlib import Path
from typing import Iterable

logger = logging.getLogger(__name__)

EMBEDDED = "embedded"
_ID_FIELDS = ("question_id", "id")
_TEXT_FIELDS = ("turns", "text", "question", "instruction", "prompt")
_ANSWER_FIELDS = ("answer", "output", "response", "text")


@dataclasses.dataclass(frozen=True)
class Question:
    question_id: str  # kept as text: files mix 1 and "1"
    category: str
    text: str

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _question_text(row: dict, where: str) -> str:
    for field in _TEXT_FIELDS:
        value = row.get(field)
        if field == "turns" and value is not None:
            if not isinstance(value, list) or not value or not isinstance(value[0], str):
                raise ValueError(f"{where}: 'turns' must be a non-empty list of strings, got {value!r}")
            return value[0]  # multi-turn sets: the judge harness asks the first turn only
        if isinstance(value, str):
            return value
    raise ValueError(f"{where}: no question text; expected one of the fields {', '.join(_TEXT_FIELDS)} (got {sorted(row)})")


def _question_id(row: dict, where: str, position: int) -> str:
    for field in _ID_FIELDS:
        if row.get(field) is not None:
            return str(row[field])
    logger.debug("%s has no question id; using its position %d", where, position)
    return str(position + 1)


def parse_questions(rows: Iterable[dict], source: str) -> list[Question]:
    questions, seen = [], set()
    for i, row in enumerate(rows):
        where = f"{source} row {i + 1}"
        if not isinstance(row, dict):
            raise ValueError(f"{where} is not a JSON object")
        qid = _question_id(row, where, i)
        if qid in seen:
            raise ValueError(f"{where}: duplicate question id {qid!r}; question ids must be unique")
        seen.add(qid)
        text = _question_text(row, where).strip()
        if not text:
            raise ValueError(f"{where}: the question text is empty")
        questions.append(Question(qid, str(row.get("category") or "general"), text))
    if not questions:
        raise ValueError(f"{source} holds no questions")
    return questions


def read_json_rows(path: str | Path) -> list[dict]:
    """Rows of a .jsonl file (one object per line) or a .json file holding a list."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        data = json.loads(text)
        if not isinstance(data, list):
            raise ValueError(f"{path} must hold a JSON list of objects")
        return data
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(f"{path} line {number} is not valid JSON: {error}") from None
    return rows


def embedded_questions_path() -> Path:
    return Path(str(resources.files("builder") / "data" / "questions" / "embedded.jsonl"))


def load_questions(source: str = EMBEDDED, split: str = "train", config: str | None = None,
                   limit: int | None = None) -> list[Question]:
    """Load a question set: 'embedded', a .jsonl/.json file, a local dataset folder or a Hub id."""
    if source == EMBEDDED:
        questions = parse_questions(read_json_rows(embedded_questions_path()), "the embedded question set")
    elif os.path.isfile(source):
        questions = parse_questions(read_json_rows(source), source)
    elif os.path.isdir(source) or (source.count("/") == 1 and not source.startswith((".", "/"))):
        questions = parse_questions(_load_dataset_rows(source, split, config), f"dataset {source}")
    else:
        raise FileNotFoundError(
            f"question set {source!r} is neither 'embedded', an existing .jsonl/.json file, a dataset "
            "folder nor a Hub dataset id (org/name)"
        )
    if limit is not None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        questions = questions[:limit]
    return questions


def _load_dataset_rows(source: str, split: str, config: str | None) -> list[dict]:
    from datasets import load_dataset

    dataset = load_dataset(source, config, split=split)
    return list(dataset)


def _rows_for(rows: list[dict], lang: str | None, setting: str | None = None) -> list[dict]:
    """Keep the rows meant for `lang` (and `setting`) when the file says whom a row is for."""
    if lang is not None and any("lang" in r for r in rows):
        rows = [r for r in rows if r.get("lang") == lang]
    if setting is not None and any("setting" in r for r in rows):
        rows = [r for r in rows if r.get("setting") == setting]
    return rows


def fill_path(template: str, **fields: str) -> str:
    """'refs/{lang}.jsonl' -> 'refs/sw.jsonl'; a path without placeholders is returned as is."""
    try:
        return template.format(**fields)
    except KeyError as error:
        raise ValueError(f"path {template!r} uses the placeholder {error}; only {{{'}, {'.join(fields)}}} exist") from None


def load_native_questions(path_template: str, lang: str, questions: list[Question]) -> dict[str, str]:
    """Target-language versions of `questions` from a file, by question id."""
    path = fill_path(path_template, lang=lang)
    rows = _rows_for(read_json_rows(path), lang)
    native = {q.question_id: q.text for q in parse_questions(rows, path)}
    missing = [q.question_id for q in questions if q.question_id not in native]
    if missing:
        raise ValueError(
            f"{path} has no {lang} text for question ids {missing[:10]}{' ...' if len(missing) > 10 else ''}; "
            "give every question a translation, or leave --native-questions out to translate them with an engine"
        )
    return {q.question_id: native[q.question_id] for q in questions}


def _answer_texts(row: dict, where: str) -> list[str]:
    if isinstance(row.get("choices"), list):  # FastChat's answer files: choices[k]["turns"][0]
        texts = [c["turns"][0] for c in row["choices"] if isinstance(c, dict) and c.get("turns")]
        if texts:
            return texts
    for field in _ANSWER_FIELDS:
        if isinstance(row.get(field), str):
            return [row[field]]
    raise ValueError(f"{where}: no answer text; expected 'choices' (FastChat) or one of {', '.join(_ANSWER_FIELDS)}")


def load_answers(path_template: str, lang: str, setting: str, question_ids: list[str]) -> dict[str, str]:
    """Reference answers from a file: one answer per question id (the first when several)."""
    path = fill_path(path_template, lang=lang, setting=setting)
    rows = _rows_for(read_json_rows(path), lang, setting)
    answers = {}
    for i, row in enumerate(rows):
        where = f"{path} row {i + 1}"
        qid = _question_id(row, where, i)
        answers.setdefault(qid, _answer_texts(row, where)[0])
    missing = [q for q in question_ids if q not in answers]
    if missing:
        raise ValueError(
            f"{path} has no answer for question ids {missing[:10]}{' ...' if len(missing) > 10 else ''} "
            f"({lang}, {setting}); every judged question needs a reference answer"
        )
    return {q: answers[q] for q in question_ids}

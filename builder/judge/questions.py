"""Question sets for the judge harness, and the files of answers and translations beside them.

Sources, in `load_questions(source)`:
* ``embedded`` (default): 27 questions written for this project, 3 per Vicuna category
  (builder/data/questions/embedded.jsonl); a demo set that runs offline.
* a ``.jsonl`` / ``.json`` file in FastChat's format: ``question_id``, ``category`` and ``turns``
  (a list of user messages: Vicuna-80 has one, MT-Bench two) or ``text`` (as in the
  X-Instruction release).
* a Hub dataset id or a local dataset folder, read with `datasets.load_dataset`; the same
  column names are recognised, plus ``id``, ``question``, ``instruction`` and ``prompt``.

A question with several turns is a conversation: turn k is asked after turns 1..k-1 and the
answering model's own answers to them (FastChat's MT-Bench). Target-language questions (the
zero-shot setting) come from a file with the same fields, matched by question id, or are
translated turn by turn through any engine (the harness).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

logger = logging.getLogger(__name__)

EMBEDDED = "embedded"
_ID_FIELDS = ("question_id", "id")
_TEXT_FIELDS = ("turns", "text", "question", "instruction", "prompt")
_ANSWER_FIELDS = ("answer", "output", "response", "text")


@dataclasses.dataclass(frozen=True)
class Question:
    question_id: str  # kept as text: files mix 1 and "1"
    category: str
    text: str  # the first (often the only) turn
    followups: tuple[str, ...] = ()  # the later turns of a multi-turn question (MT-Bench: one)

    @property
    def turns(self) -> tuple[str, ...]:
        return (self.text, *self.followups)

    def to_dict(self) -> dict:
        row = {"question_id": self.question_id, "category": self.category, "text": self.text}
        if self.followups:
            row["turns"] = list(self.turns)
        return row


def _question_turns(row: dict, where: str) -> list[str]:
    for field in _TEXT_FIELDS:
        value = row.get(field)
        if field == "turns" and value is not None:
            if (
                not isinstance(value, list)
                or not value
                or not all(isinstance(t, str) for t in value)
            ):
                raise ValueError(
                    f"{where}: 'turns' must be a non-empty list of strings, got {value!r}"
                )
            return value
        if isinstance(value, str):
            return [value]
    raise ValueError(
        f"{where}: no question text; expected one of the fields {', '.join(_TEXT_FIELDS)} (got {sorted(row)})"
    )


def _question_id(row: dict, where: str, position: int) -> str:
    for field in _ID_FIELDS:
        if row.get(field) is not None:
            return str(row[field])
    logger.debug("%s has no question id; using its position %d", where, position)
    return str(position + 1)


def parse_questions(
    rows: Iterable[dict], source: str, places: list[str] | None = None
) -> list[Question]:
    """Questions from rows; `places` names where each row is ("line 3"), "row i" by default."""
    questions, seen = [], set()
    for i, row in enumerate(rows):
        where = f"{source} {places[i] if places else f'row {i + 1}'}"
        if not isinstance(row, dict):
            raise ValueError(f"{where} is not a JSON object")
        qid = _question_id(row, where, i)
        if qid in seen:
            raise ValueError(f"{where}: duplicate question id {qid!r}; question ids must be unique")
        seen.add(qid)
        turns = [t.strip() for t in _question_turns(row, where)]
        if len(turns) == 1 and not turns[0]:
            raise ValueError(f"{where}: the question text is empty")
        empty = [k for k, t in enumerate(turns, 1) if not t]
        if empty:
            raise ValueError(
                f"{where} (question id {qid}): turn {empty[0]} of {len(turns)} is empty; "
                "give every turn its text, or remove the question"
            )
        questions.append(
            Question(qid, str(row.get("category") or "general"), turns[0], tuple(turns[1:]))
        )
    if not questions:
        raise ValueError(f"{source} holds no questions")
    return questions


def read_placed_rows(path: str | Path) -> list[tuple[str, dict]]:
    """(where, row) pairs: "line N" for a .jsonl file, "row N" for a .json list, so errors can
    point at the line to fix."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        data = json.loads(text)
        if not isinstance(data, list):
            raise ValueError(f"{path} must hold a JSON list of objects")
        return [(f"row {i}", row) for i, row in enumerate(data, 1)]
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                rows.append((f"line {number}", json.loads(line)))
            except json.JSONDecodeError as error:
                raise ValueError(f"{path} line {number} is not valid JSON: {error}") from None
    return rows


def parse_question_file(path: str | Path, source: str | None = None) -> list[Question]:
    placed = read_placed_rows(path)
    return parse_questions(
        [row for _, row in placed], source or str(path), [where for where, _ in placed]
    )


def embedded_questions_path() -> Path:
    return Path(str(resources.files("builder") / "data" / "questions" / "embedded.jsonl"))


def load_questions(
    source: str = EMBEDDED,
    split: str = "train",
    config: str | None = None,
    limit: int | None = None,
) -> list[Question]:
    """Load a question set: 'embedded', a .jsonl/.json file, a local dataset folder or a Hub id."""
    if source == EMBEDDED:
        questions = parse_question_file(embedded_questions_path(), "the embedded question set")
    elif os.path.isfile(source):
        questions = parse_question_file(source)
    elif os.path.isdir(source) or _is_hub_id(source):
        questions = parse_questions(_load_dataset_rows(source, split, config), f"dataset {source}")
    elif _looks_like_path(source):
        # A mistyped file name must not become a Hub request (or a download of someone's dataset).
        raise FileNotFoundError(
            f"question file {source!r} does not exist; check the path (or pass 'embedded', "
            "a dataset folder or a Hub dataset id org/name)"
        )
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


# Suffixes of question files: `org/questions.jsonl` is a path, though it is also a valid repo id.
FILE_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv", ".txt", ".gz", ".yaml", ".yml")


def _file_like(source: str) -> bool:
    return source.lower().endswith(FILE_SUFFIXES) or source.startswith((".", "/", "~"))


def _looks_like_path(source: str) -> bool:
    return _file_like(source) or os.sep in source or (os.altsep is not None and os.altsep in source)


def _is_hub_id(source: str) -> bool:
    """org/name that the Hub would accept and that does not look like a file name."""
    from huggingface_hub.utils import validate_repo_id

    if source.count("/") != 1 or _file_like(source):
        return False
    try:
        validate_repo_id(source)
    except ValueError:
        return False
    return True


def _load_dataset_rows(source: str, split: str, config: str | None) -> list[dict]:
    from datasets import load_dataset

    dataset = load_dataset(source, config, split=split)
    return list(dataset)


def _rows_for(
    placed: list[tuple[str, dict]], lang: str | None, setting: str | None = None
) -> list[tuple[str, dict]]:
    """Keep the rows meant for `lang` (and `setting`) when the file says whom a row is for."""
    for field, wanted in (("lang", lang), ("setting", setting)):
        if wanted is not None and any(field in row for _, row in placed):
            placed = [(where, row) for where, row in placed if row.get(field) == wanted]
    return placed


def fill_path(template: str, **fields: str) -> str:
    """'refs/{lang}.jsonl' -> 'refs/sw.jsonl'; a path without placeholders is returned as is."""
    try:
        return template.format(**fields)
    except KeyError as error:
        raise ValueError(
            f"path {template!r} uses the placeholder {error}; only {{{'}, {'.join(fields)}}} exist"
        ) from None


def _listed(ids: list[str]) -> str:
    return f"{ids[:10]}{' ...' if len(ids) > 10 else ''}"


def load_native_questions(
    path_template: str, lang: str, questions: list[Question]
) -> dict[str, tuple[str, ...]]:
    """Target-language turns of `questions` from a file, by question id."""
    path = fill_path(path_template, lang=lang)
    placed = _rows_for(read_placed_rows(path), lang)
    native = {
        q.question_id: q.turns
        for q in parse_questions([r for _, r in placed], path, [w for w, _ in placed])
    }
    missing = [q.question_id for q in questions if q.question_id not in native]
    if missing:
        raise ValueError(
            f"{path} has no {lang} text for question ids {_listed(missing)}; "
            "give every question a translation, or leave --native-questions out to translate them with an engine"
        )
    for q in questions:
        if len(native[q.question_id]) != len(q.turns):
            raise ValueError(
                f"{path}: question id {q.question_id} has {len(native[q.question_id])} turn(s) in {lang} but "
                f"{len(q.turns)} in the question set; give the {lang} text of every turn in a 'turns' list"
            )
    return {q.question_id: native[q.question_id] for q in questions}


def _answer_turns(row: dict, where: str) -> list[str]:
    """The answer's turns: FastChat answer files hold choices[k]["turns"] (the first choice is
    taken); a plain row holds one answer (one turn)."""
    if isinstance(row.get("choices"), list):
        for choice in row["choices"]:
            if (
                isinstance(choice, dict)
                and isinstance(choice.get("turns"), list)
                and choice["turns"]
            ):
                return [str(t) for t in choice["turns"]]
    for field in _ANSWER_FIELDS:
        if isinstance(row.get(field), str):
            return [row[field]]
    raise ValueError(
        f"{where}: no answer text; expected 'choices' (FastChat) or one of {', '.join(_ANSWER_FIELDS)}"
    )


def load_answers(
    path_template: str,
    lang: str,
    setting: str,
    question_ids: list[str],
    turns: dict[str, int] | None = None,
) -> dict[str, tuple[str, ...]]:
    """Reference answers from a file: the answer turns for each question id (the first row when
    several). `turns` gives how many turns each question has (1 when absent)."""
    path = fill_path(path_template, lang=lang, setting=setting)
    answers: dict[str, tuple[str, tuple[str, ...]]] = {}
    for i, (where, row) in enumerate(_rows_for(read_placed_rows(path), lang, setting)):
        qid = _question_id(row, f"{path} {where}", i)
        answers.setdefault(qid, (where, tuple(_answer_turns(row, f"{path} {where}"))))
    missing = [q for q in question_ids if q not in answers]
    if missing:
        raise ValueError(
            f"{path} has no answer for question ids {_listed(missing)} "
            f"({lang}, {setting}); every judged question needs a reference answer"
        )
    for qid in question_ids:
        where, found = answers[qid]
        needed = (turns or {}).get(qid, 1)
        if len(found) < needed:
            raise ValueError(
                f"{path} {where} (question id {qid}): {len(found)} answer turn(s) for a question of {needed} turns; "
                "give one answer per turn (FastChat's choices[0].turns)"
            )
    return {qid: answers[qid][1][: (turns or {}).get(qid, 1)] for qid in question_ids}

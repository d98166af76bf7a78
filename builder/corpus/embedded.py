"""The embedded demo sample: a few web-like paragraphs and seed pairs per language.

The files live in the package (`builder/data/corpus/{lang}.jsonl`, rows
`{"id", "genre", "title", "text"}`, and `builder/data/seeds/{lang}.jsonl`, rows
`{"id", "instruction", "output"}`) so that every command runs offline. They were written for
this project to exercise the pipeline: DEMO TEXT, not web text, and far too small to train on.
Real runs read FineWeb-2, CulturaX or local files (see `readers.read_corpus`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from importlib import resources
from importlib.resources.abc import Traversable

from ..languages import get_language
from .errors import CorpusError

logger = logging.getLogger(__name__)

DEMO_CORPUS = "x-instruction-demo-sample"  # the `source.corpus` of every embedded row
_warned: set[str] = set()


def data_root() -> Traversable:
    """Where the package data lives; tests point this at a folder of their own."""
    return resources.files("builder") / "data"


def _file(kind: str, lang: str) -> Traversable:
    code = get_language(lang).code
    path = data_root() / kind / f"{code}.jsonl"
    if not path.is_file():
        have = available_languages(kind)
        raise CorpusError(
            f"no embedded demo {kind} for language {code!r} (embedded: {', '.join(have) or 'none'}). "
            + (
                "Pass a corpus: a local file or folder, fineweb2, culturax or hub:ID[:CONFIG]"
                if kind == "corpus"
                else "Pass seeds: a .jsonl/.parquet file with instruction/output columns, "
                "bactrian-x, or hub:ID[:CONFIG]"
            )
        )
    return path


def available_languages(kind: str = "corpus") -> list[str]:
    folder = data_root() / kind
    if not folder.is_dir():
        return []
    return sorted(
        p.name.removesuffix(".jsonl") for p in folder.iterdir() if p.name.endswith(".jsonl")
    )


def _rows(path: Traversable, required: tuple[str, ...]) -> Iterator[dict]:
    with path.open("r", encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            missing = [key for key in required if key not in row]
            if missing:
                raise CorpusError(
                    f"embedded file {path}:{number} lacks {', '.join(missing)}: the package data is damaged"
                )
            yield row


def iter_corpus(lang: str) -> Iterator[tuple[str, str]]:
    """(text, row id) for each paragraph of the demo corpus of `lang`."""
    path = _file("corpus", lang)
    code = get_language(lang).code
    if code not in _warned:
        _warned.add(code)
        logger.warning(
            "corpus 'embedded' is a small DEMO sample written for this project (%s), not web text; "
            "name a real corpus for real data",
            path,
        )
    for row in _rows(path, ("id", "text")):
        yield row["text"], str(row["id"])


def load_seeds(lang: str) -> list[dict]:
    """[{"instruction", "output"}] from the demo seed pairs of `lang`."""
    return [
        {"instruction": r["instruction"], "output": r["output"]}
        for r in _rows(_file("seeds", lang), ("instruction", "output"))
    ]

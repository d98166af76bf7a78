"""One entry point for every corpus: `read_corpus(spec, lang)` streams `{"text", "source"}` rows.

`spec` is one of
- `"embedded"`: the demo sample shipped in the package (offline; demo text, not web text);
- a local file or folder: `.jsonl[.gz]`, `.parquet`, `.txt[.gz]` (one document per line, or
  per blank-line-separated paragraph). A path with `{lang}` (`crawl/{lang}.jsonl`) or a folder
  whose files are named by language (`crawl/sw.jsonl`, `crawl/swh_Latn/`) gives each language
  its own files (builder/corpus/by_language.py);
- `"hub:ID[:CONFIG]"`: any Hub dataset with a text column, streamed; `fineweb2` and
  `culturax` (or their repo ids without a config) take the language's config from the registry.

    >>> rows = read_corpus("fineweb2", "sw", limit=1000)             # HuggingFaceFW/fineweb-2, swh_Latn
    >>> rows = read_corpus("hub:uonlp/CulturaX:sw", "sw")             # gated: log in first
    >>> rows = read_corpus("crawl/", "sw", text_column="content")     # a folder of Parquet/JSONL files
    >>> rows = read_corpus("crawl/{lang}.jsonl", "sw")                # crawl/sw.jsonl (or swh_Latn.jsonl)
    >>> rows = read_corpus("mixed.jsonl", "sw", lang_column="lang")   # rows whose `lang` names Swahili

Every row carries its provenance, `source = {"corpus", "config", "split", "row"}` (for local
corpora `corpus` is the file the row was read from), which the later stages keep. Rows are
produced lazily and memory does not grow with the corpus.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

from ..languages import get_language
from . import embedded
from .by_language import LanguageColumn, check_corpus, select_files
from .errors import CorpusError
from .hub_datasets import is_hub_spec, parse_hub_spec, read_hub
from .seeds import read_seeds

__all__ = ["check_corpus", "corpus_files_read", "read_corpus", "read_seeds"]


def _source(corpus: str, config: str | None, split: str | None, row: str) -> dict:
    return {"corpus": corpus, "config": config, "split": split, "row": row}


def read_corpus(
    spec: str,
    lang: str,
    *,
    text_column: str | None = None,
    lang_column: str | None = None,
    split: str = "train",
    limit: int | None = None,
) -> Iterator[dict]:
    """Stream `{"text": str, "source": {...}}` rows of the corpus `spec` for language `lang`.

    `text_column` names the column holding the text (default `text`; plain-text files have
    only one). `lang_column` names a column giving each row's language: only rows naming `lang`
    are read, and a column that names it nowhere is an error at the end of the corpus. `split`
    applies to Hub datasets. `limit` caps the rows *read* (of this language), before any
    filtering. Errors about the source (missing column, bad encoding) surface at the first row.
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0 or None, not {limit}")
    code = get_language(lang).code  # fail on an unknown language before touching any corpus
    column = LanguageColumn(lang_column, [code]) if lang_column else None
    rows = _rows(spec, code, text_column, split, column)
    if column is not None:
        rows = _require_a_row(rows, column, spec)
    return itertools.islice(rows, limit) if limit is not None else rows


def corpus_files_read(
    spec: str, lang: str, *, lang_column: str | None = None
) -> list[tuple[str, int, int]]:
    """The local files `lang` reads from `spec` (none for the embedded sample and Hub datasets),
    each with its size and modification time: part of what decides the prepared rows, so the
    build's fingerprint includes it, and a file edited in place is prepared again on the next run
    (size and mtime, as make and rsync judge a change, instead of hashing a large corpus)."""
    if spec == "embedded" or is_hub_spec(spec):
        return []
    files = select_files(spec, get_language(lang).code, lang_column=lang_column).files
    return [(str(f.path), *_size_and_mtime(Path(f.path))) for f in files]


def _size_and_mtime(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def _rows(
    spec: str, code: str, text_column: str | None, split: str, column: LanguageColumn | None
) -> Iterator[dict]:
    if not spec:
        raise CorpusError(
            "no corpus given; pass embedded, a local file or folder, fineweb2, culturax or hub:ID[:CONFIG]"
        )
    lang_column = column.column if column is not None else None
    if spec == "embedded":
        # the embedded sample has no language column
        check_corpus(spec, [code], lang_column=lang_column)
        return (
            _source_row(text, embedded.DEMO_CORPUS, code, None, row)
            for text, row in embedded.iter_corpus(code)
        )
    if is_hub_spec(spec):
        repo, config = parse_hub_spec(spec, code)
        return (
            _source_row(text, repo, config, split, row)
            for text, row in read_hub(repo, config, split, text_column, column)
        )
    files = select_files(spec, code, lang_column=lang_column).files
    return (
        _source_row(text, str(file.path), None, None, row)
        for file in files
        for text, row in file.read(text_column, column)
    )


def _require_a_row(rows: Iterator[dict], column: LanguageColumn, spec: str) -> Iterator[dict]:
    yield from rows
    column.check(spec)  # the whole corpus was read and no row named the language


def _source_row(text: str, corpus: str, config: str | None, split: str | None, row: str) -> dict:
    return {"text": text, "source": _source(corpus, config, split, row)}

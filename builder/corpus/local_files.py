"""Local corpus files, read as a stream: JSON Lines, Parquet and plain text, or a folder of them.

Each reader yields `(text, row)` where `row` is the record's own `id` (or `url`) when it has
one, else `file:line` (text, JSON Lines) or `file:index` (Parquet), so a kept paragraph can
always be traced back to where it came from. Memory stays flat: JSON Lines and text are read
line by line, Parquet one record batch at a time.

Plain text holds one document per line, or one per paragraph when paragraphs are separated
by blank lines; `unit="auto"` decides from the first lines of the file.

JSON Lines and Parquet readers take an optional `lang_filter` (see `by_language.LanguageColumn`):
an object with a `column` name and a `keep(value)` test, which drops the rows of other languages
of a mixed file before they count as read.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from .errors import CorpusError, MissingColumnError, NotUTF8Error

JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
TEXT_SUFFIXES = (".txt", ".txt.gz")
PARQUET_SUFFIXES = (".parquet",)
SUPPORTED_SUFFIXES = JSONL_SUFFIXES + PARQUET_SUFFIXES + TEXT_SUFFIXES
ROW_ID_COLUMNS = ("id", "url")  # FineWeb-2 rows have both, CulturaX rows only a url
_AUTO_PEEK_LINES = 200
_PARQUET_BATCH = 1024
LANG_COLUMN_OPTION = "--lang-column"


class RowFilter(Protocol):
    column: str

    def keep(self, value: Any) -> bool: ...


def _has_suffix(path: Path, suffixes: tuple[str, ...]) -> bool:
    return path.name.lower().endswith(suffixes)


def corpus_files(folder: Path) -> list[Path]:
    """The readable files under `folder`, in a stable order (hidden files skipped)."""
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and _has_suffix(p, SUPPORTED_SUFFIXES)
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    if not files:
        raise CorpusError(
            f"{folder} holds no corpus file; supported: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    return files


def _gzip_checked(lines: Iterator[bytes], path: Path) -> Iterator[bytes]:
    """The file's lines; a truncated or damaged .gz (a copy cut short) names the file."""
    try:
        yield from lines
    except gzip.BadGzipFile as e:
        raise CorpusError(
            f"{path} is not a gzip file ({e}); if it holds plain text, drop the .gz from its name"
        ) from None
    except (EOFError, zlib.error) as e:
        raise CorpusError(
            f"{path} is not a complete gzip file ({e}); the copy may be cut short: fetch or "
            f"compress it again, and check it with `gzip -t {path}`"
        ) from None


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, decoded line without newline); non-UTF-8 bytes raise NotUTF8Error."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    offset = 0
    with opener(path, "rb") as f:
        for number, raw in enumerate(_gzip_checked(f, path), start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                where = f"{path} (decompressed)" if opener is gzip.open else str(path)
                raise NotUTF8Error(where, offset + e.start, e.reason) from None
            if number == 1:
                line = line.removeprefix("\ufeff")  # a byte-order mark written by some editors
            offset += len(raw)
            yield number, line.rstrip("\r\n")


def _row_id(record: dict, fallback: str) -> str:
    for column in ROW_ID_COLUMNS:
        value = record.get(column)
        if value not in (None, ""):
            return str(value)
    return fallback


def read_jsonl(
    path: Path, text_column: str = "text", lang_filter: RowFilter | None = None
) -> Iterator[tuple[str, str]]:
    for number, line in _lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise CorpusError(
                f"{path}:{number} is not valid JSON ({e.msg}); each line must be one JSON object"
            ) from None
        if not isinstance(record, dict):
            raise CorpusError(
                f"{path}:{number} holds a JSON {type(record).__name__}, not an object with a {text_column!r} field"
            )
        if text_column not in record:
            raise MissingColumnError(f"{path}:{number}", text_column, record)
        if lang_filter is not None:
            if lang_filter.column not in record:
                raise MissingColumnError(
                    f"{path}:{number}", lang_filter.column, record, LANG_COLUMN_OPTION
                )
            if not lang_filter.keep(record[lang_filter.column]):
                continue
        text = record[text_column]
        if text is not None and not isinstance(text, str):
            raise CorpusError(
                f"{path}:{number}: column {text_column!r} holds {type(text).__name__}, not text"
            )
        yield text or "", _row_id(record, f"{path.name}:{number}")


def _paragraph_mode(path: Path) -> bool:
    """Does a blank line separate two non-blank lines among the first lines of the file?"""
    seen_text = seen_blank = False
    for number, line in _lines(path):
        if line.strip():
            if seen_blank and seen_text:
                return True
            seen_text = True
        elif seen_text:
            seen_blank = True
        if number >= _AUTO_PEEK_LINES:
            break
    return False


def read_text(path: Path, unit: str = "auto") -> Iterator[tuple[str, str]]:
    """`unit`: "line" (one document per line), "paragraph" (blank-line separated) or "auto"."""
    if unit not in ("auto", "line", "paragraph"):
        raise ValueError(f"unit must be 'auto', 'line' or 'paragraph', not {unit!r}")
    paragraphs = _paragraph_mode(path) if unit == "auto" else unit == "paragraph"
    if not paragraphs:
        for number, line in _lines(path):
            if line.strip():
                yield line, f"{path.name}:{number}"
        return
    block: list[str] = []
    start = 0
    for number, line in _lines(path):
        if line.strip():
            start = start or number
            block.append(line)
        elif block:
            yield "\n".join(block), f"{path.name}:{start}"
            block, start = [], 0
    if block:
        yield "\n".join(block), f"{path.name}:{start}"


def read_parquet(
    path: Path, text_column: str = "text", lang_filter: RowFilter | None = None
) -> Iterator[tuple[str, str]]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises ArrowInvalid/OSError with a terse message
        raise CorpusError(f"{path} is not a readable Parquet file: {e}") from e
    names = parquet.schema_arrow.names
    if text_column not in names:
        raise MissingColumnError(str(path), text_column, names)
    lang_column = lang_filter.column if lang_filter is not None else None
    if lang_column is not None and lang_column not in names:
        raise MissingColumnError(str(path), lang_column, names, LANG_COLUMN_OPTION)
    id_column = next((c for c in ROW_ID_COLUMNS if c in names and c != text_column), None)
    columns = list(dict.fromkeys(c for c in (text_column, id_column, lang_column) if c))
    index = 0
    with parquet:
        for batch in parquet.iter_batches(batch_size=_PARQUET_BATCH, columns=columns):
            texts = batch.column(text_column).to_pylist()
            ids = batch.column(id_column).to_pylist() if id_column else [None] * len(texts)
            langs = batch.column(lang_column).to_pylist() if lang_column else [None] * len(texts)
            for text, row_id, lang in zip(texts, ids, langs):
                index += 1
                if lang_column is not None and not lang_filter.keep(lang):
                    continue
                if text is not None and not isinstance(text, str):
                    raise CorpusError(
                        f"{path}: column {text_column!r} holds {type(text).__name__}, not text"
                    )
                yield (
                    text or "",
                    str(row_id) if row_id not in (None, "") else f"{path.name}:{index - 1}",
                )


def read_file(
    path: Path, text_column: str | None = None, lang_filter: RowFilter | None = None
) -> Iterator[tuple[str, str]]:
    check_file_type(path)
    if _has_suffix(path, JSONL_SUFFIXES):
        return read_jsonl(path, text_column or "text", lang_filter)
    if _has_suffix(path, PARQUET_SUFFIXES):
        return read_parquet(path, text_column or "text", lang_filter)
    if lang_filter is not None:
        raise CorpusError(
            f"{path} is plain text and has no {lang_filter.column!r} column; "
            f"{LANG_COLUMN_OPTION} needs JSON Lines or Parquet files"
        )
    return read_text(path)  # one column only: --text-column does not apply


def check_file_type(path: Path) -> None:
    """A corpus file named on its own must be of a type this module reads (checked when the build
    starts, before any model loads, and again by read_file)."""
    if not _has_suffix(path, SUPPORTED_SUFFIXES):
        raise CorpusError(
            f"{path}: unsupported file type; supported: {', '.join(SUPPORTED_SUFFIXES)} "
            "(or a folder of such files)"
        )


def read_named(
    path: Path, name: str, text_column: str | None = None, lang_filter: RowFilter | None = None
) -> Iterator[tuple[str, str]]:
    """`read_file`, with rows that have no id of their own named `name:line` (e.g. the path
    relative to the corpus folder) rather than after the bare file name."""
    for text, row in read_file(path, text_column, lang_filter):
        yield text, name + row[len(path.name) :] if row.startswith(path.name + ":") else row

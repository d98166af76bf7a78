"""Which files and rows of a local corpus each language reads.

A corpus given for several languages must hand each language its own text, or language ID
throws the rows away later (funnel: `wrong_language`). Three ways to say which text is whose:

- a `{lang}` placeholder in the path: `crawl/{lang}.jsonl`, `crawl/{lang}/`,
  `crawl/{lang}/*.parquet`. It takes each name of the language in turn (see `language_names`:
  `sw`, `swh_Latn`, `swa`, ...) and the language reads every file any of them matches;
- a folder whose files or subfolders are named by language (`crawl/sw.jsonl`, `crawl/hin_Deva/`,
  a FineWeb-2 download's `data/swh_Latn/train/*.parquet`): each language reads the files under
  its own name; files named by no language are skipped with a warning. A folder with no
  language names at all is one language's text and is read whole, as before;
- a language column in a mixed file (`lang_column`): rows whose column names another language
  are skipped before they count as read.

`check_corpus` runs these resolutions for every language at the start of a build, before any
model loads, so a missing file or a typo costs seconds, not a model load and an empty build.
"""

from __future__ import annotations

import dataclasses
import glob
import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from ..languages import ENGLISH, LANGUAGES, Language, get_language
from .errors import CorpusError, no_rows
from .hub_datasets import is_hub_spec
from .local_files import SUPPORTED_SUFFIXES, check_file_type, corpus_files, read_named

logger = logging.getLogger(__name__)

PLACEHOLDER = "{lang}"
# FineWeb-2's `{iso639-3}_{Script}` configs name a language even when it is not registered here
# (deu_Latn): such a file belongs to some language, never to every language.
_FINEWEB2_SHAPE = re.compile(r"[a-z]{3}_[A-Z][a-z]{3}")
# Sharded files keep the language in front: sw-00001, swh_Latn_0, hi-00000-of-00004, sw_part_00000.
_SHARD_SUFFIX = re.compile(r"[-_.](part[-_]?)?\d+(-of-\d+)?$")
_GLOB_CHARS = re.compile(r"[*?\[]")
_SHOWN_VALUES = 10  # values listed when a language column names no requested language
_COUNTED_VALUES = 1000  # distinct column values remembered for that message (garbage stays bounded)


def language_names(lang: Language) -> tuple[str, ...]:
    """The names a file, folder or column value may give `lang`: code, FineWeb-2 and CulturaX
    configs, ISO 639-3 (alone and with the script) and the English name, most common first."""
    names = (
        lang.code,
        lang.fineweb2,
        lang.culturax,
        lang.iso639_3,
        f"{lang.iso639_3}_{lang.script}",
        lang.name.lower(),
    )
    return tuple(dict.fromkeys(n for n in names if n))


def _known_names() -> dict[str, str]:
    """Lower-cased name -> code, for every registered language and English (read each call:
    `register_language` may add languages at any time)."""
    table: dict[str, str] = {}
    for lang in (*LANGUAGES.values(), ENGLISH):
        for name in language_names(lang):
            table.setdefault(name.lower(), lang.code)
    return table


def name_language(name: str, known: dict[str, str] | None = None) -> str | None:
    """The language a file stem or folder name stands for: a registered code, a FineWeb-2-shaped
    name of an unregistered language as written (`deu_Latn`), or None."""
    known = _known_names() if known is None else known
    for candidate in dict.fromkeys((name, _SHARD_SUFFIX.sub("", name))):
        if candidate.lower() in known:
            return known[candidate.lower()]
        if _FINEWEB2_SHAPE.fullmatch(candidate):
            return candidate
    return None


def _stem(file_name: str) -> str:
    lower = file_name.lower()
    suffix = max((s for s in SUPPORTED_SUFFIXES if lower.endswith(s)), key=len, default="")
    return file_name[: len(file_name) - len(suffix)]


def path_language(relative: PurePosixPath, known: dict[str, str] | None = None) -> str | None:
    """The language of a file from its path below the corpus folder: the outermost folder or
    file stem that names one (`hin_Deva/train/0.parquet` -> hi)."""
    known = _known_names() if known is None else known
    parts = [*relative.parts[:-1], _stem(relative.name)]
    return next((lang for lang in (name_language(p, known) for p in parts) if lang), None)


@dataclasses.dataclass(frozen=True)
class CorpusFile:
    path: Path
    name: str  # how rows without their own id are named: the path below the corpus folder

    def read(self, text_column: str | None, lang_filter=None) -> Iterator[tuple[str, str]]:
        return read_named(self.path, self.name, text_column, lang_filter)


@dataclasses.dataclass(frozen=True)
class Selection:
    """The files one language reads, and how they were chosen (for the log and the errors)."""

    files: tuple[CorpusFile, ...]
    how: str  # "file" | "pattern" | "by language" | "whole folder"
    skipped: tuple[CorpusFile, ...] = ()  # files of a by-language folder that name no language


def _folder_files(folder: Path) -> list[CorpusFile]:
    return [CorpusFile(f, f.relative_to(folder).as_posix()) for f in corpus_files(folder)]


def split_by_language(folder: Path) -> tuple[dict[str, list[CorpusFile]], list[CorpusFile]]:
    """The files of `folder` grouped by the language their path names, and those naming none."""
    known = _known_names()
    groups: dict[str, list[CorpusFile]] = {}
    unnamed: list[CorpusFile] = []
    for file in _folder_files(folder):
        lang = path_language(PurePosixPath(file.name), known)
        if lang is None:
            unnamed.append(file)
        else:
            groups.setdefault(lang, []).append(file)
    return groups, unnamed


def select_files(spec: str, code: str, *, lang_column: str | None = None) -> Selection:
    """The files language `code` reads from the local corpus `spec` (a path or a `{lang}` pattern)."""
    if PLACEHOLDER in spec:
        return Selection(tuple(_pattern_files(spec, code)), "pattern")
    path = Path(spec).expanduser()
    if not path.exists():
        raise CorpusError(
            f"corpus {spec!r} is neither a local file or folder nor a known corpus; pass embedded, "
            "a path, a path with {lang} (crawl/{lang}.jsonl), fineweb2, culturax or hub:ID[:CONFIG]"
        )
    if path.is_file():
        check_file_type(path)
        _check_file_language(spec, path, code, lang_column)
        return Selection((CorpusFile(path, path.name),), "file")
    groups, unnamed = split_by_language(path)
    if not groups:
        return Selection(tuple(unnamed), "whole folder")
    if code not in groups:
        raise CorpusError(
            f"corpus {spec!r} has no file for {code!r}; found languages: {', '.join(sorted(groups))} "
            f"(files or folders named by code or FineWeb-2 config such as {_example(code)})"
        )
    return Selection(tuple(groups[code]), "by language", tuple(unnamed))


def _example(code: str) -> str:
    lang = get_language(code)
    return f"{lang.code}.jsonl or {lang.fineweb2 or lang.iso639_3}/"


def _check_file_language(spec: str, path: Path, code: str, lang_column: str | None) -> None:
    """A file named for another language is that language's text, not `code`'s; a mixed file
    with a language column may be named anything."""
    named = path_language(PurePosixPath(path.name))
    if lang_column is None and named is not None and named != code:
        pattern = (path.parent / (PLACEHOLDER + path.name[len(_stem(path.name)) :])).as_posix()
        raise CorpusError(
            f"corpus {spec!r} is named for {named!r}, not {code!r}; give each language its own file "
            f"with a {PLACEHOLDER} pattern such as {pattern}, or name the column that holds each "
            "row's language with --lang-column"
        )


def _expand(pattern: str) -> list[Path]:
    path = str(Path(pattern).expanduser())
    if _GLOB_CHARS.search(path):
        return [Path(p) for p in sorted(glob.glob(path, recursive=True))]
    return [Path(path)] if Path(path).exists() else []


def _pattern_files(spec: str, code: str) -> list[CorpusFile]:
    names = language_names(get_language(code))
    regex = _pattern_regex(spec)
    found: dict[Path, CorpusFile] = {}
    for name in names:
        for match in _expand(spec.replace(PLACEHOLDER, name)):
            if _names_another_language(regex, match, code):
                continue  # crawl/{lang}*.jsonl for sw must not take swe_Latn.jsonl (Swedish)
            if not match.is_dir():
                check_file_type(match)
            files = _folder_files(match) if match.is_dir() else [CorpusFile(match, match.name)]
            for file in files:
                found.setdefault(file.path, file)
    if not found:
        seen = pattern_names(spec)
        raise CorpusError(
            f"corpus {spec!r} has no file for {code!r} (tried {', '.join(names)} for {PLACEHOLDER}); "
            + (f"found: {', '.join(seen)}" if seen else "nothing matches it with any name")
        )
    return list(found.values())


def _pattern_path(spec: str) -> str:
    return str(Path(spec.rstrip("/")).expanduser())


def _pattern_regex(spec: str) -> re.Pattern:
    """Matches the paths `spec` stands for; group `lang` is what the placeholder took."""
    pieces = _pattern_path(spec).split(PLACEHOLDER)
    literal = [
        re.escape(p).replace(r"\*\*", ".*").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        for p in pieces
    ]
    return re.compile(
        "(?P<lang>[^/]+)".join(literal[:2]) + "".join("(?P=lang)" + p for p in literal[2:])
    )


def _names_another_language(regex: re.Pattern, match: Path, code: str) -> bool:
    found = regex.fullmatch(str(match).rstrip("/"))
    named = name_language(_stem(found["lang"])) if found else None
    return named is not None and named != code


def pattern_names(spec: str) -> list[str]:
    """What `{lang}` stands for in the paths that exist: `crawl/{lang}.jsonl` -> [bn, fi, sw]."""
    regex = _pattern_regex(spec)
    matches = (
        regex.fullmatch(m.rstrip("/"))
        for m in glob.glob(_pattern_path(spec).replace(PLACEHOLDER, "*"), recursive=True)
    )
    return sorted({found["lang"] for found in matches if found})


class LanguageColumn:
    """Keeps the rows whose `column` names one of `codes` (as code, ISO 639-3, FineWeb-2 or
    CulturaX config, English name, or a BCP 47 tag such as `sw-TZ`). Values outside the registry
    are skipped, not errors; every value is counted so that a column that never names a
    requested language can say what it holds instead."""

    def __init__(self, column: str, codes: Iterable[str]):
        self.column = column
        self.codes = list(dict.fromkeys(codes))
        self._accepts = {
            name.lower(): code for code in self.codes for name in language_names(get_language(code))
        }
        self.matched: Counter[str] = Counter()
        self.values: Counter[str] = Counter()

    def language(self, value: Any) -> str | None:
        text = "" if value is None else str(value).strip().lower()
        return self._accepts.get(text) or self._accepts.get(text.split("-")[0])

    def keep(self, value: Any) -> bool:
        shown = "(null)" if value is None else str(value)
        if shown in self.values or len(self.values) < _COUNTED_VALUES:
            self.values[shown] += 1
        code = self.language(value)
        if code is not None:
            self.matched[code] += 1
        return code is not None

    def all_matched(self) -> bool:
        return all(self.matched[code] for code in self.codes)

    def check(self, where: str) -> None:
        """Raise one line when some language got no row at all."""
        missing = [code for code in self.codes if not self.matched[code]]
        if not missing:
            return
        names = "; ".join(
            f"{code}: {', '.join(language_names(get_language(code)))}" for code in missing
        )
        top = self.values.most_common(_SHOWN_VALUES)
        found = ", ".join(f"{value} ({n})" for value, n in top) or "no rows"
        more = f" and {len(self.values) - len(top)} more" if len(self.values) > len(top) else ""
        raise CorpusError(
            f"column {self.column!r} of corpus {where!r} names no row as {', '.join(repr(c) for c in missing)} "
            f"(accepted values: {names}); values found: {found}{more}. Check --lang-column and --langs"
        )


def check_corpus(
    spec: str, codes: list[str], *, text_column: str | None = None, lang_column: str | None = None
) -> dict[str, Selection]:
    """Resolve `spec` for every language before anything expensive runs; raise one line on the
    first language with nothing to read. Returns each language's selection (empty for the
    embedded sample and Hub datasets, whose per-language configs are checked when streamed)."""
    if spec == "embedded" and lang_column:
        raise CorpusError(
            "--lang-column applies to local files and Hub datasets; the embedded sample "
            "is already one file per language"
        )
    if spec == "embedded" or is_hub_spec(spec):
        return {}
    selections = {code: select_files(spec, code, lang_column=lang_column) for code in codes}
    _log_selections(spec, selections, lang_column)
    if lang_column:
        _check_column(spec, selections, text_column, lang_column)
    else:
        _check_first_rows(selections, text_column)
    return selections


def _check_first_rows(selections: dict[str, Selection], text_column: str | None) -> None:
    """Read the first row of each language's first file: a wrong --text-column, or a file that is
    not JSON Lines, UTF-8 or Parquet, fails in seconds. A bad row further on is found when
    prepare reads the whole file."""
    seen: set[Path] = set()
    for selection in selections.values():
        first = next(iter(selection.files), None)
        if first is not None and first.path not in seen:
            seen.add(first.path)
            next(iter(first.read(text_column)), None)


def check_not_all_empty(selections: dict[str, Selection]) -> None:
    """Refuse a build whose every language reads only empty files (check_corpus's selections):
    known without reading them. Blank lines are found when prepare reads the files."""
    if selections and all(f.path.stat().st_size == 0 for s in selections.values() for f in s.files):
        raise no_rows(
            [
                f"{code} in {', '.join(str(f.path) for f in s.files)}"
                for code, s in selections.items()
            ]
        )


def _log_selections(spec: str, selections: dict[str, Selection], lang_column: str | None) -> None:
    for code, selection in selections.items():
        logger.info(
            "%s reads %d file(s) of %s (%s): %s",
            code,
            len(selection.files),
            spec,
            selection.how,
            ", ".join(f.name for f in selection.files[:5])
            + (" ..." if len(selection.files) > 5 else ""),
        )
    first = next(iter(selections.values()))
    if first.skipped:
        logger.warning(
            "%s: %d file(s) named by no language are skipped: %s",
            spec,
            len(first.skipped),
            ", ".join(f.name for f in first.skipped[:5]),
        )
    if first.how == "whole folder" and len(selections) > 1 and not lang_column:
        logger.warning(
            "%s: no file or folder is named by a language, so every language (%s) reads all of it; "
            "name them by language (sw.jsonl, swh_Latn/), use %s in the path, or pass --lang-column",
            spec,
            ", ".join(selections),
            PLACEHOLDER,
        )


def _check_column(
    spec: str, selections: dict[str, Selection], text_column: str | None, lang_column: str
) -> None:
    """Every language must find at least one row in the files it reads; stops reading as soon as
    each has one, so a column that names every language costs a few rows, not a pass."""
    readers: dict[tuple[CorpusFile, ...], list[str]] = {}
    for code, selection in selections.items():
        readers.setdefault(selection.files, []).append(code)
    for files, codes in readers.items():
        column = LanguageColumn(lang_column, codes)
        for file in files:
            for _ in file.read(text_column, column):
                if column.all_matched():
                    break
            if column.all_matched():
                break
        column.check(spec)

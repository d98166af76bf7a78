"""Errors a user can act on: each message names the problem and the fix."""

from __future__ import annotations

from collections.abc import Iterable


class CorpusError(ValueError):
    """A corpus or seed source that cannot be read as given."""


class MissingColumnError(CorpusError):
    def __init__(
        self,
        source: str,
        column: str,
        available: Iterable[str],
        option: str = "--text-column",
        fix: str | None = None,
    ):
        """`fix` replaces the advice to name the column with `option` (for a file whose columns
        are fixed, such as a seed file)."""
        self.column = column
        self.available = list(available)
        super().__init__(
            f"{source} has no column {column!r}; available columns: {', '.join(map(str, self.available)) or '(none)'}. "
            + (fix or f"Name the column that holds the text with {option} COLUMN")
        )


def no_rows(where: list[str]) -> CorpusError:
    """No language has a row to read: `where` says, per language, which files it read."""
    return CorpusError(
        f"the corpus has no rows: nothing to read for {'; '.join(where)} (the file is empty or holds "
        "only blank lines). Pass --corpus a file or folder with text"
    )


class NotUTF8Error(CorpusError):
    def __init__(self, path: str, offset: int, reason: str):
        self.path = path
        self.offset = offset
        super().__init__(
            f"{path} is not UTF-8: undecodable byte at byte offset {offset} ({reason}). "
            f"Re-encode it first, e.g. `iconv -f WINDOWS-1252 -t UTF-8 {path} > fixed.txt` "
            "(use the file's real encoding in place of WINDOWS-1252)"
        )

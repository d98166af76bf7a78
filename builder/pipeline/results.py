"""What a build gives back, and how it fails when nothing is left to publish."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

from datasets import Dataset

from ..config import BuildConfig
from ..core.funnel import Funnel
from ..core.workdir import StoredOutput
from ..corpus.errors import no_rows
from ..corpus.readers import corpus_files_read
from ..publish.export import Parts
from ..publish.provenance import public_rows
from ..publish.rows import published_rows


class EmptyBuildError(RuntimeError):
    """Every row of every language was filtered out; the funnel says where."""

    def __init__(self, message: str, funnel: Funnel | None = None):
        super().__init__(message)
        self.funnel = funnel  # so a caller can explain one language (builder/x_instruction.py)


@dataclasses.dataclass
class BuildResult:
    languages: dict[str, Dataset]  # published rows per language
    audit: Parts  # every row with its candidates, judgements and drop reason, one part per language
    funnel: Funnel
    build_info: dict
    output_dir: Path | None = None
    push_summary: dict | None = None  # {config: "uploaded" | "unchanged"} after --push-to-hub


def published_and_audit(finals: dict[str, StoredOutput], meta: dict) -> tuple[dict, Parts]:
    """The published rows of each language's last table, and the audit config. The audit config
    (every row, candidates and judgements included) is the biggest table: it is given as parts
    that the export reads and writes one language at a time (builder/publish/export.py)."""
    published = {lang: published_rows(final.table(), meta) for lang, final in finals.items()}
    audit = Parts(
        tuple(functools.partial(_audit_part, final) for final in finals.values()),
        sum(final.num_rows() for final in finals.values()),
    )
    return published, audit


def _audit_part(final: StoredOutput):
    return public_rows(final.table())


def check_not_empty(result: BuildResult, config: BuildConfig) -> None:
    """Raise when no language read a row (bad input) or every row was filtered out."""
    if not any(result.funnel.rows_in.get(lang) for lang in config.langs):
        raise _no_rows(config)  # not the filters' doing: their advice would mislead
    if not any(len(d) for d in result.languages.values()):
        raise EmptyBuildError(
            "every row was filtered out; nothing to publish. Funnel:\n"
            + result.funnel.table()
            + "\nLower --accept-score, use a stronger --model, or check the corpus language and --text-column.",
            result.funnel,
        )


def _no_rows(config: BuildConfig) -> ValueError:
    """The corpus gave no row to any language (a file of blank lines; an empty one is refused
    before any model loads, by check_corpus): bad input."""
    where = []
    for lang in config.langs:
        files = [
            path
            for path, *_ in corpus_files_read(config.corpus, lang, lang_column=config.lang_column)
        ]
        where.append(f"{lang} in {', '.join(files) or config.corpus}")
    return no_rows(where)

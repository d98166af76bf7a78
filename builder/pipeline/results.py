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
            + "\n"
            + empty_build_advice(result.funnel),
            result.funnel,
        )


# What to change when a drop reason emptied the build; the reasons a stage writes to `dropped`
# (builder/stages/prepare.py: DROP_REASONS, builder/stages/select.py: Select.reason, the
# meta-talk gate). A reason not listed gets the general advice.
ADVICE = {
    "low_score": "lower --accept-score or use a stronger --model (the rater scored the pairs low)",
    "unscored": "use a stronger --model (the rater's replies held no score)",
    "off_topic": "lower --min-relevance (0 disables it) or use a stronger --model (the "
    "instructions fit their texts no better than other texts)",
    "below_seed_floor": "use --relevance-floor flag to keep and count these pairs, or a stronger "
    "--model (the instructions fit their texts less than the seed pairs do)",
    "wrong_language": "check the corpus language, --langs and --text-column (prepare's language ID "
    "did not find the language)",
    "response_wrong_language": "check the corpus language and --langs",
    "too_short": "lower --min-tokens or give longer texts",
    "too_long": "raise --max-tokens or split the texts",
    "meta_talk": "the texts read as chat-model talk; give web text written by people",
    "exact_duplicate": "the corpus repeats the same texts; give more distinct texts",
    "near_duplicate": "the corpus repeats near-identical texts; give more distinct texts",
}
GENERAL_ADVICE = (
    "Lower --accept-score, use a stronger --model, or check the corpus language and --text-column."
)


def empty_build_advice(funnel: Funnel, most: int = 2) -> str:
    """One line of advice for the drop reasons that removed the most rows over all languages,
    so that a build emptied by the relevance gate is not told to lower --accept-score."""
    counts: dict[str, int] = {}
    for reasons in funnel.dropped.values():
        for reason, n in reasons.items():
            counts[reason] = counts.get(reason, 0) + n
    hints = [
        f"{reason}: {_advice(reason)}"
        for reason in sorted(counts, key=lambda r: (-counts[r], r))[:most]
        if _advice(reason)
    ]
    return "What to change: " + "; ".join(hints) + "." if hints else GENERAL_ADVICE


def _advice(reason: str) -> str | None:
    if reason.startswith("instruction_"):  # Select's checks of the instruction's own text
        return "use a stronger --model (its instructions failed this check)"
    return ADVICE.get(reason)


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

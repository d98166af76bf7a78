"""Any Hub dataset with a text column, streamed with `datasets.load_dataset(..., streaming=True)`.

Nothing is downloaded up front: rows arrive a Parquet row group at a time, so a 100 GB
FineWeb-2 config costs the same memory as a 100 kB one, and `limit` stops the download early.
`load_dataset` on a local folder laid out like a Hub repo takes the same path, which is how
the tests run this code without the network.

Two corpora are known by name, with their per-language config taken from the language registry:
- FineWeb-2 (`HuggingFaceFW/fineweb-2`, shorthand `fineweb2`): configs `{iso639-3}_{Script}`,
  e.g. `swh_Latn`; splits `train` and `test`.
- CulturaX (`uonlp/CulturaX`, shorthand `culturax`): ISO 639-1 configs, e.g. `sw`; gated on
  the Hub, so log in (`hf auth login`) and accept its terms first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from ..languages import get_language
from .errors import CorpusError, MissingColumnError
from .local_files import LANG_COLUMN_OPTION, ROW_ID_COLUMNS, RowFilter

HUB_PREFIX = "hub:"


@dataclasses.dataclass(frozen=True)
class HubCorpus:
    repo: str
    config_field: str  # the attribute of `languages.Language` that names its config


# Shorthand -> corpus. Tests point a shorthand at a local folder laid out like the Hub repo.
HUB_CORPORA: dict[str, HubCorpus] = {
    "fineweb2": HubCorpus("HuggingFaceFW/fineweb-2", "fineweb2"),
    "culturax": HubCorpus("uonlp/CulturaX", "culturax"),
}
_ALIASES = {"fineweb-2": "fineweb2"}


def known_corpus(spec: str) -> HubCorpus | None:
    """The known corpus a shorthand (`fineweb2`) or repo id (`uonlp/CulturaX`) names, if any."""
    key = _ALIASES.get(spec.lower(), spec.lower())
    if key in HUB_CORPORA:
        return HUB_CORPORA[key]
    return next((c for c in HUB_CORPORA.values() if c.repo.lower() == key), None)


def is_hub_spec(spec: str) -> bool:
    return spec.startswith(HUB_PREFIX) or known_corpus(spec) is not None


def _repo_and_config(spec: str) -> tuple[str, str | None]:
    """`hub:ID[:CONFIG]` or a shorthand -> (repo id, the config the spec names, if any)."""
    body = spec[len(HUB_PREFIX) :] if spec.startswith(HUB_PREFIX) else spec
    repo, config = body, None
    head, sep, tail = body.rpartition(":")
    if sep and head and "/" not in tail:  # "org/name:config"; a bare "/local/folder" has no config
        repo, config = head, tail
    corpus = known_corpus(repo) if repo else None
    return (corpus.repo if corpus else repo), config


def hub_repo(spec: str) -> str | None:
    """The Hub dataset a corpus spec streams (`fineweb2` -> HuggingFaceFW/fineweb-2); None for
    the embedded sample and local files, which are no Hub dataset."""
    if not is_hub_spec(spec):
        return None
    return _repo_and_config(spec)[0] or None


def parse_hub_spec(spec: str, lang: str) -> tuple[str, str | None]:
    """`hub:ID[:CONFIG]` or a shorthand -> (repo id, config); known corpora get the language's config."""
    repo, config = _repo_and_config(spec)
    if not repo:
        raise CorpusError(f"{spec!r}: name a dataset, e.g. hub:HuggingFaceFW/fineweb-2:swh_Latn")
    corpus = known_corpus(repo)
    if corpus is not None:
        if config is None:
            language = get_language(lang)
            config = getattr(language, corpus.config_field)
            if config is None:
                raise CorpusError(
                    f"{corpus.repo} has no config registered for {language.name} ({language.code}); "
                    f"name it: hub:{corpus.repo}:CONFIG"
                )
    return repo, config


def load_streaming(repo: str, config: str | None, split: str):
    from datasets import load_dataset

    return load_dataset(repo, config, split=split, streaming=True)


def columns_of(dataset) -> list[str]:
    """Column names of a streamed dataset; peeks at the first row when the features are unknown."""
    if dataset.column_names is not None:
        return list(dataset.column_names)
    first = next(iter(dataset.take(1)), None)
    return list(first) if first else []


def describe(repo: str, config: str | None, split: str | None = None) -> str:
    return (
        f"{HUB_PREFIX}{repo}"
        + (f":{config}" if config else "")
        + (f" (split {split})" if split else "")
    )


def read_hub(
    repo: str,
    config: str | None,
    split: str = "train",
    text_column: str | None = None,
    lang_filter: RowFilter | None = None,
) -> Iterator[tuple[str, str]]:
    """(text, row id) from a streamed Hub dataset; the row id is its `id` or `url`, else its index.
    `lang_filter` keeps only the rows whose language column names the language."""
    text_column = text_column or "text"
    dataset = load_streaming(repo, config, split)
    columns = columns_of(dataset)
    if text_column not in columns:
        raise MissingColumnError(describe(repo, config, split), text_column, columns)
    lang_column = lang_filter.column if lang_filter is not None else None
    if lang_column is not None and lang_column not in columns:
        raise MissingColumnError(
            describe(repo, config, split), lang_column, columns, LANG_COLUMN_OPTION
        )
    id_column = next((c for c in ROW_ID_COLUMNS if c in columns and c != text_column), None)
    # Parquet is columnar: selecting the columns skips reading the others from disk or network.
    dataset = dataset.select_columns(
        list(dict.fromkeys(c for c in (text_column, id_column, lang_column) if c))
    )
    for index, row in enumerate(dataset):
        if lang_column is not None and not lang_filter.keep(row[lang_column]):
            continue
        text = row[text_column]
        if text is not None and not isinstance(text, str):
            raise CorpusError(
                f"{describe(repo, config, split)}: column {text_column!r} holds {type(text).__name__}, not text"
            )
        row_id = row.get(id_column) if id_column else None
        yield text or "", str(row_id) if row_id not in (None, "") else str(index)

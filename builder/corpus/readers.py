"""One entry point for every corpus: `read_corpus(spec, lang)` streams `{"text", "source"}` rows.

`spec` is one of
- `"embedded"`: the demo sample shipped in the package (offline; demo text, not web text);
- a local file or folder: `.jsonl[.gz]`, `.parquet`, `.txt[.gz]` (one document per line, or
  per blank-line-separated paragraph);
- `"hub:ID[:CONFIG]"`: any Hub dataset with a text column, streamed; `fineweb2` and
  `culturax` (or their repo ids without a config) take the language's config from the registry.

    >>> rows = read_corpus("fineweb2", "sw", limit=1000)             # HuggingFaceFW/fineweb-2, swh_Latn
    >>> rows = read_corpus("hub:uonlp/CulturaX:sw", "sw")             # gated: log in first
    >>> rows = read_corpus("crawl/", "sw", text_column="content")     # a folder of Parquet/JSONL files

Every row carries its provenance, `source = {"corpus", "config", "split", "row"}`, which the
later stages keep. Rows are produced lazily and memory does not grow with the corpus.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

from ..languages import get_language
from . import embedded
from .errors import CorpusError
from .hub_datasets import is_hub_spec, parse_hub_spec, read_hub
from .local_files import read_path
from .seeds import read_seeds

__all__ = ["read_corpus", "read_seeds"]


def _source(corpus: str, config: str | None, split: str | None, row: str) -> dict:
    return {"corpus": corpus, "config": config, "split": split, "row": row}


def read_corpus(
    spec: str,
    lang: str,
    *,
    text_column: str | None = None,
    split: str = "train",
    limit: int | None = None,
) -> Iterator[dict]:
    """Stream `{"text": str, "source": {...}}` rows of the corpus `spec` for language `lang`.

    `text_column` names the column holding the text (default `text`; plain-text files have
    only one). `split` applies to Hub datasets. `limit` caps the rows *read*, before any
    filtering. Errors about the source (missing column, bad encoding) surface at the first row.
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0 or None, not {limit}")
    code = get_language(lang).code  # fail on an unknown language before touching any corpus
    rows = _rows(spec, code, text_column, split)
    return itertools.islice(rows, limit) if limit is not None else rows


def _rows(spec: str, code: str, text_column: str | None, split: str) -> Iterator[dict]:
    if not spec:
        raise CorpusError("no corpus given; pass embedded, a local file or folder, fineweb2, culturax or hub:ID[:CONFIG]")
    if spec == "embedded":
        return (_source_row(text, embedded.DEMO_CORPUS, code, None, row) for text, row in embedded.iter_corpus(code))
    if is_hub_spec(spec):
        repo, config = parse_hub_spec(spec, code)
        return (_source_row(text, repo, config, split, row) for text, row in read_hub(repo, config, split, text_column))
    path = Path(spec).expanduser()
    if not path.exists():
        raise CorpusError(
            f"corpus {spec!r} is neither a local file or folder nor a known corpus; pass embedded, "
            "a path, fineweb2, culturax or hub:ID[:CONFIG]"
        )
    return (_source_row(text, str(path), None, None, row) for text, row in read_path(path, text_column))


def _source_row(text: str, corpus: str, config: str | None, split: str | None, row: str) -> dict:
    return {"text": text, "source": _source(corpus, config, split, row)}

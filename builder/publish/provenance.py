"""What a published dataset may say about where it was built.

An export is meant to be pushed: its rows (`source.corpus`, `meta`), `build_info.json` and
card must not carry the builder's home folder layout (an absolute `crawl/sw.jsonl` under a home folder) nor a
password in a server URL. Local paths are published relative to the folder the build ran in,
or as a bare file name when they lie outside it; the exact values stay in the work dir's own
`build_info.json` (see Pipeline._finish).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from ..redact import redact_url

# Settings that may name a local file or folder.
PATH_SETTINGS = (
    "corpus",
    "seeds",
    "model",
    "generator",
    "evaluator",
    "evaluator_model",
    "embedder",
    "tokenizer",
)


def _is_local(value: str) -> bool:
    # A Hub id ("org/name") or a corpus name ("fineweb2") is not a path here; "{lang}" patterns are.
    if os.path.isabs(value):
        return True
    head = value.split("{lang}")[0]
    return bool(head) and Path(head).exists()


def public_path(value, cwd: str | Path | None = None):
    """`value` fit to publish: a local path relative to `cwd` (default: the current folder), or its
    last part when it lies outside; anything that is not a local path comes back unchanged."""
    if not isinstance(value, str) or not value or not _is_local(value):
        return value
    here = os.path.abspath(cwd or os.getcwd())
    full = os.path.abspath(value)
    if full == here or full.startswith(here.rstrip(os.sep) + os.sep):
        return PurePosixPath(*Path(os.path.relpath(full, here)).parts).as_posix()
    return Path(full).name


def public_settings(settings: dict) -> dict:
    """The build's settings with local paths made relative and credentials removed from URLs."""
    out = dict(settings)
    for key in PATH_SETTINGS:
        if key in out:
            out[key] = public_path(out[key])
    if out.get("base_url"):
        out["base_url"] = redact_url(out["base_url"])
    return out


def public_rows(dataset):
    """`dataset` with `source.corpus` (and the model names in `meta`) fit to publish.

    The work dir's shards keep the exact paths (and row ids never depend on them), so this
    runs on the rows on their way out; rows that name nothing local come back untouched."""
    columns = [c for c in ("source", "meta") if c in dataset.column_names]
    if not columns or not len(dataset):
        return dataset

    memo: dict = {}  # few distinct paths, many rows

    def public(batch):
        return {c: [_public_struct(c, v, memo) for v in batch[c]] for c in columns}

    # A slice of each column: iterating a lazy column formats it row by row.
    changed = any(_public_struct(c, v, memo) != v for c in columns for v in dataset[c][:])
    if not changed:
        return dataset
    return dataset.map(
        public,
        batched=True,
        features=dataset.features,
        keep_in_memory=True,
        load_from_cache_file=False,
    )


def _public_struct(column: str, value: dict | None, memo: dict) -> dict | None:
    if not value:
        return value
    keys = ("corpus",) if column == "source" else ("generator_model", "evaluator_model")
    for k in keys:
        if k in value and value[k] not in memo:
            memo[value[k]] = public_path(value[k])
    return {**value, **{k: memo[value[k]] for k in keys if k in value}}

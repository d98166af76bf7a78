"""Seed pairs (English instruction, target-language output) for the generator's worked examples.

Sources:
- the embedded demo seeds (`None` or `"embedded"`); a language without any borrows those of
  other languages, its own script first (builder/corpus/seed_donors.py);
- a local `.jsonl`/`.parquet` file with `instruction` and `output` columns;
- `hub:ID[:CONFIG]`: any Hub dataset with those two columns, streamed;
- Bactrian-X (`bactrian-x` or `hub:MBZUAI/Bactrian-X`), joined across two configs. Its
  `{lang}` config holds the instruction machine-translated into the language and a ChatGPT
  answer in the language; its `en` config holds the original English instruction under the
  same `id`. X-Instruction pairs an English instruction with a target-language response, so
  a seed takes `instruction` (plus `input`, when present) from `en` and `output` from `{lang}`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..languages import get_language
from . import embedded
from .errors import CorpusError, MissingColumnError
from .hub_datasets import HUB_PREFIX, columns_of, describe, load_streaming
from .local_files import _lines
from .seed_donors import announce_borrowing, borrowed_seeds

SEED_COLUMNS = ("instruction", "output")
_SEED_FIX = "A seed file needs 'instruction' and 'output' columns: rename yours"
# Shorthand -> repo id; tests point it at a local folder laid out like the Hub repo.
SEED_DATASETS: dict[str, str] = {"bactrian-x": "MBZUAI/Bactrian-X"}
BACTRIAN_REPO = "MBZUAI/Bactrian-X"


def _pair(row: dict, where: str) -> dict | None:
    missing = [c for c in SEED_COLUMNS if c not in row]
    if missing:
        raise MissingColumnError(where, missing[0], row, fix=_SEED_FIX)
    instruction, output = (row[c] or "" for c in SEED_COLUMNS)
    if not (str(instruction).strip() and str(output).strip()):
        return None  # an empty side teaches the generator nothing
    return {"instruction": str(instruction).strip(), "output": str(output).strip()}


def _collect(rows: Iterable[tuple[dict, str]], limit: int | None) -> list[dict]:
    seeds = []
    for row, where in rows:
        pair = _pair(row, where)
        if pair:
            seeds.append(pair)
            if limit is not None and len(seeds) >= limit:
                break
    return seeds


def _jsonl_rows(path: Path) -> Iterator[tuple[dict, str]]:
    for number, line in _lines(path):
        if line.strip():
            try:
                yield json.loads(line), f"{path}:{number}"
            except json.JSONDecodeError as e:
                raise CorpusError(f"{path}:{number} is not valid JSON ({e.msg})") from None


def _parquet_rows(path: Path) -> Iterator[tuple[dict, str]]:
    import pyarrow.parquet as pq

    table = pq.ParquetFile(path)
    names = table.schema_arrow.names
    missing = [c for c in SEED_COLUMNS if c not in names]
    if missing:
        raise MissingColumnError(str(path), missing[0], names, fix=_SEED_FIX)
    for batch in table.iter_batches(columns=list(SEED_COLUMNS)):
        for row in batch.to_pylist():
            yield row, str(path)


def _hub_rows(repo: str, config: str | None) -> Iterator[tuple[dict, str]]:
    dataset = load_streaming(repo, config, "train")
    columns = columns_of(dataset)
    missing = [c for c in SEED_COLUMNS if c not in columns]
    if missing:
        raise MissingColumnError(
            describe(repo, config, "train"), missing[0], columns, fix=_SEED_FIX
        )
    for row in dataset.select_columns(list(SEED_COLUMNS)):
        yield row, describe(repo, config)


def bactrian_join(repo: str, lang: str, limit: int | None = None) -> list[dict]:
    """English instruction (+ input) from config `en`, output from config `lang`, joined on `id`."""
    target = load_streaming(repo, lang, "train")
    outputs: dict[str, str] = {}  # id -> output, in the target config's order
    for row in target.select_columns(["id", "output"]):
        if row["output"] and row["output"].strip():
            outputs[row["id"]] = row["output"].strip()
            if limit is not None and len(outputs) >= limit:
                break
    if not outputs:
        raise CorpusError(f"{describe(repo, lang)} has no rows with an output")
    english: dict[str, str] = {}
    for row in load_streaming(repo, "en", "train").select_columns(["id", "instruction", "input"]):
        if row["id"] in outputs:
            extra = (row.get("input") or "").strip()
            english[row["id"]] = row["instruction"].strip() + (f"\n\n{extra}" if extra else "")
            if len(english) == len(outputs):
                break  # both configs list the same ids: stop streaming once all are found
    return [
        {"instruction": english[i], "output": out} for i, out in outputs.items() if i in english
    ]


def check_seed_source(spec: str | None, lang: str) -> None:
    """At the start of a build, before any model loads: a local seed file exists, has a seed
    file's type, and its rows up to the first pair are JSON with instruction/output columns (the
    embedded seeds are checked the same way). A Hub source is checked when it is streamed; the
    rest of a local file is checked when the generate stage reads it whole."""
    if spec not in (None, "", "embedded") and (
        spec.lower() in SEED_DATASETS or spec.startswith(HUB_PREFIX)
    ):
        return
    if spec in (None, "", "embedded") and get_language(
        lang
    ).code not in embedded.available_languages("seeds"):
        # here, in the driver only: the workers reading the seeds stay silent
        announce_borrowing(lang)
    read_seeds(spec, lang, limit=1)


def read_seeds(spec: str | None, lang: str, *, limit: int | None = None) -> list[dict]:
    """[{"instruction": English, "output": text in `lang`}] from the source `spec` names. For a
    language without embedded seeds, the default source lends other languages' pairs, each with
    the `lang` its output is written in."""
    code = get_language(lang).code
    if spec in (None, "", "embedded"):
        if code not in embedded.available_languages("seeds"):
            # No pairs of its own: borrow other languages' (builder/corpus/seed_donors.py).
            borrowed = borrowed_seeds(code)
            if borrowed:
                return borrowed[:limit] if limit is not None else borrowed
        seeds = embedded.load_seeds(code)
        return seeds[:limit] if limit is not None else seeds
    repo = SEED_DATASETS.get(spec.lower())
    if repo is None and spec.startswith(HUB_PREFIX):
        repo = spec[len(HUB_PREFIX) :]
    if repo is not None:
        name, sep, config = repo.rpartition(":")
        repo, config = (name, config) if sep and "/" not in config else (repo, None)
        if repo == BACTRIAN_REPO or spec.lower() in SEED_DATASETS:
            seeds = bactrian_join(repo, config or code, limit)
        else:
            seeds = _collect(_hub_rows(repo, config), limit)
    else:
        path = Path(spec).expanduser()
        if not path.is_file():
            raise CorpusError(
                f"seed source {spec!r} is not a file; pass embedded, bactrian-x, hub:ID[:CONFIG] "
                "or a .jsonl/.parquet file with instruction/output columns"
            )
        if path.name.endswith((".jsonl", ".jsonl.gz")):
            seeds = _collect(_jsonl_rows(path), limit)
        elif path.name.endswith(".parquet"):
            seeds = _collect(_parquet_rows(path), limit)
        else:
            raise CorpusError(f"{path}: seed files must be .jsonl or .parquet")
    if not seeds:
        raise CorpusError(
            f"seed source {spec!r} gave no pair with both an instruction and an output"
        )
    return seeds

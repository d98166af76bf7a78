"""Seed pairs for the backward model: (target-language text, English instruction it answers).

Three sources, all ending as one Dataset per language with columns `text`, `instruction`, `lang`:

* a local file (`--seed_file seeds.jsonl` with a `lang` column, or `seeds/{lang}.jsonl`);
* a dataset whose language configs hold both columns (an X-Instruction export);
* a parallel dataset such as Bactrian-X, where the English instruction sits in another config
  (`--instruction_config en`) and rows are paired by `--join_column` (`id`).
"""

from __future__ import annotations

import logging
import os

from datasets import Dataset

from ..languages import get_language, parse_languages
from .data import (
    EMPTY_HINT,
    EmptyLanguageError,
    check_columns,
    check_not_empty,
    drop_incomplete_pairs,
    load_config,
    load_dataset,
    load_languages,
)

logger = logging.getLogger(__name__)

_COLUMNS_HINT = (
    "Name the dataset's columns with --response_column, --instruction_column and --join_column."
)
_FILE_BUILDERS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}


def read_table_file(path: str, flag: str = "--seed_file") -> Dataset:
    ext = os.path.splitext(path)[1].lower()
    if ext not in _FILE_BUILDERS:
        raise ValueError(
            f"{flag} {path}: unsupported extension; use one of {', '.join(_FILE_BUILDERS)}"
        )
    if not os.path.isfile(path):
        raise ValueError(f"{flag} {path}: no such file")
    return load_dataset(_FILE_BUILDERS[ext], data_files=path, split="train")


def _combine(instruction: str, extra: str | None) -> str:
    """Alpaca-style data splits an instruction into `instruction` + `input`; the generator
    writes the whole request, so the two are joined."""
    instruction = (instruction or "").strip()
    extra = (extra or "").strip()
    return f"{instruction}\n{extra}" if extra else instruction


def _to_pairs(
    dataset: Dataset, lang: str, args, instructions: dict | None = None, where: str = ""
) -> Dataset:
    """Rows -> {text, instruction, lang}; with `instructions` (id -> English instruction) the
    instruction comes from the join and unmatched rows are dropped."""
    input_col = (
        args.input_column
        if args.input_column and args.input_column in dataset.column_names
        else None
    )

    def convert(batch):
        out = {"text": [], "instruction": [], "lang": []}
        for i, text in enumerate(batch[args.response_column]):
            if instructions is not None:
                english = instructions.get(batch[args.join_column][i])
                if english is None:
                    continue
            else:
                english = _combine(
                    batch[args.instruction_column][i], batch[input_col][i] if input_col else None
                )
            out["text"].append(text)
            out["instruction"].append(english)
            out["lang"].append(lang)
        return out

    pairs = dataset.map(
        convert, batched=True, remove_columns=dataset.column_names, desc=f"Seed pairs of {where}"
    )
    if instructions is not None and len(pairs) < len(dataset):
        logger.warning(
            "%s: %d of %d rows have no %r match in the instruction config and were skipped",
            where,
            len(dataset) - len(pairs),
            len(dataset),
            args.join_column,
        )
    pairs = drop_incomplete_pairs(pairs, where, columns=("text", "instruction"))
    check_not_empty(pairs, where, "no usable (text, English instruction) pair")
    return pairs


def _from_file(args) -> dict[str, Dataset]:
    path = args.seed_file
    needed = (args.response_column, args.instruction_column)
    if "{lang}" in path:
        if args.languages.strip() == "all":
            raise ValueError(
                "--seed_file with a {lang} placeholder needs explicit --languages (e.g. 'sw,bn')"
            )
        out = {}
        for lang in parse_languages(args.languages):
            file = path.format(lang=lang.code)
            data = read_table_file(file)
            check_columns(data, needed, file, _COLUMNS_HINT)
            out[lang.code] = _to_pairs(data, lang.code, args, where=file)
        return out
    data = read_table_file(path)
    check_columns(
        data,
        (*needed, "lang"),
        path,
        _COLUMNS_HINT + " A single file needs a `lang` column; "
        "or put {lang} in the path, one file per language.",
    )
    present = sorted(set(data["lang"]))
    codes = (
        present
        if args.languages.strip() == "all"
        else [lang.code for lang in parse_languages(args.languages)]
    )
    out = {}
    for code in codes:
        get_language(code)
        rows = data.filter(
            lambda batch, code=code: [v == code for v in batch["lang"]], batched=True
        )
        check_not_empty(
            rows, f"{path} (lang == {code!r})", f"the file has languages: {', '.join(present)}"
        )
        out[code] = _to_pairs(rows, code, args, where=f"{path} ({code})")
    return out


def _english_instructions(dataset_name: str, args, split: str) -> dict:
    english = load_dataset(dataset_name, args.instruction_config, split=split)
    where = f"config {args.instruction_config!r} of {dataset_name}"
    check_columns(english, (args.join_column, args.instruction_column), where, _COLUMNS_HINT)
    extra = (
        english[args.input_column]
        if args.input_column and args.input_column in english.column_names
        else None
    )
    ids, texts = english[args.join_column], english[args.instruction_column]
    return {
        key: _combine(text, extra[i] if extra is not None else None)
        for i, (key, text) in enumerate(zip(ids, texts))
    }


def load_seed_pairs(dataset_name: str | None, args, split: str = "train") -> dict[str, Dataset]:
    """`args` is a GeneratorArguments; returns {lang: Dataset(text, instruction, lang)}."""
    if args.seed_file:
        if dataset_name:
            raise ValueError("pass either --seed_file or --dataset_name, not both")
        return _from_file(args)
    if not dataset_name:
        raise ValueError(
            "pass --seed_file (a local file of pairs) or --dataset_name (a Hub or local dataset)"
        )
    instructions = (
        _english_instructions(dataset_name, args, split) if args.instruction_config else None
    )
    needed = (
        (args.response_column, args.join_column)
        if instructions is not None
        else (args.response_column, args.instruction_column)
    )

    def load(code: str) -> Dataset | None:
        if code == args.instruction_config:
            return None  # "all" includes the English config itself
        where = f"config {code!r} of {dataset_name}"
        splits = load_config(dataset_name, code, where)
        if split not in splits:
            raise ValueError(f"{where} has no {split!r} split (it has: {', '.join(splits)})")
        check_columns(splits[split], needed, where, _COLUMNS_HINT)
        check_not_empty(splits[split], where, EMPTY_HINT, EmptyLanguageError)
        return _to_pairs(splits[split], code, args, instructions, where)

    out = {
        code: pairs
        for code, pairs in load_languages(dataset_name, args.languages, load).items()
        if pairs is not None
    }
    if not out:
        raise ValueError(
            f"no language config of {dataset_name} besides {args.instruction_config!r}"
        )
    return out

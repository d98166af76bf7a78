"""Loading X-Instruction language configs for training: validation, filtering, held-out splits.

An X-Instruction dataset (a local export or a Hub repo, same layout) has one config per
language (`sw`, `bn`, ...), each with a `train` split and optionally a `test` split, plus
configs that are not languages (`all`, `candidates`). Training reads the language configs the
user names, checks that they hold instruction pairs, and keeps train and held-out rows apart
per language, so mixing weights (see `mixing.py`) apply to training rows only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import datasets
from datasets import Dataset, get_dataset_config_names

from ..languages import Language, UnknownLanguageError, get_language, parse_languages
from ..publish.layout import BUILD_INFO_FILE

logger = logging.getLogger(__name__)
T = TypeVar("T")

# What every training format is made from: the published conversation (builder/publish/messages.py).
PAIR_COLUMNS = ("messages",)
EMPTY_HINT = "the build kept no pair for this language; leave it out of --languages (`all` skips empty languages)"


class EmptyLanguageError(ValueError):
    """A language config with no usable rows (a build may keep none for a language)."""


@dataclasses.dataclass
class LanguageSplits:
    """Train and held-out rows of one language config."""

    lang: str
    train: Dataset
    eval: Dataset | None


def looks_local(path: str) -> bool:
    """A folder rather than a Hub id (`org/name`), the rule `builder.engines.models.resolve_model` applies to models."""
    return os.path.exists(path) or path.startswith((".", "/", "~")) or path.count("/") != 1


def config_names(path: str) -> list[str]:
    """`get_dataset_config_names`, with a missing folder or an unreachable Hub said in one line
    (datasets would retry a misspelt folder name on the Hub for ~20 s first)."""
    if looks_local(path) and not os.path.isdir(path):
        raise FileNotFoundError(
            f"--dataset_name {path}: no such folder (from {os.getcwd()}); pass the folder `x-instruction build` "
            "wrote (--output-dir, default x-instruction-data) or a Hub dataset id such as org/x-instruction"
        )
    try:
        return get_dataset_config_names(path)
    except ConnectionError as err:  # datasets' words for an offline machine or a Hub outage
        raise ValueError(
            f"--dataset_name {path}: {err}; on a machine without network pass a local export folder"
        ) from err


def language_configs(path: str) -> list[str]:
    """The configs of `path` that are registered language codes, in the dataset's order."""
    configs = config_names(path)
    codes = []
    for name in configs:
        try:
            get_language(name)
        except UnknownLanguageError:
            continue  # `all`, `candidates` and other non-language configs
        codes.append(name)
    return codes


def built_languages(path: str) -> list[str]:
    """The languages a local export's build was asked for (its build_info.json), else []."""
    info = Path(path) / BUILD_INFO_FILE
    try:
        return list(json.loads(info.read_text(encoding="utf-8"))["settings"]["langs"])
    except (OSError, ValueError, KeyError, TypeError):
        return []


def resolve_languages(path: str, spec: str) -> list[Language]:
    """`"sw,bn"` -> those languages (each must be a config of `path`); `"all"` -> every language config."""
    available = language_configs(path)
    # An export may leave out a language its build kept no pair for.
    unexported = [code for code in built_languages(path) if code not in available]
    if spec.strip() == "all":
        if unexported:
            logger.warning(
                "Skipping %s: built but not exported (the build kept no pair for %s)",
                ", ".join(unexported),
                "it" if len(unexported) == 1 else "them",
            )
        if not available:
            raise ValueError(
                f"{path} has no language configs (found: {', '.join(config_names(path)) or 'none'}); "
                "an X-Instruction dataset has one config per language code, such as 'sw' or 'bn'"
            )
        return [get_language(code) for code in available]
    languages = parse_languages(spec)  # raises UnknownLanguageError with the known codes
    missing = [lang.code for lang in languages if lang.code not in available]
    if missing:
        why = " (its build kept no pair)" if set(missing) <= set(unexported) else ""
        raise ValueError(
            f"{path} has no config for {', '.join(repr(m) for m in missing)}{why}; its language configs are: "
            f"{', '.join(available) or 'none'}. Pass --languages with some of those, or 'all'"
        )
    return languages


X_INSTRUCTION_COLUMNS_HINT = (
    "An X-Instruction config has id, lang, instruction (English), output (the target-language response), "
    "score, ..., messages (the pair as a chat; exports by builders before 0.2.0 lack it: run the same "
    "`x-instruction build` again with a current builder, which reuses its work dir). Is this the right dataset "
    "or config?"
)


def check_columns(
    dataset: Dataset, needed: tuple[str, ...], where: str, hint: str = X_INSTRUCTION_COLUMNS_HINT
) -> None:
    missing = [c for c in needed if c not in dataset.column_names]
    if missing:
        raise ValueError(
            f"{where} lacks the column(s) {', '.join(missing)} (it has: {', '.join(dataset.column_names)}). {hint}"
        )


def check_not_empty(
    dataset: Dataset, where: str, hint: str = "", error: type[ValueError] = ValueError
) -> None:
    if len(dataset) == 0:
        raise error(f"{where} has no rows{': ' + hint if hint else ''}")


def _filled(value) -> bool:
    """A non-blank text, or a conversation (`messages`) with turns whose texts are all non-blank."""
    if isinstance(value, list):
        return bool(value) and all(
            isinstance(turn, dict) and _filled(turn.get("content")) for turn in value
        )
    return isinstance(value, str) and bool(value.strip())


def drop_incomplete_pairs(dataset: Dataset, where: str, columns=PAIR_COLUMNS) -> Dataset:
    """Drop rows whose instruction or response is missing or blank: they would train on nothing."""
    kept = dataset.filter(
        lambda batch: [
            all(_filled(v) for v in values) for values in zip(*(batch[c] for c in columns))
        ],
        batched=True,
        desc=f"Dropping incomplete pairs of {where}",
    )
    if len(kept) < len(dataset):
        logger.warning(
            "%s: dropped %d of %d rows with an empty %s",
            where,
            len(dataset) - len(kept),
            len(dataset),
            " or ".join(columns),
        )
    return kept


def filter_min_score(dataset: Dataset, min_score: int | None, where: str) -> Dataset:
    if min_score is None:
        return dataset
    if "score" not in dataset.column_names:
        raise ValueError(f"--min_score needs a 'score' column, which {where} lacks")
    kept = dataset.filter(
        lambda batch: [s is not None and s >= min_score for s in batch["score"]],
        batched=True,
        desc=f"Keeping pairs of {where} with score >= {min_score}",
    )
    logger.info("%s: %d of %d rows have score >= %d", where, len(kept), len(dataset), min_score)
    return kept


def hold_out(
    dataset: Dataset, size: float | int, seed: int, where: str
) -> tuple[Dataset, Dataset | None]:
    """Split off `size` rows (a fraction < 1, or a count) as held-out rows; the rest stays for training.

    A language too small for `size` keeps at least one training row: fewer rows are held out,
    or none (held-out part None), with a warning. Small builds (the embedded demo keeps about
    two rows per language) would otherwise stop a run over one language."""
    wanted = max(round(size * len(dataset)) if size < 1 else int(size), 1)
    count = min(wanted, len(dataset) - 1)
    if count < wanted:
        logger.warning(
            "%s has %d row(s): holding out %d instead of %d (--eval_size) so that one is left to train on",
            where,
            len(dataset),
            count,
            wanted,
        )
    if count < 1:
        return dataset, None
    parts = dataset.train_test_split(test_size=count, seed=seed, shuffle=True)
    return parts["train"], parts["test"]


def local_cache_dir(path: str) -> str | None:
    """A cache folder keyed by the content of a local dataset folder (None for a Hub repo).

    datasets 5.2 keys the cache of a local folder with a `configs:` README by the folder's name
    and the README alone: re-exporting into the same folder, or another folder with the same
    name, silently loads the old rows. Keying the cache by every file's path, size and mtime
    makes a changed export load fresh and an unchanged one reuse its cache."""
    if not os.path.isdir(path):
        return None
    digest = hashlib.sha256(os.path.abspath(path).encode())
    for file in sorted(Path(path).rglob("*")):
        if file.is_file() and ".cache" not in file.parts:
            stat = file.stat()
            digest.update(
                f"{file.relative_to(path)}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode()
            )
    return os.path.join(
        datasets.config.HF_DATASETS_CACHE, "x-instruction-local", digest.hexdigest()[:16]
    )


def load_dataset(path: str, name: str | None = None, **kwargs):
    """`datasets.load_dataset`, with a content-keyed cache for local folders (see local_cache_dir)."""
    cache_dir = local_cache_dir(path)
    if cache_dir is not None:
        kwargs.setdefault("cache_dir", cache_dir)
    return datasets.load_dataset(path, name, **kwargs)


def load_config(path: str, name: str, where: str, revision: str | None = None):
    """`load_dataset(path, name)`, with datasets' error for an empty split made readable."""
    try:
        return load_dataset(path, name, revision=revision)
    except ValueError as err:
        if "corresponds to no data" in str(err):  # datasets' words for a split with zero rows
            raise EmptyLanguageError(
                f"{where} has a split with no rows ({err}): {EMPTY_HINT}"
            ) from err
        raise


def load_language(
    path: str,
    lang: str,
    *,
    train_split: str = "train",
    test_split: str = "test",
    eval_size: float = 0.0,
    min_score: int | None = None,
    seed: int = 0,
    revision: str | None = None,
    columns: tuple[str, ...] = PAIR_COLUMNS,
) -> LanguageSplits:
    """One language config: validated, filtered, and with its held-out rows.

    Held-out rows come from the config's `test_split` when it has one; otherwise `eval_size`
    rows are split off its training rows (none when `eval_size` is 0)."""
    where = f"config {lang!r} of {path}"
    splits = load_config(path, lang, where, revision)
    if train_split not in splits:
        raise ValueError(f"{where} has no {train_split!r} split (it has: {', '.join(splits)})")
    train = splits[train_split]
    check_columns(train, columns, where)
    check_not_empty(train, f"{where} (split {train_split!r})", EMPTY_HINT, EmptyLanguageError)
    train = filter_min_score(drop_incomplete_pairs(train, where, columns), min_score, where)
    check_not_empty(
        train,
        f"{where} after dropping empty pairs and applying --min_score",
        error=EmptyLanguageError,
    )

    held_out = None
    if test_split in splits:
        held_out = splits[test_split]
        check_columns(held_out, columns, f"{where} (split {test_split!r})")
        held_out = filter_min_score(
            drop_incomplete_pairs(held_out, f"{where} ({test_split})", columns), min_score, where
        )
        if eval_size:
            logger.info(
                "%s has a %r split; using it for evaluation instead of --eval_size",
                where,
                test_split,
            )
    elif eval_size:
        train, held_out = hold_out(train, eval_size, seed, where)
    return LanguageSplits(lang, train, held_out if held_out is not None and len(held_out) else None)


def load_languages(path: str, spec: str, load: Callable[[str], T]) -> dict[str, T]:
    """`load(code)` for every language of `spec` (see resolve_languages).

    With `all`, a language whose config is empty (a build that kept no pair for it) is skipped
    with a warning; a language named explicitly must have rows. Some language must have rows."""
    loaded, empty = {}, []
    for lang in resolve_languages(path, spec):
        try:
            loaded[lang.code] = load(lang.code)
        except EmptyLanguageError:
            if spec.strip() != "all":
                raise
            logger.warning(
                "Skipping %s: its config has no rows (the build kept no pair for it)", lang.code
            )
            empty.append(lang.code)
    if not loaded:
        raise ValueError(
            f"{path} has no rows to train on: every language config is empty ({', '.join(empty)}); "
            "rebuild with more documents (--max-docs) or a lower --accept-score"
        )
    return loaded

"""The training set of trl_scripts/sft.py: the `messages` of X-Instruction configs, mixed by language."""

from __future__ import annotations

import dataclasses

from datasets import Dataset, concatenate_datasets

from ..prompts import ANSWER
from .card import TrainingData, template_label
from .data import load_language, load_languages
from .formats import plain_text_example
from .mixing import mix_languages, parse_weights
from .probes import answer_probes, check_or_skip


@dataclasses.dataclass
class PreparedData:
    train: Dataset  # TRL rows + `lang` (+ `id`), shuffled
    eval: Dataset | dict[str, Dataset] | None
    # language -> held-out prompts' sources (instructions, texts or scored pairs)
    held_out: dict[str, list]
    card: TrainingData


def concat(evals: dict[str, Dataset], per_language: bool) -> Dataset | dict[str, Dataset] | None:
    """Held-out rows as one eval set (eval_loss), or one per language (eval_<code>_loss)."""
    if not evals:
        return None
    if per_language:
        return evals
    return (
        concatenate_datasets(list(evals.values())) if len(evals) > 1 else next(iter(evals.values()))
    )


def format_pairs(dataset: Dataset, lang: str, fmt: str, name: str) -> Dataset:
    """Published rows of one language -> TRL rows: `messages` as published (chat), or their plain-text
    prompt/completion; `id` kept and `lang` set to the config's code, for mixing and the card."""
    keep = [c for c in ("id", "messages") if c in dataset.column_names]
    rows = dataset.select_columns(keep)
    if fmt != "chat":
        rows = rows.map(
            lambda row: plain_text_example(row["messages"]),
            remove_columns=["messages"],
            desc=f"Plain-text {name} pairs ({lang})",
        )
    return rows.add_column("lang", [lang] * len(rows))


def load_sft_data(
    dataset_name: str | None,
    args,
    *,
    train_split: str = "train",
    test_split: str = "test",
    seed: int = 0,
    revision: str | None = None,
) -> PreparedData:
    """`args` is an XInstructionArguments."""
    if not dataset_name:
        raise ValueError(
            "pass --dataset_name: a local X-Instruction export or a Hub repo such as org/x-instruction"
        )
    splits = load_languages(
        dataset_name,
        args.languages,
        lambda code: load_language(
            dataset_name,
            code,
            train_split=train_split,
            test_split=test_split,
            eval_size=args.eval_size,
            min_score=args.min_score,
            seed=seed,
            revision=revision,
        ),
    )
    weights = parse_weights(args.language_weights)
    formatted = {
        code: format_pairs(s.train, code, args.prompt_format, "train") for code, s in splits.items()
    }
    train, counts = mix_languages(formatted, weights, args.mixture_size, seed)

    evals = {
        code: format_pairs(s.eval, code, args.prompt_format, "eval")
        for code, s in splits.items()
        if s.eval
    }
    eval_set = concat(evals, args.eval_per_language)

    card = TrainingData(
        dataset=dataset_name,
        title="Training data",
        rows=counts,
        available={code: len(s.train) for code, s in splits.items()},
        weights=weights,
        eval_rows={code: len(s.eval) if s.eval else 0 for code, s in splits.items()},
        prompt_format=args.prompt_format,
        template=template_label(ANSWER),
        notes=[f"Only pairs with evaluator score >= {args.min_score}."]
        if args.min_score is not None
        else [],
    )
    held_out = {code: list(s.eval["instruction"]) if s.eval else [] for code, s in splits.items()}
    return PreparedData(train, eval_set, held_out, card)


def sft_probes(data: PreparedData, args):
    """Language-check prompts for the training languages (that got rows)."""
    languages = [code for code, rows in data.card.rows.items() if rows]
    probes = answer_probes(
        data.held_out,
        languages,
        args.prompt_format,
        args.language_check_prompts,
        args.language_check_file,
        skip_missing=bool(args.eval_size),
    )
    return check_or_skip(
        probes, args.eval_size, "the language check needs held-out rows: set --eval_size"
    )

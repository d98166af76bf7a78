"""The training set of trl_scripts/train_evaluator.py: scored pairs -> chat rows for the rater.

The rater sees `evaluate_messages(instruction, text, lang)` and answers "Score: N" then
"Reason: ...", the reply the refine stage pre-fills with "Score:" and parses with
`parse_score_reply`. Scores come from a column (pairs scored by people or a stronger model) or
from the builder's own `judgements` (the audit config `candidates`), which distils the
evaluator a build used into a model of your choice, as the paper does with its evaluator.
"""

from __future__ import annotations

import logging
import random

from datasets import Dataset

from ..prompts import EVALUATE, evaluate_messages
from ..stages.refine import SCORE_PREFILL, parse_score_reply
from .card import TrainingData, template_label
from .data import (
    EMPTY_HINT,
    EmptyLanguageError,
    check_columns,
    check_not_empty,
    hold_out,
    load_config,
    load_dataset,
    load_languages,
)
from .formats import evaluator_example
from .mixing import mix_languages
from .probes import check_or_skip
from .seeds import read_table_file
from .sft_data import PreparedData, concat

logger = logging.getLogger(__name__)

_HINT = "Name the columns with --text_column, --score_column, --reason_column, or pass --from_judgements."


def _scored_rows(dataset: Dataset, args, where: str) -> list[dict]:
    """(instruction, text, lang, score, reason) rows, from columns or from judgements."""
    rows = []
    if args.from_judgements:
        check_columns(dataset, ("text", "lang", "judgements"), where, _HINT)
        for row in dataset:
            for judgement in row["judgements"] or []:
                if judgement.get("response") == "rewritten":  # it judged the rewrite, not `text`
                    continue
                score, reason = (
                    parse_score_reply(judgement["raw"][len("Score:") :])
                    if judgement["raw"]
                    else (None, "")
                )
                if judgement["status"] in ("ok", "retried") and score is not None:
                    rows.append(
                        {
                            "instruction": judgement["instruction"],
                            "text": row["text"],
                            "lang": row["lang"],
                            "score": score,
                            "reason": reason,
                        }
                    )
        return rows
    check_columns(
        dataset, ("instruction", args.text_column, args.score_column, "lang"), where, _HINT
    )
    reasons = args.reason_column if args.reason_column in dataset.column_names else None
    for row in dataset:
        score = row[args.score_column]
        if isinstance(score, (int, float)) and float(score).is_integer() and 1 <= score <= 5:
            rows.append(
                {
                    "instruction": row["instruction"],
                    "text": row[args.text_column],
                    "lang": row["lang"],
                    "score": int(score),
                    "reason": row[reasons] if reasons else "",
                }
            )
    if len(rows) < len(dataset):
        logger.warning(
            "%s: skipped %d rows whose score is not an integer from 1 to 5",
            where,
            len(dataset) - len(rows),
        )
    return rows


def _balance(rows: list[dict], seed: int) -> list[dict]:
    """Equal counts per score: scored data is mostly 4-5, and a rater trained on it says 4 to everything."""
    by_score: dict[int, list[dict]] = {}
    for row in rows:
        by_score.setdefault(row["score"], []).append(row)
    smallest = min(len(group) for group in by_score.values())
    rng = random.Random(seed)
    return [row for score in sorted(by_score) for row in rng.sample(by_score[score], smallest)]


def load_scored_pairs(
    dataset_name: str | None, dataset_config: str | None, args, split: str = "train", seed: int = 0
) -> dict[str, Dataset]:
    if args.scores_file:
        sources = [(read_table_file(args.scores_file, "--scores_file"), args.scores_file)]
    elif not dataset_name:
        raise ValueError(
            "pass --scores_file (a local file) or --dataset_name (a Hub or local dataset)"
        )
    elif dataset_config:  # one config holding several languages, e.g. the builder's `candidates`
        sources = [
            (load_dataset(dataset_name, dataset_config, split=split), f"config {dataset_config!r}")
        ]
    else:

        def load(code):
            where = f"config {code!r} of {dataset_name}"
            data = load_config(dataset_name, code, where)[split]
            check_not_empty(data, where, EMPTY_HINT, EmptyLanguageError)
            return data, where

        sources = list(load_languages(dataset_name, args.languages, load).values())
    rows = [row for data, where in sources for row in _scored_rows(data, args, where)]
    if args.languages.strip() != "all":
        wanted = {code.strip() for code in args.languages.split(",")}
        rows = [row for row in rows if row["lang"] in wanted]
    per_lang: dict[str, list[dict]] = {}
    for row in rows:
        per_lang.setdefault(row["lang"], []).append(row)
    if not per_lang:
        raise ValueError(
            "no scored pair with a score from 1 to 5 was found; check --score_column/--from_judgements "
            "and --languages"
        )
    out = {}
    for code, lang_rows in per_lang.items():
        lang_rows = _balance(lang_rows, seed) if args.balance_scores else lang_rows
        out[code] = Dataset.from_list(lang_rows)
        check_not_empty(out[code], f"scored pairs ({code})")
    return out


def _format(dataset: Dataset, name: str) -> Dataset:
    return dataset.map(
        lambda r: {
            **evaluator_example(r["instruction"], r["text"], r["lang"], r["score"], r["reason"]),
            "lang": r["lang"],
        },
        remove_columns=[c for c in dataset.column_names if c != "lang"],
        desc=f"Formatting {name} scored pairs",
    )


def load_evaluator_data(
    dataset_name: str | None,
    dataset_config: str | None,
    args,
    *,
    split: str = "train",
    seed: int = 0,
) -> PreparedData:
    pairs = load_scored_pairs(dataset_name, dataset_config, args, split, seed)
    train, held = {}, {}
    for code, data in pairs.items():
        train[code], held[code] = (
            hold_out(data, args.eval_size, seed, f"scored pairs ({code})")
            if args.eval_size
            else (data, None)
        )
    held = {code: d for code, d in held.items() if d is not None}
    mixed, counts = mix_languages({code: _format(d, code) for code, d in train.items()}, seed=seed)
    card = TrainingData(
        dataset=dataset_name or args.scores_file,
        title="Scored pairs (rater training data)",
        rows=counts,
        available={code: len(d) for code, d in train.items()},
        eval_rows={code: len(d) for code, d in held.items()},
        prompt_format="chat",
        template=template_label(EVALUATE),
        notes=(
            ["Scores and reasons from the builder's judgements."] if args.from_judgements else []
        )
        + (["Balanced to equal counts per score."] if args.balance_scores else []),
    )
    held_pairs = {code: d.to_list() for code, d in held.items()}
    return PreparedData(
        mixed,
        concat({c: _format(d, f"held-out {c}") for c, d in held.items()}, args.eval_per_language),
        held_pairs,
        card,
    )


def score_probes(data: PreparedData, args) -> tuple[list | None, list[int]]:
    """Held-out pairs asked as the refine stage asks (pre-filled "Score:"), with their reference
    scores; (None, []) when held-out pairs were asked for but no language had one to spare."""
    prompts, references = [], []
    for code, rows in data.held_out.items():
        for row in rows[: args.score_check_prompts]:
            prompts.append(
                evaluate_messages(row["instruction"], row["text"], code)
                + [{"role": "assistant", "content": SCORE_PREFILL}]
            )
            references.append(row["score"])
    message = "the score check needs held-out scored pairs: set --eval_size"
    return check_or_skip(prompts, args.eval_size, message, what="the score check"), references

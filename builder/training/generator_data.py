"""The training set of trl_scripts/train_generator.py: seed pairs -> chat rows for the backward model.

The backward model sees `generator_messages(text, lang)` (one user turn) and answers with the
English instruction, exactly what the builder's generate stage sends with `--generator`.
"""

from __future__ import annotations

from ..prompts import GENERATOR, generator_messages
from .callbacks import Probe
from .card import TrainingData, template_label
from .data import hold_out
from .formats import generator_example
from .mixing import mix_languages
from .probes import check_or_skip
from .seeds import load_seed_pairs
from .sft_data import PreparedData, concat


def _format(dataset, name):
    return dataset.map(
        lambda row: {
            **generator_example(row["text"], row["instruction"], row["lang"]),
            "lang": row["lang"],
        },
        remove_columns=[c for c in dataset.column_names if c != "lang"],
        desc=f"Formatting {name} seed pairs",
    )


def load_generator_data(
    dataset_name: str | None, args, *, train_split: str = "train", seed: int = 0
) -> PreparedData:
    """`args` is a GeneratorArguments."""
    pairs = load_seed_pairs(dataset_name, args, train_split)
    train, held = {}, {}
    for code, data in pairs.items():
        train[code], held_rows = (
            hold_out(data, args.eval_size, seed, f"seed pairs ({code})")
            if args.eval_size
            else (data, None)
        )
        if held_rows is not None:
            held[code] = held_rows
    mixed, counts = mix_languages({code: _format(d, code) for code, d in train.items()}, seed=seed)
    evals = {code: _format(d, f"held-out {code}") for code, d in held.items()}
    card = TrainingData(
        dataset=dataset_name or args.seed_file,
        title="Seed pairs (target-language text -> English instruction)",
        rows=counts,
        available={code: len(d) for code, d in train.items()},
        eval_rows={code: len(d) for code, d in held.items()},
        prompt_format="chat",
        template=template_label(GENERATOR),
        notes=[
            f"English instructions from config `{args.instruction_config}`, joined on `{args.join_column}`."
        ]
        if args.instruction_config
        else [],
    )
    held_texts = {code: list(d["text"]) for code, d in held.items()}
    return PreparedData(mixed, concat(evals, args.eval_per_language), held_texts, card)


def generator_probes(data: PreparedData, args) -> list[Probe]:
    """Held-out texts; a good backward model answers each with an English instruction."""
    probes = []
    for code, texts in data.held_out.items():
        probes.extend(
            Probe(generator_messages(text, code), "en", code)
            for text in texts[: args.language_check_prompts]
        )
    return check_or_skip(
        probes, args.eval_size, "the language check needs held-out seed pairs: set --eval_size"
    )

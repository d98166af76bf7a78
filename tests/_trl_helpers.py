"""Fixtures for the training tests: small X-Instruction exports and seed datasets on disk.

The export has the layout builder/publish/export.py writes (one config per language, Parquet under
`{config}/{split}-00000-of-00001.parquet`, the `configs:` YAML in README.md), so
`load_dataset(folder, "sw")` reads it exactly as it reads a Hub repo. The sentences were
written for these tests.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from datasets import Dataset

from builder.core.schema import PUBLISHED
from builder.publish.messages import answer_messages

TEXTS = {
    "sw": [
        "Mvua kubwa ilinyesha jana usiku na barabara nyingi za mji zilijaa maji hadi asubuhi.",
        "Wakulima wengi hupanda mahindi na maharage mwanzoni mwa msimu wa mvua za masika.",
        "Chai ya tangawizi husaidia kupunguza kikohozi na kupasha mwili joto wakati wa baridi.",
        "Ili kujifunza lugha mpya, soma kila siku na zungumza na wenyeji bila kuogopa makosa.",
        "Mlima Kilimanjaro ndio mlima mrefu zaidi barani Afrika na una theluji juu yake.",
        "Samaki wabichi huuzwa sokoni kila asubuhi karibu na bandari ya zamani ya mji.",
    ],
    "bn": [
        "ঢাকা বাংলাদেশের রাজধানী এবং দেশের সবচেয়ে বড় শহর।",
        "প্রতিদিন সকালে হাঁটলে শরীর ও মন দুটোই ভালো থাকে।",
        "বর্ষাকালে নদীর পানি বেড়ে যায় এবং অনেক গ্রাম প্লাবিত হয়।",
        "ভাত আর মাছ বাঙালির সবচেয়ে প্রিয় খাবার।",
    ],
    "fi": [
        "Helsinki on Suomen pääkaupunki ja maan suurin kaupunki.",
        "Talvella järvet jäätyvät, ja monet ihmiset hiihtävät jäällä.",
        "Sauna lämmitetään usein puilla, ja sen jälkeen uidaan järvessä.",
    ],
}
INSTRUCTIONS = {
    "sw": [
        "What happened in the city after last night's heavy rain?",
        "What do farmers plant at the start of the long rains?",
        "Why do people drink ginger tea?",
        "How can I learn a new language quickly?",
        "What is the highest mountain in Africa?",
        "Where can I buy fresh fish in the morning?",
    ],
    "bn": [
        "What is the capital of Bangladesh?",
        "Why is a morning walk good for you?",
        "What happens to rivers in the rainy season?",
        "What is the favourite food of Bengalis?",
    ],
    "fi": [
        "What is the capital of Finland?",
        "What do people do on frozen lakes in winter?",
        "How is a sauna usually heated?",
    ],
}


def pair_rows(lang: str, n: int, start: int = 0) -> list[dict]:
    texts, instructions = TEXTS[lang], INSTRUCTIONS[lang]
    rows = []
    for i in range(start, start + n):
        rows.append(
            {
                "id": f"{lang}-{i:04d}",
                "lang": lang,
                "instruction": instructions[i % len(instructions)],
                "output": texts[i % len(texts)],
                "score": 3 + i % 3,
                "rounds": 1,
                "relevance": 1.0 - 0.1 * (i % 3),
                "cluster": i % 4,
                "source": {"corpus": "test", "config": lang, "split": "train", "row": str(i)},
                "meta": {
                    "generator_model": "test",
                    "generator_revision": None,
                    "evaluator_model": "test",
                    "engine": "transformers",
                    "sampling": "{}",
                    "prompts": "{}",
                    "builder_version": "0.2.0",
                },
                "messages": answer_messages(
                    instructions[i % len(instructions)], texts[i % len(texts)], lang
                ),
            }
        )
    return rows


def write_config(
    root: Path, config: str, splits: dict[str, list[dict]], features=PUBLISHED
) -> None:
    for split, rows in splits.items():
        folder = root / config
        folder.mkdir(parents=True, exist_ok=True)
        if features is None:
            data = Dataset.from_list(rows)
        elif rows:
            data = Dataset.from_list(rows, features=features)
        else:  # from_list cannot build an empty dataset with nested features
            data = Dataset.from_dict({name: [] for name in features}, features=features)
        data.to_parquet(str(folder / f"{split}-00000-of-00001.parquet"))


def write_readme(root: Path, configs: dict[str, list[str]]) -> None:
    """The `configs:` YAML that `push_to_hub` writes, so `load_dataset(root, name)` finds each config."""
    entries = [
        {
            "config_name": name,
            "data_files": [{"split": s, "path": f"{name}/{s}-*.parquet"} for s in splits],
        }
        for name, splits in configs.items()
    ]
    header = yaml.safe_dump({"configs": entries}, sort_keys=False)
    (root / "README.md").write_text(
        f"---\n{header}---\n\n# X-Instruction (test export)\n", encoding="utf-8"
    )


def write_export(
    root: Path,
    sizes: dict[str, int],
    test_sizes: dict[str, int] | None = None,
    with_all: bool = True,
) -> Path:
    """An X-Instruction export with `sizes[lang]` train rows per language (+ optional test rows)."""
    root.mkdir(parents=True, exist_ok=True)
    test_sizes = test_sizes or {}
    configs, everything = {}, []
    for lang, n in sizes.items():
        splits = {"train": pair_rows(lang, n)}
        if test_sizes.get(lang):
            splits["test"] = pair_rows(lang, test_sizes[lang], start=n)
        write_config(root, lang, splits)
        configs[lang] = list(splits)
        everything += splits["train"]
    if with_all:
        write_config(root, "all", {"train": everything})
        configs["all"] = ["train"]
    write_readme(root, configs)
    return root


DEMO_ROWS = {"sw": 2, "fi": 1, "vi": 0}  # what demo_build_export keeps per language


def _demo_writer_and_judge():
    """Scripted model replies for a build that keeps DEMO_ROWS: every Swahili text gets an
    instruction the judge rates 5, only the first Finnish text does, no Vietnamese text does."""
    from _scripted_engine import last_user

    topics = [
        "cook rice",
        "plant maize",
        "climb a mountain",
        "read a map",
        "fix a bicycle",
        "bake bread",
    ]
    # text -> order first seen: one topic per text, so no two pairs are duplicates
    seen: dict[str, int] = {}
    finnish: list[str] = []

    def reply(prompt, params, k):
        if prompt[-1]["role"] == "assistant":  # the evaluator, pre-filled with "Score:"
            instruction = last_user(prompt).split("Instruction: ", 1)[1].split("\n", 1)[0]
            return (
                " 5\nReason: answers it."
                if instruction.startswith("Explain")
                else " 2\nReason: loosely related."
            )
        # the backward system prompt
        language = prompt[0]["content"].split("given ", 1)[1].split(" text", 1)[0]
        text = last_user(prompt).split("\n\n")[1]
        index = seen.setdefault(text, len(seen))
        if language == "Finnish" and not finnish:
            finnish.append(text)
        good = language == "Swahili" or (language == "Finnish" and text == finnish[0])
        return (
            f"Explain step by step how to {topics[index % len(topics)]}."
            if good
            else "How do I translate this?"
        )

    return reply


def demo_build_export(root: Path) -> Path:
    """The export of a real build (builder.pipeline.runner.build: embedded demo corpus, every stage,
    builder/publish/export.py's export) of sw, fi and vi, with a scripted model so that it keeps DEMO_ROWS
    rows (as the demo does, a couple per language and none for some); returns the folder."""
    from _scripted_engine import ScriptedEngine

    from builder.config import BuildConfig
    from builder.pipeline.runner import build

    config = BuildConfig(
        langs=list(DEMO_ROWS),
        corpus="embedded",
        max_docs=2,
        candidates=1,
        rounds=1,
        target_size=2,
        shard_size=4,
        work_dir=str(root / "work"),
        output_dir=str(root / "x-instruction-data"),
        model="scripted",
        min_relevance=0,
    )
    # min_relevance 0: the scripted instructions are picked by the text's order, not its content,
    # so the script, not the relevance gate judging noise, fixes the rows kept (DEMO_ROWS).
    result = build(config, engines={"scripted": ScriptedEngine(_demo_writer_and_judge())})
    assert {lang: len(rows) for lang, rows in result.languages.items()} == DEMO_ROWS
    return Path(result.output_dir)


def add_empty_config(root: Path, lang: str) -> None:
    """Give an export a 0-row config for `lang`, as exports written before empty configs were
    left out have (an empty Parquet file listed in the card's `configs:` YAML)."""
    write_config(root, lang, {"train": []})
    card = (root / "README.md").read_text(encoding="utf-8")
    _, header, body = card.split("---\n", 2)
    meta = yaml.safe_load(header)
    meta["configs"].append(
        {"config_name": lang, "data_files": [{"split": "train", "path": f"{lang}/train-*.parquet"}]}
    )
    (root / "README.md").write_text(
        f"---\n{yaml.safe_dump(meta, sort_keys=False)}---\n{body}", encoding="utf-8"
    )


def demo_exports_in(tmp_path_factory) -> dict[str, str]:
    """{"no config": a build's own export (vi, with no row, left out), "0-row config": the same
    export with an empty vi config, as exports written before empty configs were left out have}.
    The `demo_exports` fixture (conftest.py)."""
    built = demo_build_export(tmp_path_factory.mktemp("demo"))
    with_empty = tmp_path_factory.mktemp("demo-empty-config") / "x-instruction-data"
    shutil.copytree(built, with_empty)
    add_empty_config(with_empty, "vi")
    return {"no config": str(built), "0-row config": str(with_empty)}


def write_bactrian_like(root: Path, langs: list[str], n: int) -> Path:
    """Bactrian-X's layout: an `en` config and one config per language, rows aligned by `id`;
    each language's `output` answers the English `instruction` (+ `input`) of the same id."""
    configs = {}
    english = []
    for lang in langs:
        for i in range(n):
            english.append(
                {
                    "id": f"{lang}-{i}",
                    "instruction": INSTRUCTIONS[lang][i % len(INSTRUCTIONS[lang])],
                    "input": "Be brief." if i % 2 else "",
                    "output": "an English answer",
                }
            )
    write_config(root, "en", {"train": english}, features=None)
    configs["en"] = ["train"]
    for lang in langs:
        rows = [
            {
                "id": f"{lang}-{i}",
                "instruction": "(translated instruction)",
                "input": "",
                "output": TEXTS[lang][i % len(TEXTS[lang])],
            }
            for i in range(n)
        ]
        # One unmatched row: it has no English counterpart and must be skipped, not paired wrongly.
        rows.append(
            {"id": f"{lang}-orphan", "instruction": "x", "input": "", "output": TEXTS[lang][0]}
        )
        write_config(root, lang, {"train": rows}, features=None)
        configs[lang] = ["train"]
    write_readme(root, configs)
    return root


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def write_yaml(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def trained_text(tokenizer, row: dict) -> str:
    """The decoded tokens of a prepared SFT row that carry loss (labels != -100)."""
    return tokenizer.decode(
        [tok for tok, label in zip(row["input_ids"], row["labels"]) if label != -100]
    )


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One torch thread while training here: on a CPU shared with other jobs, two OpenMP threads
    spin-waiting on each other made a training step ~5x slower (35 s vs 6.5 s for 4 steps)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

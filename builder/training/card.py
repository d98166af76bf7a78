"""The model card: TRL's card plus what a reader needs to reproduce or trust the run.

TRL writes a generic card (base model, trainer, framework versions) every time it saves. The
trainer below adds a section naming the X-Instruction configs and how many rows each gave,
the prompt format and template version, and the last language check, and lists the
languages in the card's metadata so the Hub can index the model by language.
"""

from __future__ import annotations

import dataclasses
import os

from trl import SFTTrainer

from ..languages import get_language


@dataclasses.dataclass
class TrainingData:
    """What went into the run, for the card."""

    dataset: str
    title: str  # e.g. "Training data" or "Seed pairs"
    rows: dict[str, int]  # language -> rows trained on (after mixing)
    available: dict[str, int]  # language -> training rows the config had
    weights: dict[str, float] | None = None
    eval_rows: dict[str, int] = dataclasses.field(default_factory=dict)
    prompt_format: str = "chat"
    template: str = ""  # "name v<version> (<hash>)" of the prompt template
    notes: list[str] = dataclasses.field(default_factory=list)


def template_label(template) -> str:
    """How the card names a prompt template: name, version and hash (the cache key's part)."""
    return f"`{template.name}` v{template.version} ({template.hash})"


def is_hub_id(dataset: str) -> bool:
    return not os.path.exists(dataset) and dataset.count("/") == 1


def data_section(data: TrainingData, checks: dict[str, float] | None = None) -> str:
    source = (
        f"[{data.dataset}](https://huggingface.co/datasets/{data.dataset})"
        if is_hub_id(data.dataset)
        else f"`{data.dataset}` (a local export)"
    )
    lines = [
        f"## {data.title}",
        "",
        f"Dataset: {source}",
        "",
        "| config | language | rows trained on | training rows available | weight | held-out rows |",
        "|---|---|---|---|---|---|",
    ]
    for code, rows in data.rows.items():
        weight = f"{data.weights[code]:g}" if data.weights else "-"
        lines.append(
            f"| `{code}` | {get_language(code).name} | {rows} | {data.available.get(code, '-')} | "
            f"{weight} | {data.eval_rows.get(code, 0)} |"
        )
    lines += ["", f"Prompt format: `{data.prompt_format}`; prompt template {data.template}."]
    if data.dataset and is_hub_id(data.dataset):
        codes = ", ".join(f'"{c}"' for c in data.rows)
        lines += [
            "",
            "Load the same data with:",
            "",
            "```python",
            "from datasets import load_dataset",
            "",
            f'data = {{lang: load_dataset("{data.dataset}", lang, split="train") for lang in [{codes}]}}',
            "```",
        ]
    lines += [f"- {note}" for note in data.notes]
    checks = checks or {}
    if "lang_share" in checks:
        shares = ", ".join(
            f"{k.split('/', 1)[1]}: {v:.2f}"
            for k, v in checks.items()
            if k.startswith("lang_share/")
        )
        lines += [
            "",
            "Share of held-out answers in the expected language (language ID, end of training): "
            f"{shares} (overall {checks['lang_share']:.2f}).",
        ]
    if "score_exact" in checks:
        lines += [
            "",
            f"Held-out ratings, end of training: {checks['score_parsed']:.2f} parse, "
            f"{checks['score_exact']:.2f} match the reference score, {checks['score_within_1']:.2f} within 1.",
        ]
    return "\n".join(lines) + "\n"


class XInstructionSFTTrainer(SFTTrainer):
    """SFTTrainer whose model card names the X-Instruction configs it was trained on."""

    def __init__(self, *args, training_data: TrainingData | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.training_data = training_data
        # last numbers of the generation checks, for the card
        self.check_results: dict[str, float] = {}

    def create_model_card(self, model_name=None, dataset_name=None, tags=None):
        data = self.training_data
        if dataset_name is None and data is not None and is_hub_id(data.dataset):
            dataset_name = data.dataset
        tags = list(tags or []) if not isinstance(tags, str) else [tags]
        super().create_model_card(
            model_name=model_name, dataset_name=dataset_name, tags=[*tags, "x-instruction"]
        )
        if data is None or not self.is_world_process_zero():
            return
        from huggingface_hub import ModelCard

        path = os.path.join(self.args.output_dir, "README.md")
        card = ModelCard.load(path)
        card.data.language = sorted(data.rows)
        section = data_section(data, self.check_results)
        head, sep, tail = card.text.partition("\n## Citations")  # keep citations last
        card.text = head.rstrip() + "\n\n" + section + (sep + tail if sep else "")
        card.save(path)

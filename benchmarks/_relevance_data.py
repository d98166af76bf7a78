"""Real text for the relevance benchmarks: the embedded seed pairs, and the labelled set
(benchmarks/data/relevance_labels.jsonl: English instructions written for this benchmark, each
labelled `answers` (the text answers it), `topic` (shares only the topic) or `unrelated`, for
UDHR articles 1-15 (read from --udhr at run time, never copied here) and for paragraphs of the
embedded demo corpus (builder/data/corpus)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LABELS = ROOT / "benchmarks" / "data" / "relevance_labels.jsonl"
UDHR_LANGS = ("bn", "fi", "hi", "id", "sw", "ta", "th", "tr", "ur", "vi")


@dataclasses.dataclass(frozen=True)
class Item:
    lang: str
    ref: str  # what the text is: "udhr-3" (the same article in every language) or a corpus row id
    label: str
    instruction: str
    text: str


def read_jsonl(path: Path) -> list[dict]:
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def seed_items() -> list[Item]:
    return [
        Item(path.stem, f"seed-{path.stem}-{k}", "answers", r["instruction"], r["output"])
        for path in sorted((ROOT / "builder/data/seeds").glob("*.jsonl"))
        for k, r in enumerate(read_jsonl(path))
    ]


def labelled_items(udhr: Path, langs=UDHR_LANGS) -> list[Item]:
    """Every labelled instruction with its text: a UDHR instruction once per language in `langs`
    (when --udhr is there), a corpus instruction with its own paragraph."""
    corpus = {}
    for path in sorted((ROOT / "builder/data/corpus").glob("*.jsonl")):
        corpus.update({r["id"]: r["text"] for r in read_jsonl(path)})
    articles = {
        lang: {r["article"]: r["text"] for r in read_jsonl(udhr / f"{lang}.jsonl")}
        for lang in langs
        if (udhr / f"{lang}.jsonl").is_file()
    }
    items = []
    for row in read_jsonl(LABELS):
        if row["source"] == "udhr":
            items += [
                Item(
                    lang, f"udhr-{row['ref']}", row["label"], row["instruction"], texts[row["ref"]]
                )
                for lang, texts in articles.items()
            ]
        else:
            items.append(
                Item(
                    row["ref"].split("-")[0],
                    row["ref"],
                    row["label"],
                    row["instruction"],
                    corpus[row["ref"]],
                )
            )
    return items

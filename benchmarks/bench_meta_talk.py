"""How often the meta-talk rule (builder/corpus/meta_talk.py) flags real text: it should not.

    python benchmarks/bench_meta_talk.py [--udhr DIR]

Runs the rule over every text of the embedded corpus, the seed responses and the UDHR articles
(--udhr, default ../shared/data/udhr), per language, and prints each flagged text with the
marker that fired. Every one of these texts is human-written, so each flag is a false positive.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from builder.corpus.meta_talk import meta_talk
from builder.languages import PAPER_LANGUAGES

ROOT = Path(__file__).resolve().parent.parent


def texts(lang: str, udhr: Path) -> dict[str, list[str]]:
    def read(path: Path, field: str) -> list[str]:
        lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
        return [json.loads(line)[field] for line in lines if line.strip()]

    return {"embedded corpus": read(ROOT / "builder/data/corpus" / f"{lang}.jsonl", "text"),
            "seeds": read(ROOT / "builder/data/seeds" / f"{lang}.jsonl", "output"),
            "udhr": read(udhr / f"{lang}.jsonl", "text")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--udhr", type=Path, default=ROOT.parent / "shared/data/udhr")
    args = parser.parse_args()
    print("| lang | texts | flagged |")
    print("|---|---|---|")
    total = flagged_total = 0
    for lang in PAPER_LANGUAGES:
        flagged = []
        sources = texts(lang, args.udhr)
        n = sum(len(v) for v in sources.values())
        for source, items in sources.items():
            flagged += [(source, marker, t[:80]) for t in items if (marker := meta_talk(t, lang))]
        print(f"| {lang} | {n} | {len(flagged)} |")
        for source, marker, head in flagged:
            print(f"|   | {source}: {marker!r} | {head!r} |")
        total, flagged_total = total + n, flagged_total + len(flagged)
    print(f"\n{flagged_total} of {total} human-written texts flagged (false positives)")


if __name__ == "__main__":
    main()

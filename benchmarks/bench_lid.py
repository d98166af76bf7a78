"""Which language-ID detector should prepare, the judge and the training callback use?
Accuracy and texts/s of each installed detector (builder/languages/detectors.py) and of the builder's
own `builder.languages.lid.detect` + `matches`, on long texts and on their first 60 characters.

    python benchmarks/bench_lid.py                 # every installed detector, both text sets
    python benchmarks/bench_lid.py --misses        # also list each wrong answer
    python benchmarks/bench_lid.py --udhr DIR      # UDHR folder (default ../shared/data/udhr)

Texts: UDHR articles 1-15 in the shared data folder (en + the paper's ten) and the embedded
corpus (builder/data/corpus, 25 texts per paper language); and, whole, English questions as
short as the answers the judge and training callback classify (Vicuna-80 and MT-Bench first
turns beside the UDHR folder, the embedded seeds' instructions). The ten "misses" every
detector shares on long corpus texts are the corpus's `noise` rows (navigation menus, mostly
English), there to be dropped as the wrong language: calling them English is right. Long texts are cut at prepare's
`lid_chars` (1,000 characters), as prepare reads them. A raw detector is right when its answer
is one of the language's accepted codes (`Language.lid_codes`: Indonesian accepts `ms`).
`builder.languages.lid` rows count `matches() is True` as right; "undecided" counts `None` answers
(too short to tell), which callers never drop on. One process, one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from builder.languages import (
    get_language,  # noqa: E402
    lid,  # noqa: E402
)
from builder.languages.detectors import DETECTORS, get_detector  # noqa: E402
from builder.stages.prepare import PrepareConfig  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHORT = 60
QUESTION = 10_000  # the English questions are read whole


def load_texts(udhr: Path) -> list[tuple[str, str, str]]:
    """(source, lang, text) for every UDHR article and embedded-corpus text."""
    rows = []
    for path in sorted(udhr.glob("*.jsonl")):
        rows += [
            ("udhr", path.stem, json.loads(line)["text"]) for line in path.open(encoding="utf-8")
        ]
    for path in sorted((ROOT / "builder" / "data" / "corpus").glob("*.jsonl")):
        rows += [
            ("corpus", path.stem, json.loads(line)["text"]) for line in path.open(encoding="utf-8")
        ]
    return rows


def load_questions(shared: Path) -> list[tuple[str, str, str]]:
    """English questions and instructions, short like the answers the judge and the training
    callback classify: Vicuna-80 and MT-Bench first turns, and the embedded seeds' instructions."""
    rows = []
    for name in ("vicuna_bench", "mt_bench"):
        path = shared / name / "question.jsonl"
        if path.is_file():
            rows += [
                (name, "en", json.loads(line)["turns"][0]) for line in path.open(encoding="utf-8")
            ]
    for path in sorted((ROOT / "builder" / "data" / "seeds").glob("*.jsonl")):
        rows += [
            ("seeds", "en", json.loads(line)["instruction"]) for line in path.open(encoding="utf-8")
        ]
    return rows


def timed(fn, texts: list[str]) -> tuple[list, float]:
    fn(texts[0])  # load the model outside the clock
    start = time.perf_counter()
    out = [fn(t) for t in texts]
    return out, len(texts) / (time.perf_counter() - start)


def measure(name: str, fn, right, rows, cut: int, misses: bool) -> dict:
    texts = [text[:cut] for _, _, text in rows]
    answers, rate = timed(fn, texts)
    verdicts = [right(answer, lang) for answer, (_, lang, _) in zip(answers, rows)]
    if misses:
        for verdict, answer, (source, lang, text) in zip(verdicts, answers, rows):
            if verdict is not True:
                print(f"  miss {name} [{cut}] {source}/{lang}: {answer} <- {text[:50]!r}")
    return {
        "detector": name,
        "chars": cut,
        "right": sum(v is True for v in verdicts),
        "undecided": sum(v is None for v in verdicts),
        "n": len(rows),
        "texts_per_s": rate,
    }


def raw_right(answer, lang) -> bool:
    return answer[0] in get_language(lang).lid_codes


def builder_right(answer, lang) -> bool | None:
    return lid.matches(answer, lang)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--udhr", type=Path, default=ROOT.parent / "shared" / "data" / "udhr")
    parser.add_argument(
        "--misses", action="store_true", help="print every wrong or undecided answer"
    )
    args = parser.parse_args(argv)
    rows = load_texts(args.udhr)
    questions = load_questions(args.udhr.parent)
    print(
        f"{len(rows)} texts in {len({lang for _, lang, _ in rows})} languages; {len(questions)} English questions\n"
    )
    results = []
    for cut, group in ((PrepareConfig.lid_chars, rows), (SHORT, rows), (QUESTION, questions)):
        for name in DETECTORS:
            detector = get_detector(name)
            if detector is None:
                print(f"{name}: not installed")
                continue
            results.append(measure(name, detector.classify, raw_right, group, cut, args.misses))
        results.append(
            measure("builder.languages.lid", lid.detect, builder_right, group, cut, args.misses)
        )
    print(f"{'detector':12} {'texts':>9} {'right':>9} {'acc':>6} {'undecided':>9} {'texts/s':>9}")
    for r in results:
        texts = {PrepareConfig.lid_chars: "long", SHORT: f"first {SHORT}", QUESTION: "questions"}[
            r["chars"]
        ]
        print(
            f"{r['detector']:12} {texts:>9} {r['right']:4}/{r['n']:<4} {r['right'] / r['n']:6.3f} "
            f"{r['undecided']:9} {r['texts_per_s']:9.0f}"
        )


if __name__ == "__main__":
    main()

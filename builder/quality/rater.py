"""Quality gates that do not trust the rater: negative controls for the evaluator, and the report.

The rater scores a sample of mismatched pairs per language (a response with an instruction
written for another text of that language) with the same prompt, sampling and retry as refine
(through refine's own judging code and the request cache). If it cannot tell these from the
matched pairs, its scores carry no information: the AUC of matched round-1 scores against
mismatched scores says how well it separates them (0.5 = chance). The same AUC is reported for
the relevance gate (matched vs shuffled pairs, builder/quality/relevance.py).
"""

from __future__ import annotations

import numpy as np

from ..stages.refine import Refine, RefineConfig, _Pair
from .relevance import NOT_ENOUGH_ROWS, auc
from .report import WARN_AUC, report_lines  # noqa: F401 (the summary's lines live in report.py)
CONTROL_PAIRS = 64  # mismatched pairs scored per language


class QualityGateError(RuntimeError):
    """--min-rater-auc was not met; the work dir keeps every shard and cached request."""


def rater_controls(model, lang: str, table, config: RefineConfig, seed: int, sample: int = CONTROL_PAIRS) -> dict:
    """Score mismatched pairs with the rater; report its AUC and mean score on matched and mismatched."""
    rows = [i for i, d in enumerate(table["dropped"][:]) if d is None]
    # Whole columns read once, as slices: indexing a lazy column row by row builds a Dataset per row.
    judgements, instructions, outputs = (table[c][:] for c in ("judgements", "instruction", "output"))
    matched = [judgements[i][0]["score"] for i in rows if judgements[i]]
    if len(rows) < 2:
        return {"pairs": len(rows), "auc": None, "note": NOT_ENOUGH_ROWS}
    rng = np.random.default_rng(seed)
    picked = sorted(rng.choice(rows, size=min(sample, len(rows)), replace=False).tolist())
    shift = 1 + int(rng.integers(0, len(rows) - 1))
    other = {row: rows[(k + shift) % len(rows)] for k, row in enumerate(rows)}  # never the row itself
    pairs = [_Pair(outputs[i], [], instructions[other[i]]) for i in picked]
    Refine(lang, model, config)._judge(pairs, round_no=1)
    mismatched = [p.judgements[0]["score"] for p in pairs]
    value = auc(matched, mismatched)
    return {"pairs": len(pairs), "auc": None if value is None else round(value, 4),
            "mean_matched": _mean(matched), "mean_mismatched": _mean(mismatched)}


def _mean(scores) -> float | None:
    scores = [s for s in scores if s is not None]
    return round(float(np.mean(scores)), 3) if scores else None


def check_rater(quality: dict, min_auc: float | None) -> None:
    """Raise when a language's rater AUC is below `min_auc` (languages without a value are skipped)."""
    if min_auc is None:
        return
    low = {lang: g["rater"]["auc"] for lang, g in quality.items()
           if g.get("rater", {}).get("auc") is not None and g["rater"]["auc"] < min_auc}
    if low:
        listed = ", ".join(f"{lang} {value:.2f}" for lang, value in sorted(low.items()))
        raise QualityGateError(f"the rater's AUC on matched vs mismatched pairs is below --min-rater-auc {min_auc}: "
                               f"{listed}. Use a stronger --evaluator; the work dir keeps every shard, so the same "
                               "command resumes")

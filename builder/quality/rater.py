"""Quality gates that do not trust the rater: negative controls for the evaluator, and the report.

The rater scores a sample of mismatched pairs per language (a response with an instruction
written for another text of that language) with the same prompt, sampling and retry as refine
(through refine's own judging code and the request cache). The driver picks the pairs and
writes them as a shard; the executor scores them as the model stage `rater_controls`
(`RaterControls`, builder/stages/rater_controls.py), so the controls are the same whether the
rater runs in the driver, in data-parallel ranks or on Ray actors. If it cannot tell these from the
matched pairs, its scores carry no information: the AUC of matched round-1 scores against
mismatched scores says how well it separates them (0.5 = chance). The same AUC is reported for
the relevance gate (matched vs shuffled pairs, builder/quality/relevance.py).
"""

from __future__ import annotations

import numpy as np

from .relevance import MIN_AUC_PAIRS, NOT_ENOUGH_ROWS, auc
from .report import WARN_AUC, auc_text, printed_auc, report_lines  # noqa: F401 (the summary's lines live in report.py)

CONTROL_PAIRS = 64  # mismatched pairs scored per language
NO_SCORES = "no reply of the rater to the controls parsed as a score"


class QualityGateError(RuntimeError):
    """--min-rater-auc was not met; the work dir keeps every shard and cached request."""


def control_pairs(table, seed: int, sample: int = CONTROL_PAIRS) -> tuple[list, dict]:
    """(matched, pairs) for one language's refined rows: the round-1 scores of the rows refine
    kept, and up to `sample` of those rows' responses each with another kept row's instruction
    (columns "text" and "instruction"; none when fewer than 2 rows are kept)."""
    rows = [i for i, d in enumerate(table["dropped"][:]) if d is None]
    # Whole columns read once, as slices: indexing a lazy column row by row builds a Dataset per row.
    judgements, instructions, outputs = (
        table[c][:] for c in ("judgements", "instruction", "output")
    )
    matched = [judgements[i][0]["score"] for i in rows if judgements[i]]
    if len(rows) < 2:
        return matched, {"text": [], "instruction": []}
    rng = np.random.default_rng(seed)
    picked = sorted(rng.choice(rows, size=min(sample, len(rows)), replace=False).tolist())
    shift = 1 + int(rng.integers(0, len(rows) - 1))
    # never the row itself
    other = {row: rows[(k + shift) % len(rows)] for k, row in enumerate(rows)}
    return matched, {
        "text": [outputs[i] for i in picked],
        "instruction": [instructions[other[i]] for i in picked],
    }


def controls_report(matched: list, mismatched: list) -> dict:
    """The rater's AUC on matched vs mismatched pairs and the mean score of each."""
    if not mismatched:  # fewer than 2 kept rows: no mismatched pair to make
        return {"pairs": len(matched), "auc": None, "note": NOT_ENOUGH_ROWS}
    value = auc(matched, mismatched)
    report = {
        "pairs": len(mismatched),
        "auc": None if value is None else round(value, 4),
        "mean_matched": _mean(matched),
        "mean_mismatched": _mean(mismatched),
    }
    if value is None:
        report["note"] = NO_SCORES
    return report


def _mean(scores) -> float | None:
    scores = [s for s in scores if s is not None]
    return round(float(np.mean(scores)), 3) if scores else None


def check_rater(quality: dict, min_auc: float | None) -> None:
    """Raise when a language's rater AUC is below `min_auc`, or was not measured: a gate the user
    asked for never passes without a number."""
    if min_auc is None:
        return
    reports = {lang: g.get("rater") or {} for lang, g in quality.items()}
    # Only an AUC the summary prints (enough pairs: builder/quality/report.py) is a number to pass
    # or fail on; one from fewer pairs counts as not measured, with the summary's reason.
    values = {lang: printed_auc(r) for lang, r in reports.items()}
    low = {lang: v for lang, v in values.items() if v is not None and v < min_auc}
    if low:
        listed = ", ".join(f"{lang} {value:.2f}" for lang, value in sorted(low.items()))
        raise QualityGateError(
            f"the rater's AUC on matched vs mismatched pairs is below --min-rater-auc {min_auc}: "
            f"{listed}. Use a stronger --evaluator; the work dir keeps every shard, so the same "
            "command resumes"
        )
    unmeasured = {
        lang: auc_text(r) if r.get("auc") is not None else r.get("note", "not measured")
        for lang, r in reports.items()
        if values[lang] is None
    }
    if unmeasured:
        listed = ", ".join(f"{lang} ({note})" for lang, note in sorted(unmeasured.items()))
        raise QualityGateError(
            f"--min-rater-auc {min_auc} needs the rater's AUC, which could not be measured for "
            f"{listed}. Give each language at least {MIN_AUC_PAIRS} pairs that refine keeps (more text, or a "
            "stronger --evaluator), leave it out of --langs, or leave out --min-rater-auc"
        )

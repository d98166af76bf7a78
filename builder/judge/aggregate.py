"""From two judgements per pair (both orders) to win/tie/loss rates with bootstrap intervals.

Every pair (question, answer of system A, answer of system B) is judged twice: once with A in
position 1 ("ab") and once with B in position 1 ("ba"). Each valid judgement gives a preference
for A: +1 (A better), 0 (tie), -1 (B better); in the "ba" order the judge's preference for
position 1 is a preference for B, so its sign flips.

Tie rule (documented in eval/README.md):
* ``sum`` (default): the pair's outcome is the sign of the summed preferences. Both orders for
  A, or one for A and one tie -> win; the orders disagree (A in one, B in the other: the judge
  followed the position, not the content) -> tie.
* ``agree``: FastChat's stricter rule: a win or loss needs both orders to say so; anything else
  is a tie.
Invalid judgements are never scores. With ``partial="exclude"`` (default) a pair with an
invalid judgement in either order is left out of the rates and counted as invalid; with
``partial="single"`` the valid order alone decides it (losing the position-bias control).

Intervals: percentile bootstrap over pairs (or over `groups`, e.g. questions when several
samples per question are judged), seeded, so the same inputs give the same numbers.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence

import numpy as np

from .bootstrap import group_index, percentile_interval, resample_weights, rounded
from .parsing import Judgement, parse_judgement

RULES = ("sum", "agree")
PARTIAL = ("exclude", "single")
OUTCOMES = ("win", "tie", "loss")
_CODE = {"win": 1, "tie": 0, "loss": -1}

# Length strata: the ratio of A's answer length to B's (characters).
SHORTER, SIMILAR, LONGER = "A shorter (<0.8x)", "similar (0.8-1.25x)", "A longer (>1.25x)"


@dataclasses.dataclass(frozen=True)
class PairResult:
    outcome: str | None  # "win", "tie" or "loss" for system A; None when the pair is excluded
    valid_orders: int  # 0, 1 or 2
    consistent: bool | None  # both orders valid and of the same preference; None otherwise
    score_a: float | None = None  # mean score of A over its valid judgements (scores formats)
    score_b: float | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def pair_outcome(
    ab: Judgement, ba: Judgement, rule: str = "sum", partial: str = "exclude"
) -> PairResult:
    """Combine the judgement with A first (`ab`) and with B first (`ba`) into A's outcome."""
    if rule not in RULES:
        raise ValueError(f"unknown tie rule {rule!r}; choose one of: {', '.join(RULES)}")
    if partial not in PARTIAL:
        raise ValueError(f"unknown partial policy {partial!r}; choose one of: {', '.join(PARTIAL)}")
    prefs = [
        p
        for p in (ab.preference(), None if ba.preference() is None else -ba.preference())
        if p is not None
    ]
    scores_a = [
        s
        for s in (ab.score1 if ab.valid else None, ba.score2 if ba.valid else None)
        if s is not None
    ]
    scores_b = [
        s
        for s in (ab.score2 if ab.valid else None, ba.score1 if ba.valid else None)
        if s is not None
    ]
    score_a = sum(scores_a) / len(scores_a) if scores_a else None
    score_b = sum(scores_b) / len(scores_b) if scores_b else None
    consistent = prefs[0] == prefs[1] if len(prefs) == 2 else None
    if not prefs or (len(prefs) == 1 and partial == "exclude"):
        return PairResult(None, len(prefs), consistent, score_a, score_b)
    if rule == "agree" and len(prefs) == 2 and not consistent:
        total = 0
    else:
        total = sum(prefs)
    outcome = "win" if total > 0 else "loss" if total < 0 else "tie"
    return PairResult(outcome, len(prefs), consistent, score_a, score_b)


def judge_pairs(
    judgements: Sequence[str],
    judgements_swapped: Sequence[str],
    fmt: str = "scores",
    rule: str = "sum",
    partial: str = "exclude",
    finish_reasons: Sequence[str | None] | None = None,
    finish_reasons_swapped: Sequence[str | None] | None = None,
) -> tuple[list[Judgement], list[Judgement], list[PairResult]]:
    """Parse both orders of every pair and combine them."""
    if len(judgements) != len(judgements_swapped):
        raise ValueError(
            f"{len(judgements)} judgements with A first but {len(judgements_swapped)} with B first; "
            "every pair needs one judgement in each order"
        )
    n = len(judgements)
    reasons = finish_reasons or [None] * n
    reasons_swapped = finish_reasons_swapped or [None] * n
    ab = [parse_judgement(t, fmt, r) for t, r in zip(judgements, reasons)]
    ba = [parse_judgement(t, fmt, r) for t, r in zip(judgements_swapped, reasons_swapped)]
    return ab, ba, [pair_outcome(x, y, rule, partial) for x, y in zip(ab, ba)]


# --- length control ------------------------------------------------------------------


def _fit_preference(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, ridge: float = 1e-2, steps: int = 30
) -> np.ndarray:
    """Weighted logistic regression of soft preference y (1 win, .5 tie, 0 loss) on x, one fit
    per row of w, by Newton's method; returns the intercepts. The small ridge keeps the fit
    finite when every pair has the same outcome."""
    b = np.zeros((w.shape[0], 2))
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(b[:, :1] + b[:, 1:] * x)))
        r = w * (y - p)
        g = np.stack([r.sum(1), (r * x).sum(1)], 1) - ridge * b
        h = w * p * (1 - p)
        h00, h01, h11 = h.sum(1) + ridge, (h * x).sum(1), (h * x * x).sum(1) + ridge
        det = h00 * h11 - h01 * h01
        b = b + np.stack(
            [(h11 * g[:, 0] - h01 * g[:, 1]) / det, (h00 * g[:, 1] - h01 * g[:, 0]) / det], 1
        )
    return b[:, 0]


# --- summaries ----------------------------------------------------------------------------


def _rates(codes: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
    total = weights.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = {o: (weights * (codes == _CODE[o])).sum(-1) / total for o in OUTCOMES}
    rates["score"] = rates["win"] + rates["tie"] / 2
    return rates


def length_strata(codes: np.ndarray, ratio: np.ndarray) -> dict[str, dict]:
    """Win/tie/loss within bins of the A/B answer-length ratio."""
    bins = {SHORTER: ratio < 0.8, SIMILAR: (ratio >= 0.8) & (ratio <= 1.25), LONGER: ratio > 1.25}
    out = {}
    for name, mask in bins.items():
        part = codes[mask]
        out[name] = {
            "n": int(mask.sum()),
            **{
                f"{o}_rate": rounded((part == _CODE[o]).mean()) if part.size else None
                for o in OUTCOMES
            },
        }
    return out


def summarize(
    results: Sequence[PairResult],
    judgements: Sequence[Judgement] = (),
    lengths_a: Sequence[int] | None = None,
    lengths_b: Sequence[int] | None = None,
    groups: Sequence | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict:
    """Rates, intervals, invalid counts, position bias and length effects for a list of pairs.

    `judgements` are all parsed judgements (both orders) for the invalid counts. Rates are
    None when no pair is valid; an interval is None when it cannot be estimated.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    n = len(results)
    keep = np.array([r.outcome is not None for r in results], dtype=bool)
    codes = np.array([_CODE[r.outcome] for r in results if r.outcome is not None], dtype=float)
    index = group_index(n, groups)
    statuses = Counter(j.status for j in judgements)
    summary: dict = {
        "pairs": n,
        "valid_pairs": int(keep.sum()),
        "excluded_pairs": int(n - keep.sum()),
        "judgements": len(judgements),
        "invalid_judgements": sum(c for s, c in statuses.items() if s != "ok"),
        "invalid_by_status": {s: c for s, c in sorted(statuses.items()) if s != "ok"},
        "confidence": confidence,
        "bootstrap": {
            "samples": n_boot,
            "seed": seed,
            "unit": "group" if groups is not None else "pair",
        },
    }
    point = _rates(codes, np.ones_like(codes)) if codes.size else {}
    if codes.size:
        weights = resample_weights(index[keep], n_boot, seed)
        boot = _rates(codes, weights)
    for name in (*OUTCOMES, "score"):
        key = f"{name}_rate" if name != "score" else "score"
        summary[key] = rounded(point[name]) if codes.size else None
        summary[f"{key}_ci"] = percentile_interval(boot[name], confidence) if codes.size else None
    both = [r for r in results if r.valid_orders == 2]
    summary["consistency"] = rounded(np.mean([r.consistent for r in both])) if both else None
    summary["position1_preference"] = _position_bias(judgements)
    scores_a = [r.score_a for r in results if r.outcome is not None and r.score_a is not None]
    scores_b = [r.score_b for r in results if r.outcome is not None and r.score_b is not None]
    summary["mean_score_a"] = rounded(np.mean(scores_a)) if scores_a else None
    summary["mean_score_b"] = rounded(np.mean(scores_b)) if scores_b else None
    if lengths_a is not None and lengths_b is not None:
        summary["length"] = _length_summary(
            codes, keep, lengths_a, lengths_b, index, n_boot, seed, confidence
        )
    return summary


def _position_bias(judgements: Sequence[Judgement]) -> float | None:
    """Among valid judgements that prefer one side, the share that prefer position 1
    (0.5 means the judge ignores the order)."""
    decisive = [j.preference() for j in judgements if j.valid and j.preference() != 0]
    return rounded(np.mean([p > 0 for p in decisive])) if decisive else None


def _length_summary(codes, keep, lengths_a, lengths_b, index, n_boot, seed, confidence) -> dict:
    len_a = np.asarray(lengths_a, dtype=float)
    len_b = np.asarray(lengths_b, dtype=float)
    if len(len_a) != len(keep) or len(len_b) != len(keep):
        raise ValueError(
            f"need one length per pair ({len(keep)}), got {len(len_a)} and {len(len_b)}"
        )
    out = {
        "mean_chars_a": rounded(len_a.mean()) if len_a.size else None,
        "mean_chars_b": rounded(len_b.mean()) if len_b.size else None,
    }
    ratio = (len_a[keep] + 1) / (len_b[keep] + 1)
    out["strata"] = length_strata(codes, ratio)
    if not codes.size:
        out["length_controlled_score"], out["length_controlled_score_ci"] = None, None
        return out
    # Length-controlled score: the expected preference (ties half) for answers of equal
    # length, from a logistic fit of preference on the log length ratio (AlpacaEval-LC style).
    x, y = np.log(ratio), (codes + 1) / 2
    fit = lambda w: 1 / (1 + np.exp(-_fit_preference(x, y, w)))  # noqa: E731
    weights = resample_weights(index[keep], n_boot, seed)
    out["length_controlled_score"] = rounded(fit(np.ones((1, codes.size)))[0])
    out["length_controlled_score_ci"] = percentile_interval(fit(weights), confidence)
    return out


def pairwise_summary(
    judgements: Sequence[str],
    judgements_swapped: Sequence[str],
    fmt: str = "scores",
    rule: str = "sum",
    partial: str = "exclude",
    lengths_a: Sequence[int] | None = None,
    lengths_b: Sequence[int] | None = None,
    groups: Sequence | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    finish_reasons: Sequence[str | None] | None = None,
    finish_reasons_swapped: Sequence[str | None] | None = None,
) -> dict:
    """Raw judge outputs in both orders -> the summary (what the metric and the report show)."""
    ab, ba, results = judge_pairs(
        judgements, judgements_swapped, fmt, rule, partial, finish_reasons, finish_reasons_swapped
    )
    summary = summarize(results, ab + ba, lengths_a, lengths_b, groups, n_boot, seed, confidence)
    summary.update({"format": fmt, "rule": rule, "partial": partial})
    return summary

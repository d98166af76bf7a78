"""Percentile bootstrap over items or over groups of items (e.g. all samples of one question).

Resampling is expressed as weights: row b of `resample_weights` says how often each item was
drawn in bootstrap sample b, so any statistic that takes item weights (a rate, a weighted
logistic fit) is computed for all samples at once with numpy. Seeded: same inputs, same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def group_index(n: int, groups: Sequence | None) -> np.ndarray:
    """Each item's group number (0..G-1); every item its own group when `groups` is None."""
    if groups is None:
        return np.arange(n)
    if len(groups) != n:
        raise ValueError(
            f"{len(groups)} groups for {n} items; give one group (e.g. the question id) per item"
        )
    if n == 0:
        return np.arange(0)
    _, index = np.unique(np.asarray([str(g) for g in groups]), return_inverse=True)
    return index


def resample_weights(index: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n_items) multiplicities: groups are drawn with replacement and every item
    follows its group. Groups are renumbered first, so `index` may skip numbers."""
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if index.size == 0:
        return np.zeros((n_boot, 0))
    _, dense = np.unique(index, return_inverse=True)
    n_groups = int(dense.max()) + 1
    rng = np.random.default_rng(seed)
    drawn = rng.integers(0, n_groups, size=(n_boot, n_groups))
    per_group = np.zeros((n_boot, n_groups))
    np.add.at(per_group, (np.arange(n_boot)[:, None], drawn), 1.0)
    return per_group[:, dense]


def check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def percentile_interval(samples: np.ndarray, confidence: float) -> list[float] | None:
    """The central `confidence` interval of the finite bootstrap values, or None if there are none."""
    check_confidence(confidence)
    samples = np.asarray(samples, dtype=float)
    samples = samples[np.isfinite(samples)]
    if samples.size == 0:
        return None
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return [round(float(low), 4), round(float(high), 4)]


def rounded(value) -> float | None:
    """A float for JSON, rounded to 4 places; None for missing or non-finite values."""
    return None if value is None or not np.isfinite(value) else round(float(value), 4)

"""Mixing several languages into one training set with target shares.

Languages differ a lot in how much web text survives the builder, so "train on everything"
lets the largest language dominate. Weights set each language's share of the mixture:

* without weights, every training row of every language is used once;
* with weights and no `mixture_size`, the mixture is the largest one that needs no language
  repeated (the same rule as TRL's `DatasetMixtureConfig.fraction`);
* with weights and a `mixture_size`, each language gets round(share * size) rows, repeating a
  language's rows when it has fewer (whole copies, then a random remainder), which is how
  low-resource languages are usually upsampled.

Rows are drawn at random (seeded), not taken from the top: exports are ordered by cluster and
score, so the first rows are not a fair sample.
"""

from __future__ import annotations

import logging

from datasets import Dataset, concatenate_datasets

from ..languages import get_language

logger = logging.getLogger(__name__)


def parse_weights(spec: str | dict | None) -> dict[str, float] | None:
    """`"sw=2,bn=1"` (CLI) or `{"sw": 2, "bn": 1}` (YAML) -> {code: weight}; None stays None."""
    if spec is None or spec == "" or spec == {}:
        return None
    if isinstance(spec, str):
        pairs = {}
        for item in spec.split(","):
            if not item.strip():
                continue
            code, sep, value = item.partition("=")
            if not sep:
                raise ValueError(
                    f"language weight {item!r} is not CODE=WEIGHT; write e.g. 'sw=2,bn=1'"
                )
            pairs[code.strip()] = value.strip()
        spec = pairs
    weights = {}
    for code, value in spec.items():
        try:
            weight = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"weight of {code!r} must be a number, got {value!r}") from None
        if weight < 0:
            raise ValueError(f"weight of {code!r} must be >= 0, got {weight}")
        weights[get_language(code).code] = weight
    if not any(weights.values()):
        raise ValueError("all language weights are 0: give at least one language a positive weight")
    return weights


def target_counts(
    sizes: dict[str, int], weights: dict[str, float] | None, mixture_size: int | None
) -> dict[str, int]:
    """Rows to draw per language (see the module docstring for the three cases)."""
    if weights is None:
        if mixture_size is not None:
            raise ValueError("--mixture_size needs --language_weights (the share of each language)")
        return dict(sizes)
    unknown = sorted(set(weights) - set(sizes))
    if unknown:
        raise ValueError(
            f"weights name {', '.join(unknown)}, which are not among the training languages "
            f"({', '.join(sizes)})"
        )
    missing = sorted(set(sizes) - set(weights))
    if missing:
        raise ValueError(
            f"no weight for {', '.join(missing)}: give every training language a weight "
            "(0 leaves a language out)"
        )
    total = sum(weights.values())
    shares = {code: weights[code] / total for code in sizes}
    if mixture_size is None:
        # The largest mixture in which no language needs more rows than it has.
        mixture_size = min(sizes[code] / share for code, share in shares.items() if share > 0)
    return {code: round(share * mixture_size) for code, share in shares.items()}


def draw(dataset: Dataset, count: int, seed: int) -> Dataset:
    """`count` rows of `dataset` at random; whole copies first when `count` exceeds its size."""
    if count <= 0:
        return dataset.select([])
    copies, remainder = divmod(count, len(dataset))
    parts = [dataset] * copies
    if remainder:
        parts.append(dataset.shuffle(seed=seed).select(range(remainder)))
    return parts[0] if len(parts) == 1 else concatenate_datasets(parts)


def mix_languages(
    datasets: dict[str, Dataset],
    weights: dict[str, float] | None = None,
    mixture_size: int | None = None,
    seed: int = 0,
) -> tuple[Dataset, dict[str, int]]:
    """One shuffled training set from per-language datasets; also returns the rows drawn per language."""
    sizes = {code: len(ds) for code, ds in datasets.items()}
    counts = target_counts(sizes, weights, mixture_size)
    parts = []
    for i, (code, ds) in enumerate(datasets.items()):
        if counts[code] > sizes[code]:
            logger.warning(
                "%s: upsampling %d rows to %d (x%.2f) to reach its share",
                code,
                sizes[code],
                counts[code],
                counts[code] / sizes[code],
            )
        if counts[code]:
            parts.append(draw(ds, counts[code], seed + i))
    if not parts:
        raise ValueError("the mixture is empty: every language got 0 rows")
    mixed = concatenate_datasets(parts) if len(parts) > 1 else parts[0]
    # Materialise the order: a shuffled view (an indices mapping) slows down every later map.
    mixed = mixed.shuffle(seed=seed).flatten_indices()
    return mixed, counts

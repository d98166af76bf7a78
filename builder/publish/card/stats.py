"""Per-language statistics and the yield funnel, computed from an export folder.

Lengths are in characters (Unicode code points), reported as mean ± sd like the paper's
Table 1, so a build can be compared with the official release at a glance.
"""

from __future__ import annotations

import collections
import dataclasses
import json

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ...core.funnel import funnel_line
from ...languages import UnknownLanguageError, get_language
from ..layout import Layout, is_language, ordered_splits

ROW_COLUMNS = ["instruction", "output", "score", "cluster", "source", "meta"]
META_FIELDS = [
    "generator_model",
    "generator_revision",
    "evaluator_model",
    "engine",
    "builder_version",
]


@dataclasses.dataclass
class LanguageStats:
    code: str
    name: str
    rows: dict[str, int]  # split -> rows
    instruction_lengths: np.ndarray
    output_lengths: np.ndarray
    scores: dict[int, int]  # score -> rows
    clusters: int
    sources: list[str]  # distinct "corpus / config / split" the rows came from
    meta: dict[str, list[str]]  # meta field -> distinct values

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    @staticmethod
    def _mean_sd(lengths: np.ndarray) -> str:
        if lengths.size == 0:
            return "–"
        return f"{lengths.mean():.1f} ± {lengths.std(ddof=1) if lengths.size > 1 else 0.0:.1f}"

    @property
    def instruction_mean_sd(self) -> str:
        return self._mean_sd(self.instruction_lengths)

    @property
    def output_mean_sd(self) -> str:
        return self._mean_sd(self.output_lengths)

    @property
    def score_summary(self) -> str:
        return ", ".join(f"{score}: {n}" for score, n in sorted(self.scores.items())) or "–"


def _lengths(table, column: str) -> np.ndarray:
    if column not in table.column_names:
        return np.zeros(0)
    return (
        pc.utf8_length(pc.fill_null(table[column], "")).to_numpy(zero_copy_only=False).astype(float)
    )


def _distinct_sources(table) -> list[str]:
    if "source" not in table.column_names:
        return []
    seen = collections.Counter()
    for src in table["source"].to_pylist():
        if src:
            parts = [src.get("corpus"), src.get("config"), src.get("split")]
            seen[" / ".join(p for p in parts if p)] += 1
    return [s for s, _ in seen.most_common()]


def _distinct_meta(table) -> dict[str, list[str]]:
    if "meta" not in table.column_names:
        return {}
    values: dict[str, set] = collections.defaultdict(set)
    for meta in table["meta"].to_pylist():
        for field in META_FIELDS:
            if meta and meta.get(field):
                values[field].add(str(meta[field]))
    return {field: sorted(v) for field, v in values.items()}


def _score_counts(table) -> dict[int, int]:
    if "score" not in table.column_names:
        return {}
    counts = pc.value_counts(pc.drop_null(table["score"])).to_pylist()
    return {int(c["values"]): int(c["counts"]) for c in counts}


def _cluster_count(table) -> int:
    if "cluster" not in table.column_names:
        return 0
    ids = pc.drop_null(table["cluster"])
    return len(pc.unique(pc.filter(ids, pc.greater_equal(ids, 0))))  # -1: not clustered


def language_stats(layout: Layout) -> dict[str, LanguageStats]:
    out = {}
    for code in layout.languages:
        table = layout.read(code, ROW_COLUMNS)
        splits = layout.configs[code]
        out[code] = LanguageStats(
            code=code,
            name=language_name(code),
            rows={s: sum(_rows(layout, f) for f in splits[s]) for s in ordered_splits(splits)},
            instruction_lengths=_lengths(table, "instruction"),
            output_lengths=_lengths(table, "output"),
            scores=_score_counts(table),
            clusters=_cluster_count(table),
            sources=_distinct_sources(table),
            meta=_distinct_meta(table),
        )
    return out


def language_name(code: str) -> str:
    try:
        return get_language(code).name
    except UnknownLanguageError:  # registered in the process that built it, not in this one
        return code


def _rows(layout: Layout, relpath: str) -> int:
    return pq.ParquetFile(layout.root / relpath).metadata.num_rows


@dataclasses.dataclass
class LanguageFunnel:
    code: str
    rows_in: int
    rows_out: int
    dropped: dict[str, int]
    stages: list[dict]
    origin: str  # "build_info" or "candidates" (recomputed from the audit config)

    @property
    def yield_pct(self) -> str:
        return f"{100 * self.rows_out / self.rows_in:.1f} %" if self.rows_in else "–"

    @property
    def dropped_summary(self) -> str:
        return (
            ", ".join(
                f"{reason}: {n}"
                for reason, n in sorted(self.dropped.items(), key=lambda kv: -kv[1])
            )
            or "–"
        )

    @property
    def summary(self) -> str:
        """What the card says about an empty language, e.g. `0 of 2 rows kept (prepare: too_long 2)`."""
        return funnel_line(
            {
                "rows_in": self.rows_in,
                "rows_out": self.rows_out,
                "dropped": self.dropped,
                "stages": self.stages,
            }
        )


def empty_languages(layout: Layout, build_info: dict) -> list[str]:
    """Languages the build ran but that kept no row, so the export has no config for them."""
    recorded = build_info.get("funnel") or {}
    return [
        c for c in layout.empty if c in recorded or c in layout.language_names or is_language(c)
    ]


def funnels(layout: Layout, build_info: dict) -> dict[str, LanguageFunnel]:
    """The funnel the pipeline recorded; for a language it did not record, recount the audit table.

    Covers the empty languages too: the funnel is where the card says why they kept nothing."""
    recorded = build_info.get("funnel") or {}
    codes = layout.languages + empty_languages(layout, build_info)
    out = {}
    for code in codes:
        entry = recorded.get(code)
        if entry:
            out[code] = LanguageFunnel(
                code,
                int(entry.get("rows_in", 0)),
                int(entry.get("rows_out", 0)),
                {k: int(v) for k, v in (entry.get("dropped") or {}).items()},
                list(entry.get("stages") or []),
                "build_info",
            )
    missing = [c for c in codes if c not in out]
    if missing and "candidates" in layout.configs:
        table = layout.read("candidates", ["lang", "dropped"])
        if {"lang", "dropped"} <= set(table.column_names):
            per_lang: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
            for lang, dropped in zip(
                table["lang"].to_pylist(), table["dropped"].to_pylist(), strict=True
            ):
                per_lang[lang][dropped] += 1
            for code in missing:
                counts = per_lang.get(code)
                if counts:
                    dropped = {str(k): v for k, v in counts.items() if k is not None}
                    total = sum(counts.values())
                    out[code] = LanguageFunnel(
                        code, total, counts.get(None, 0), dropped, [], "candidates"
                    )
    return out


def prompts_table(settings: dict) -> list[dict]:
    prompts = settings.get("prompts") or {}
    return [
        {"name": name, "version": str(p.get("version", "")), "hash": str(p.get("hash", ""))}
        for name, p in sorted(prompts.items())
        if isinstance(p, dict)
    ]


def pretty_json(value) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)

"""The yield funnel: how many rows each stage kept per language, and why the rest left."""

from __future__ import annotations

from collections import Counter


class Funnel:
    def __init__(self, stages: tuple[str, ...]):
        """`stages`: its columns, the stages that can drop rows in build order
        (builder/stages/plan.py: funnel_stages)."""
        self.columns = tuple(stages)
        self.rows_in: dict[str, int] = {}
        self.stages: dict[str, list[dict]] = {}
        self.dropped: dict[str, Counter] = {}

    def record(self, lang: str, stage: str, dropped_before: list, dropped_after: list) -> None:
        """Count one stage from the `dropped` column before and after it ran."""
        if stage == self.columns[0]:
            self.rows_in[lang] = len(dropped_after)
        alive_in = sum(1 for d in dropped_before if d is None)
        alive_out = sum(1 for d in dropped_after if d is None)
        here = Counter(
            after
            for before, after in zip(dropped_before, dropped_after)
            if before is None and after is not None
        )
        # Per stage too, so that an empty language can be explained ("prepare: too_long 2").
        self.stages.setdefault(lang, []).append(
            {"stage": stage, "in": alive_in, "out": alive_out, "dropped": dict(here.most_common())}
        )
        self.dropped.setdefault(lang, Counter()).update(here)

    def restore(self, lang: str, entry: dict) -> None:
        """One language's counts as `to_dict()[lang]` gave them (a build read back from the work dir)."""
        self.rows_in[lang] = entry["rows_in"]
        self.stages[lang] = [dict(stage) for stage in entry["stages"]]
        self.dropped[lang] = Counter(entry["dropped"])

    def rows_out(self, lang: str) -> int:
        return self.stages[lang][-1]["out"] if self.stages.get(lang) else 0

    def empty_languages(self) -> list[str]:
        """Languages that kept no row: they get no config (see builder.publish.export.export_local)."""
        return [lang for lang in self.stages if self.rows_out(lang) == 0]

    def explain(self, lang: str) -> str:
        """One line, e.g. `vi: 0 of 2 rows kept (prepare: too_long 2)`."""
        return f"{lang}: {funnel_line(self.to_dict()[lang])}"

    def to_dict(self) -> dict:
        return {
            lang: {
                "rows_in": self.rows_in.get(lang, 0),
                "rows_out": self.rows_out(lang),
                "dropped": dict(self.dropped.get(lang, {}).most_common()),
                "stages": self.stages[lang],
            }
            for lang in self.stages
        }

    def table(self) -> str:
        """A plain-text table for the terminal."""
        header = ["lang", "in", *self.columns, "top drop reasons"]
        rows = []
        for lang, stages in self.stages.items():
            outs = {s["stage"]: s["out"] for s in stages}
            reasons = ", ".join(f"{r} {n}" for r, n in self.dropped[lang].most_common(3)) or "-"
            rows.append(
                [
                    lang,
                    str(self.rows_in.get(lang, 0)),
                    *(str(outs.get(s, "-")) for s in self.columns),
                    reasons,
                ]
            )
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip()
            for line in [header, *rows]
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)


def funnel_line(entry: dict) -> str:
    """One line for a funnel entry ({"rows_in", "rows_out", "dropped", "stages"}, as in build_info.json):
    "0 of 2 rows kept (prepare: too_long 2)". Entries written before stages recorded their own
    reasons (or recounted from the audit table) give the reasons without stages."""
    head = f"{entry.get('rows_out', 0):,} of {entry.get('rows_in', 0):,} rows kept"
    stages = [s for s in entry.get("stages") or [] if s.get("dropped")]
    if stages:
        parts = [
            f"{s.get('stage', '?')}: " + ", ".join(f"{r} {n}" for r, n in _ranked(s["dropped"]))
            for s in stages
        ]
    elif entry.get("dropped"):
        parts = ["dropped: " + ", ".join(f"{r} {n}" for r, n in _ranked(entry["dropped"]))]
    else:
        parts = ["no documents read" if not entry.get("rows_in") else "no drop reason recorded"]
    return f"{head} ({'; '.join(parts)})"


def _ranked(counts: dict) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))

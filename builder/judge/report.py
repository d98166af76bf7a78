"""Writing a harness run: report.json, records.jsonl, report.md and PNG plots.

report.json holds every number of report.md; records.jsonl holds one row per judged pair
(question, turn, both answers, both raw judge replies, parsed judgements, outcome, language ID),
so anyone can recompute the summary with the pairwise-judge metric and get the same numbers.
Results are pooled per language and setting, and split by question category and, for
multi-turn sets, by turn.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from .aggregate import LONGER, SHORTER, SIMILAR

logger = logging.getLogger(__name__)

PLOTS = ("win_tie_loss.png", "language_fidelity.png", "answer_lengths.png")


def write_report(report: dict, pairs: list[dict], out: Path) -> dict[str, str]:
    out = Path(out)
    (out / "plots").mkdir(parents=True, exist_ok=True)
    files = {
        "json": str(out / "report.json"),
        "markdown": str(out / "report.md"),
        "records": str(out / "records.jsonl"),
        "plots": [str(out / "plots" / name) for name in PLOTS],
    }
    report["files"] = files
    with open(files["records"], "w", encoding="utf-8") as f:
        for pair in pairs:
            f.write(json.dumps(pair, ensure_ascii=False) + "\n")
    with open(files["json"], "w", encoding="utf-8") as f:
        json.dump(report, f, ensure_ascii=False, indent=2)
    Path(files["markdown"]).write_text(markdown(report), encoding="utf-8")
    plot_win_tie_loss(report, out / "plots" / PLOTS[0])
    plot_fidelity(report, out / "plots" / PLOTS[1])
    plot_lengths(report, pairs, out / "plots" / PLOTS[2])
    return files


def _rows(report: dict):
    for lang, settings in report["results"].items():
        for setting, summary in settings.items():
            yield lang, setting, summary


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _ci(values) -> str:
    return "" if not values else f" [{100 * values[0]:.1f}, {100 * values[1]:.1f}]"


def _engine_name(identity: dict | None) -> str:
    if not identity:
        return "n/a"
    revision = f"@{identity['revision']}" if identity.get("revision") else ""
    return f"`{identity.get('model')}{revision}` ({identity.get('engine')})"


def markdown(report: dict) -> str:
    meta = report["meta"]
    engines = meta["engines"]
    judge = meta["judge"]
    reference = (
        _engine_name(engines.get("reference"))
        if "reference" in engines
        else f"answers from `{meta['reference_answers']}`"
    )
    multi_turn = meta.get("max_turns", 1) > 1
    turns = f", up to {meta['max_turns']} turns each" if multi_turn else ""
    lines = [
        "# Pairwise judge report",
        "",
        f"- model (A): {_engine_name(engines['model'])}",
        f"- reference (B): {reference}",
        f"- judge: {_engine_name(engines['judge'])}, format `{judge['format']}`, pre-filled: {judge['prefill']}",
        f"- questions: `{meta['questions']}` ({meta['question_count']}{turns}), languages: {', '.join(meta['langs'])}",
        f"- answers: {meta['answers']['samples']} sample(s) per question, up to {meta['answers']['max_tokens']} "
        f"tokens, temperature {meta['answers']['temperature']}",
        "",
        "## Model against the reference",
        "",
        f"Win/tie/loss of the model, every pair judged in both orders; score = win + tie/2; "
        f"{int(100 * meta['aggregation']['confidence'])}% bootstrap intervals in brackets.",
        "",
        "| lang | setting | win | tie | loss | score | length-controlled score | valid pairs | "
        "invalid judgements | model in language | reference in language |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for lang, setting, s in _rows(report):
        length = s.get("length", {})
        fa, fb = s["fidelity_a"], s["fidelity_b"]
        lines.append(
            f"| {lang} | {setting} | {_pct(s['win_rate'])}{_ci(s['win_rate_ci'])} | {_pct(s['tie_rate'])} | "
            f"{_pct(s['loss_rate'])} | {_pct(s['score'])}{_ci(s['score_ci'])} | "
            f"{_pct(length.get('length_controlled_score'))}{_ci(length.get('length_controlled_score_ci'))} | "
            f"{s['valid_pairs']}/{s['pairs']} | {s['invalid_judgements']}/{s['judgements']} | "
            f"{_pct(fa['fidelity'])}{_ci(fa['fidelity_ci'])} | {_pct(fb['fidelity'])}{_ci(fb['fidelity_ci'])} |"
        )
    if multi_turn:
        lines += _split_table(
            report["by_turn"],
            "turn",
            "By turn",
            "Turn k is answered after turns 1..k-1 and the system's own answers to them, and judged "
            "with that conversation shown; the table above pools all turns.",
        )
    lines += _split_table(report.get("by_category", {}), "category", "By category", "")
    lines += [
        "",
        "## Answer length",
        "",
        "Mean characters per answer, and the model's score within bins of its answer length relative to the reference.",
        "",
        f"| lang | setting | model chars | reference chars | {SHORTER} | {SIMILAR} | {LONGER} |",
        "|---|---|---|---|---|---|---|",
    ]
    for lang, setting, s in _rows(report):
        length = s.get("length", {})
        cells = []
        for name in (SHORTER, SIMILAR, LONGER):
            stratum = length.get("strata", {}).get(name, {"n": 0})
            score = None if not stratum["n"] else stratum["win_rate"] + stratum["tie_rate"] / 2
            cells.append(f"{_pct(score)} (n={stratum['n']})")
        lines.append(
            f"| {lang} | {setting} | {length.get('mean_chars_a', 'n/a')} | {length.get('mean_chars_b', 'n/a')} | "
            + " | ".join(cells)
            + " |"
        )
    lines += [
        "",
        "## Judge reliability",
        "",
        "Consistency: pairs whose two orders agree. Position-1 preference: decisive judgements that "
        "favour whichever answer was shown first (50% = no position bias).",
        "",
        "| lang | setting | consistency | position-1 preference | mean score model | mean "
        "score reference | invalid judgements by reason |",
        "|---|---|---|---|---|---|---|",
    ]
    for lang, setting, s in _rows(report):
        reasons = ", ".join(f"{k}: {v}" for k, v in s["invalid_by_status"].items()) or "none"
        lines.append(
            f"| {lang} | {setting} | {_pct(s['consistency'])} | {_pct(s['position1_preference'])} | "
            f"{s['mean_score_a'] if s['mean_score_a'] is not None else 'n/a'} | "
            f"{s['mean_score_b'] if s['mean_score_b'] is not None else 'n/a'} | {reasons} |"
        )
    lines += [
        "",
        "## Cost",
        "",
        "| role | requests | sent | reused (cache or duplicate) | prompt tokens | completion tokens | time (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for role, cost in report["cost"].items():
        lines.append(
            f"| {role} | {cost['requests']} | {cost['calls']} | {cost['reused']} | {cost['prompt_tokens']} | "
            f"{cost['completion_tokens']} | {cost['wall_s']} |"
        )
    agg = meta["aggregation"]
    lines += [
        "",
        "## How the numbers are made",
        "",
        f"- Each pair is judged twice, the model's answer first and then second. Tie rule `{agg['rule']}`: "
        + (
            "the pair goes to the side the two judgements favour in sum; when the orders disagree, it is a tie."
            if agg["rule"] == "sum"
            else "a win or loss needs both orders to agree; anything else is a tie."
        ),
        f"- Invalid judgements are never scores. Partial policy `{agg['partial']}`: "
        + (
            "a pair with an invalid judgement in either order is left out of the rates."
            if agg["partial"] == "exclude"
            else "a pair with one valid order is decided by that order alone."
        ),
        f"- Intervals: percentile bootstrap, {agg['bootstrap_samples']} resamples of the pairs"
        + (
            " grouped by question (a question's samples and turns are resampled together)."
            if meta["answers"]["samples"] > 1 or multi_turn
            else "."
        ),
        "- Language: builder.languages.lid on each answer; answers too short to decide are left out of the share; "
        "empty answers count as not in the language.",
        "- Length-controlled score: a logistic fit of the preference on the log length ratio, read at equal length.",
    ]
    if report.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {note}" for note in report["notes"]]
    return "\n".join(lines) + "\n"


def _split_table(split: dict, column: str, title: str, intro: str) -> list[str]:
    """results[lang][setting][part] as a table with one row per part (turn or category)."""
    lines = (
        ["", f"## {title}", ""]
        + ([intro, ""] if intro else [])
        + [
            f"| lang | setting | {column} | win | tie | loss | score | valid pairs | invalid "
            "judgements | model in language |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
    )
    for lang, settings in split.items():
        for setting, parts in settings.items():
            for part, s in parts.items():
                lines.append(
                    f"| {lang} | {setting} | {part} | "
                    f"{_pct(s['win_rate'])}{_ci(s['win_rate_ci'])} | {_pct(s['tie_rate'])} | "
                    f"{_pct(s['loss_rate'])} | {_pct(s['score'])}{_ci(s['score_ci'])} | "
                    f"{s['valid_pairs']}/{s['pairs']} | "
                    f"{s['invalid_judgements']}/{s['judgements']} | {_pct(s['fidelity_a']['fidelity'])} |"
                )
    return lines


# --- plots ------------------------------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    return plt


def _labels(report: dict) -> list[str]:
    return [f"{lang} / {setting}" for lang, setting, _ in _rows(report)]


def plot_win_tie_loss(report: dict, path: Path) -> None:
    plt = _pyplot()
    rows = list(_rows(report))
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(rows) + 1.5))
    for y, (_lang, _setting, s) in enumerate(rows):
        if s["win_rate"] is None:
            ax.text(
                0.01, y, f"no valid judgements ({s['invalid_judgements']} invalid)", va="center"
            )
            continue
        left = 0.0
        for name, color in (("win", "#2b8a3e"), ("tie", "#adb5bd"), ("loss", "#c92a2a")):
            width = s[f"{name}_rate"]
            ax.barh(y, width, left=left, color=color, label=name if y == 0 else None)
            left += width
        low, high = s["win_rate_ci"]
        ax.errorbar(
            s["win_rate"],
            y,
            xerr=[[s["win_rate"] - low], [high - s["win_rate"]]],
            color="black",
            capsize=3,
        )
        ax.text(
            1.01,
            y,
            f"n={s['valid_pairs']}, invalid={s['invalid_judgements']}",
            va="center",
            fontsize=8,
        )
    ax.set_yticks(range(len(rows)), _labels(report))
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel("share of pairs (model vs reference); whisker: 95% interval of the win rate")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Model against the reference")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_fidelity(report: dict, path: Path) -> None:
    plt = _pyplot()
    rows = list(_rows(report))
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(rows) + 2), 4))
    for offset, side, label, color in (
        (-0.2, "a", "model", "#1971c2"),
        (0.2, "b", "reference", "#868e96"),
    ):
        for x, (_, _, s) in enumerate(rows):
            f = s[f"fidelity_{side}"]
            if f["fidelity"] is None:
                continue
            low, high = f["fidelity_ci"]
            ax.bar(
                x + offset,
                f["fidelity"],
                width=0.4,
                color=color,
                label=label if x == 0 else None,
                yerr=[[f["fidelity"] - low], [high - f["fidelity"]]],
                capsize=3,
            )
    ax.set_xticks(range(len(rows)), _labels(report), rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("answers in the requested language")
    ax.set_title("Language fidelity")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_lengths(report: dict, pairs: list[dict], path: Path) -> None:
    plt = _pyplot()
    rows = list(_rows(report))
    labels = _labels(report)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, max(4, 0.5 * len(rows) + 2)))
    data, ticks = [], []
    for i, (lang, setting, _) in enumerate(rows):
        group = [p for p in pairs if p["lang"] == lang and p["setting"] == setting]
        data += [[p["chars_a"] for p in group] or [0], [p["chars_b"] for p in group] or [0]]
        ticks += [f"{labels[i]} model", f"{labels[i]} ref"]
    left.boxplot(data, orientation="horizontal")
    left.set_yticks(range(1, len(ticks) + 1), ticks, fontsize=8)
    left.invert_yaxis()  # first language at the top, as in the right panel
    left.set_xlabel("answer length (characters)")
    left.set_title("Answer lengths")
    for k, (name, color) in enumerate(
        ((SHORTER, "#e8590c"), (SIMILAR, "#868e96"), (LONGER, "#1971c2"))
    ):
        for y, (_, _, s) in enumerate(rows):
            stratum = s.get("length", {}).get("strata", {}).get(name)
            if stratum and stratum["n"]:
                score = stratum["win_rate"] + stratum["tie_rate"] / 2
                offset = y + (k - 1) * 0.25
                right.barh(offset, score, height=0.25, color=color, label=name if y == 0 else None)
                right.text(
                    score + 0.01,
                    offset,
                    f"{100 * score:.0f}% (n={stratum['n']})",
                    va="center",
                    fontsize=7,
                )
    for y, (_, _, s) in enumerate(rows):
        lc = s.get("length", {}).get("length_controlled_score")
        if lc is not None:
            right.plot(
                [lc], [y], marker="D", color="black", label="length-controlled" if y == 0 else None
            )
    right.set_yticks(range(len(rows)), labels)
    right.set_xlim(0, 1)
    right.invert_yaxis()
    right.set_xlabel("model score (win + tie/2) by relative answer length")
    if right.get_legend_handles_labels()[0]:
        right.legend(fontsize=7, loc="best")
    right.set_title("Score by length")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)

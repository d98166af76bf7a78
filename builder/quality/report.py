"""How the quality gates' reports read, in the build summary and on the dataset card.

Every AUC is printed with its 95% interval (builder/quality/relevance.py: auc_interval) and only
from MIN_AUC_PAIRS pairs on; below that the line says how many pairs there were. The warnings
name the cause they can tell apart:
- the encoder: it cannot separate the seeds' true pairs from shuffled ones (a known control),
  so its relevance says nothing about this build's pairs either;
- the generator: the encoder separates the seeds, but the build's instructions are barely more
  related to their own text than to other texts, or most fall below the seeds' floor;
- the rater: its scores do not separate matched from mismatched pairs.
"""

from __future__ import annotations

from .relevance import MIN_AUC_PAIRS, auc_interval, too_few

# Below this AUC a gate barely separates matched from mismatched pairs: the build warns, the
# card shows a banner, and --min-rater-auc turns it into a failed build for the rater.
WARN_AUC = 0.6
WEAK_GENERATOR = "the generator is weak: use a stronger --model or a trained --generator"


def auc_text(entry: dict | None) -> str:
    """`0.93 [0.72, 0.99], 20 pairs`, `4 pairs: too few for an AUC (need 10)`, or why there is none."""
    if not entry:
        return "-"
    n = entry.get("auc_pairs", entry.get("pairs"))
    if entry.get("auc") is None or (n is not None and n < MIN_AUC_PAIRS):
        return entry.get("note") if entry.get("auc") is None else too_few(n)
    low, high = entry.get("auc_ci") or auc_interval(entry["auc"], n)
    return f"{entry['auc']:.2f} [{low:.2f}, {high:.2f}], {n} pairs"


def printed_auc(entry: dict | None) -> float | None:
    """The AUC when it is printed (enough pairs), else None."""
    if not entry or entry.get("auc") is None:
        return None
    n = entry.get("auc_pairs", entry.get("pairs"))
    return entry["auc"] if n is None or n >= MIN_AUC_PAIRS else None


def relevance_text(entry: dict) -> str:
    parts = [
        f"relevance AUC {auc_text(entry)}"
        if printed_auc(entry) is not None
        else f"relevance: {auc_text(entry)}"
    ]
    if entry.get("mean_matched") is not None:
        parts.append(f"mean {entry['mean_matched']} vs {entry.get('mean_mismatched', '-')}")
    if entry.get("resolution"):
        parts.append(f"resolution {entry['resolution']:g}")
    below = entry.get("below_floor")
    if below and (below["kept"] or below["dropped"]):
        what = (
            f"{below['dropped']} dropped"
            if below["mode"] == "drop"
            else f"{below['kept']} kept, flagged"
        )
        parts.append(f"below the seeds' floor (strength {entry['floor']:.2f}): {what}")
    return "; ".join(parts)


def rater_text(entry: dict) -> str:
    text = auc_text(entry)
    if printed_auc(entry) is None:
        return f"rater: {text}"
    return f"rater AUC {text} (mean {entry['mean_matched']} vs {entry['mean_mismatched']})"


def warnings(lang: str, gates: dict) -> list[str]:
    out = []
    relevance = gates.get("relevance") or {}
    control = relevance.get("control") or {}
    encoder = relevance.get("encoder", "the relevance encoder")
    control_ok = control.get("auc") is None or control["auc"] >= WARN_AUC
    if not control_ok:
        out.append(
            f"WARNING {lang}: the relevance encoder {encoder} cannot tell the seeds' true pairs from shuffled "
            f"ones ({', '.join(control.get('seed_languages', []))} seeds: AUC {auc_text(control)}), so its "
            "relevance says little about these pairs; pass another --relevance-encoder"
        )
    value = printed_auc(relevance)
    if control_ok and value is not None and value < WARN_AUC:
        out.append(
            f"WARNING {lang}: the generated instructions are barely more related to their own text than to "
            f"other texts (relevance AUC {auc_text(relevance)}), while the encoder separates the seeds' true "
            f"pairs; {WEAK_GENERATOR}"
        )
    below = relevance.get("below_floor")
    pairs = relevance.get("pairs") or 0
    if control_ok and below and pairs and 2 * (below["kept"] + below["dropped"]) > pairs:
        fate = (
            "dropped as below_seed_floor"
            if below["mode"] == "drop"
            else "kept and flagged (--relevance-floor flag), not dropped"
        )
        out.append(
            f"WARNING {lang}: {below['kept'] + below['dropped']} of {pairs} pairs relate to their text less than "
            f"9 in 10 seed pairs do (the seeds' floor, strength {relevance['floor']:.2f}; {fate}); {WEAK_GENERATOR}"
        )
    rater = printed_auc(gates.get("rater"))
    if rater is not None and rater < WARN_AUC:
        out.append(
            f"WARNING {lang}: the rater gate barely separates matched from mismatched pairs (AUC "
            f"{auc_text(gates['rater'])}; < {WARN_AUC}): its scores say little about these pairs; use a "
            "stronger --evaluator"
        )
    return out


def report_lines(quality: dict) -> list[str]:
    """Terminal lines: per language, each gate's AUC with its interval (or why none); warnings last."""
    lines, warned = (
        [
            "",
            f"quality (AUC matched vs mismatched, 95% interval; 0.5 = chance; none below "
            f"{MIN_AUC_PAIRS} pairs):",
        ],
        [],
    )
    for lang, gates in quality.items():
        parts = []
        if gates.get("relevance"):
            parts.append(relevance_text(gates["relevance"]))
        if gates.get("rater"):
            parts.append(rater_text(gates["rater"]))
        lines.append(f"  {lang}: " + " | ".join(parts))
        warned += warnings(lang, gates)
    return lines + warned

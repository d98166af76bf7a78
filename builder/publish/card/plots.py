"""The card's figures, as PNG files under `plots/` of the export.

Drawn with `matplotlib.figure.Figure` (no pyplot state, so it is safe in a library and in
threads). PNGs are written without the "Software" tag, so the same data gives the same bytes
whatever matplotlib version drew them, and a re-export does not re-upload unchanged plots.

Each PNG carries a hash of the data it was drawn from (a text chunk, `DATA_KEY`), so `draw`
can copy a plot from an earlier export instead of drawing it again (drawing is most of a
card's time) when its data has not changed.
"""

from __future__ import annotations

import functools
import hashlib
import pickle
import shutil
import struct
from pathlib import Path

import numpy as np

from .stats import LanguageFunnel, LanguageStats
from .verbs import VerbSummary

_PNG = {"format": "png", "dpi": 100, "metadata": {"Software": None}}
_KEPT, _OTHER = "#3b7dd8", "#c8c8c8"
_PALETTE = ["#e4572e", "#f3a712", "#a8c686", "#669bbc", "#8e6c8a", "#29335c", "#b07156", "#5b8e7d"]


DATA_KEY = "X-Instruction data"  # PNG text chunk: the hash of what the plot was drawn from


@functools.cache
def _drawing_code() -> str:
    """This module's source and matplotlib's version: a change to either redraws every plot."""
    import matplotlib

    return hashlib.sha256(Path(__file__).read_bytes() + matplotlib.__version__.encode()).hexdigest()


def data_key(plot, args: tuple) -> str:
    """The hash of a plot's inputs. Equal inputs pickle to equal bytes (numpy arrays included);
    inputs that merely look alike may not, which only costs a redraw."""
    return hashlib.sha256(
        pickle.dumps((plot.__name__, args, _drawing_code()), protocol=4)
    ).hexdigest()


def png_text(path: Path) -> dict[str, str]:
    """The tEXt chunks of a PNG (they come before the image data); {} for anything else."""
    data = Path(path).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return {}
    out, pos = {}, 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"IDAT":
            break
        if kind == b"tEXt":
            keyword, _, text = data[pos + 8 : pos + 8 + length].partition(b"\0")
            out[keyword.decode("latin-1")] = text.decode("latin-1")
        pos += 12 + length
    return out


def draw(plot, path: Path, *args, reuse: Path | None = None) -> Path:
    """`plot(*args, path)`, unless the folder `reuse` (an earlier export's plots) holds a file of
    the same name drawn from the same data: then that file is copied (the same bytes)."""
    key = data_key(plot, args)
    earlier = Path(reuse) / path.name if reuse is not None else None
    if earlier is not None and earlier.is_file() and png_text(earlier).get(DATA_KEY) == key:
        if earlier.resolve() != Path(path).resolve():
            shutil.copy2(earlier, path)  # its time too: an unchanged plot looks unchanged
        return path
    return plot(*args, path, key=key)


def _save(fig, path: Path, key: str | None) -> Path:
    metadata = {**_PNG["metadata"], **({DATA_KEY: key} if key else {})}
    fig.savefig(path, **{**_PNG, "metadata": metadata})
    return path


def _figure(width: float, height: float):
    try:
        from matplotlib.figure import Figure
    except ImportError as err:  # pragma: no cover - matplotlib is a dependency
        raise ImportError(
            "the dataset card's plots need matplotlib: pip install matplotlib"
        ) from err
    return Figure(figsize=(width, height), layout="constrained")


def length_histogram(stats: LanguageStats, path: Path, key: str | None = None) -> Path:
    """Instruction and response length (characters) of one language, side by side."""
    fig = _figure(8, 2.8)
    axes = fig.subplots(1, 2)
    for ax, lengths, what in (
        (axes[0], stats.instruction_lengths, "instruction"),
        (axes[1], stats.output_lengths, "response"),
    ):
        if lengths.size:
            ax.hist(lengths, bins=min(30, max(5, lengths.size // 2)), color=_KEPT)
            ax.axvline(lengths.mean(), color="black", linewidth=1, linestyle="--")
        ax.set_title(
            f"{stats.code}: {what} length, mean {lengths.mean() if lengths.size else 0:.0f}"
        )
        ax.set_xlabel("characters")
        ax.set_ylabel("rows")
    return _save(fig, path, key)


def funnel_chart(funnels: dict[str, LanguageFunnel], path: Path, key: str | None = None) -> Path:
    """Per language: the rows kept and each drop reason, as one stacked bar of the input rows."""
    codes = sorted(funnels)
    # Most frequent first; ties by name, since a set's order changes with PYTHONHASHSEED and the
    # colours would swap between two runs of the same build.
    reasons = sorted(
        {r for f in funnels.values() for r in f.dropped},
        key=lambda r: (-sum(f.dropped.get(r, 0) for f in funnels.values()), r),
    )
    fig = _figure(8, 0.45 * len(codes) + 2.0)
    ax = fig.subplots()
    y = np.arange(len(codes))
    left = np.array([funnels[c].rows_out for c in codes], dtype=float)
    ax.barh(y, left, color=_KEPT, label="kept")
    for i, reason in enumerate(reasons):
        widths = np.array([funnels[c].dropped.get(reason, 0) for c in codes], dtype=float)
        color = _PALETTE[i] if i < len(_PALETTE) else _OTHER
        ax.barh(y, widths, left=left, color=color, label=f"dropped: {reason}")
        left += widths
    ax.set_yticks(y, codes)
    ax.invert_yaxis()
    ax.set_xlabel("input rows")
    ax.set_title("Yield funnel: kept rows and drop reasons per language")
    fig.legend(loc="outside lower center", ncols=min(3, len(reasons) + 1), fontsize="small")
    return _save(fig, path, key)


def verb_chart(summary: VerbSummary, path: Path, key: str | None = None) -> Path:
    """Top verbs as bars split into their top objects (the paper's sunburst, flattened)."""
    fig = _figure(8, 0.35 * max(len(summary.verbs), 1) + 1.4)
    ax = fig.subplots()
    y = np.arange(len(summary.verbs))
    for row, (_verb, total, objects) in enumerate(summary.verbs):
        left = 0
        for i, (obj, n) in enumerate(objects):
            ax.barh(row, n, left=left, color=_PALETTE[i % len(_PALETTE)])
            if n >= 0.12 * max(summary.verbs[0][1], 1):
                ax.text(left + n / 2, row, obj, ha="center", va="center", fontsize=7, color="white")
            left += n
        ax.barh(row, total - left, left=left, color=_OTHER)
    ax.set_yticks(y, [v for v, _, _ in summary.verbs])
    ax.invert_yaxis()
    ax.set_xlabel("instructions (segments: top objects; grey: other objects or none)")
    ax.set_title(
        f"Top {len(summary.verbs)} instruction verbs ({summary.parsed_pct} of instructions parsed)"
    )
    return _save(fig, path, key)


def relevance_chart(
    relevance: dict[str, tuple[np.ndarray, np.ndarray]],
    threshold: float | None,
    path: Path,
    key: str | None = None,
) -> Path:
    """Per language: the relevance of every scored pair (builder/quality/relevance.py), kept pairs in
    colour and dropped ones in grey, with the off_topic threshold as a dashed line."""
    codes = sorted(relevance)
    fig = _figure(8, 0.4 * len(codes) + 1.6)
    ax = fig.subplots()
    jitter = np.random.default_rng(0)  # fixed: the same data gives the same bytes
    for row, code in enumerate(codes):
        for values, color, label in (
            (relevance[code][1], _OTHER, "dropped"),
            (relevance[code][0], _KEPT, "kept"),
        ):
            if values.size:
                ax.scatter(
                    values,
                    row + jitter.uniform(-0.25, 0.25, values.size),
                    s=12,
                    color=color,
                    label=label if row == 0 else None,
                )
    if threshold:
        ax.axvline(
            threshold,
            color="black",
            linewidth=1,
            linestyle="--",
            label=f"--min-relevance {threshold}",
        )
    ax.set_yticks(np.arange(len(codes)), codes)
    ax.invert_yaxis()
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("relevance (share of mismatched pairings less alike; 0.5 = unrelated)")
    ax.set_title("Cross-lingual relevance of the scored pairs")
    fig.legend(loc="outside lower center", ncols=3, fontsize="small")
    return _save(fig, path, key)

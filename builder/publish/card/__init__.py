"""The dataset card: README.md (viewer YAML + body) and its plots, rendered from an export folder.

    from builder.publish.card import write_card
    write_card("out/x-instruction", repo_id="org/x-instruction")

Everything on the card is computed from what the folder holds (the Parquet shards and
`build_info.json`), so `dataset_card/render.py OUTPUT_DIR` can re-render the card of any
export, and the same folder always gives the same bytes (no render time on the card).
The template is `builder/data/card_template.md` (Jinja2), shipped as package data.
"""

from __future__ import annotations

import json
import logging
from importlib import resources
from pathlib import Path

from ..layout import BUILD_INFO_FILE, CARD_FILE, PLOTS_DIR, Layout, configs_yaml, dataset_infos
from .metadata import card_context, card_metadata
from .plots import draw, funnel_chart, length_histogram, relevance_chart, verb_chart
from .stats import funnels, language_stats
from .verbs import top_verbs

logger = logging.getLogger(__name__)

TEMPLATE = "card_template.md"
# In every full card, so that `push` knows it may re-render the text with the repository id.
CARD_MARKER = "<!-- x-instruction card -->"


def template_text() -> str:
    return resources.files("builder").joinpath("data", TEMPLATE).read_text(encoding="utf-8")


def read_build_info(root: Path) -> dict:
    path = Path(root) / BUILD_INFO_FILE
    if not path.is_file():
        logger.warning("%s is missing: the card will have no generation settings or funnel", path)
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def _relevance_by_lang(layout: Layout) -> dict:
    """{lang: (relevance of kept pairs, of dropped pairs)} from the audit config; {} without one."""
    import numpy as np

    if "candidates" not in layout.audit:
        return {}
    table = layout.read("candidates", ["lang", "relevance", "dropped"])
    if "relevance" not in table.column_names:  # an export from a builder without the relevance gate
        return {}
    out: dict[str, tuple[list, list]] = {}
    for lang, value, dropped in zip(
        *(table[c].to_pylist() for c in ("lang", "relevance", "dropped"))
    ):
        if value is not None:
            out.setdefault(lang, ([], []))[dropped is not None].append(value)
    return {lang: (np.array(kept), np.array(gone)) for lang, (kept, gone) in out.items()}


def _write_plots(
    root: Path, stats, funnel_by_lang, verbs, layout=None, threshold=None, reuse=None
) -> dict:
    """Draw the plots into `root/plots/`; one whose data has not changed is copied from the
    folder `reuse` (an earlier export's plots) instead of drawn again."""
    folder = root / PLOTS_DIR
    folder.mkdir(exist_ok=True)
    plots = {"lengths": {}}

    def place(plot, name: str, *args) -> str:
        return draw(plot, folder / name, *args, reuse=reuse).relative_to(root).as_posix()

    for code, s in stats.items():
        plots["lengths"][code] = place(length_histogram, f"lengths-{code}.png", s)
    if funnel_by_lang:
        plots["funnel"] = place(funnel_chart, "funnel.png", funnel_by_lang)
    if verbs.verbs:
        plots["verbs"] = place(verb_chart, "verbs.png", verbs)
    relevance = _relevance_by_lang(layout) if layout is not None else {}
    if relevance:
        plots["relevance"] = place(relevance_chart, "relevance.png", relevance, threshold)
    written = {
        root / p
        for p in [
            *plots["lengths"].values(),
            plots.get("funnel"),
            plots.get("verbs"),
            plots.get("relevance"),
        ]
        if p
    }
    for stale in folder.glob("*.png"):  # a language or a chart that is no longer there
        if stale not in written:
            stale.unlink()
    return plots


def _existing_plots(root: Path, stats) -> dict:
    """The plots already in the folder (re-rendering the text only, e.g. with the repo id)."""
    plots = {
        "lengths": {
            c: f"{PLOTS_DIR}/lengths-{c}.png"
            for c in stats
            if (root / PLOTS_DIR / f"lengths-{c}.png").is_file()
        }
    }
    for name in ("funnel", "verbs", "relevance"):
        if (root / PLOTS_DIR / f"{name}.png").is_file():
            plots[name] = f"{PLOTS_DIR}/{name}.png"
    return plots


def render_card(
    root: str | Path,
    *,
    repo_id: str | None = None,
    plots: bool = True,
    body: bool = True,
    layout: Layout | None = None,
    reuse_plots: str | Path | None = None,
) -> str:
    """The README.md text for the export in `root`; with `plots`, (re)draw `plots/*.png` too.

    `body=False` gives the YAML metadata and a one-line body (what `export_local(card=False)`
    writes so that the folder still loads by config name). A plot whose data is unchanged is
    copied from the export folder `reuse_plots` (default: `root` itself) instead of redrawn.
    """
    root = Path(root)
    reuse = Path(reuse_plots if reuse_plots is not None else root) / PLOTS_DIR
    layout = layout or Layout.scan(root)
    build_info = read_build_info(root)
    configs = configs_yaml(layout)
    infos = dataset_infos(layout)
    stats = language_stats(layout)
    data = card_metadata(layout, build_info, stats, configs, infos)
    header = f"---\n{data.to_yaml()}\n---\n"
    if not body:
        return (
            header
            + "\nX-Instruction export; render the full card with `python dataset_card/render.py`.\n"
        )
    funnel_by_lang = funnels(layout, build_info)
    instructions = [
        text
        for code in layout.languages
        for text in layout.read(code, ["instruction"])["instruction"].to_pylist()
    ]
    verbs = top_verbs(instructions)
    threshold = (build_info.get("settings") or {}).get("min_relevance")
    figures = (
        _write_plots(root, stats, funnel_by_lang, verbs, layout, threshold, reuse)
        if plots
        else _existing_plots(root, stats)
    )
    context = card_context(
        layout, build_info, stats, funnel_by_lang, verbs, figures, infos, repo_id
    )
    import jinja2

    env = jinja2.Environment(
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    return header + CARD_MARKER + "\n" + env.from_string(template_text()).render(**context)


def write_card(
    root: str | Path,
    *,
    repo_id: str | None = None,
    plots: bool = True,
    body: bool = True,
    layout: Layout | None = None,
    reuse_plots: str | Path | None = None,
) -> Path:
    """Render the card of the export in `root` and write it to `root/README.md`."""
    root = Path(root)
    text = render_card(
        root, repo_id=repo_id, plots=plots, body=body, layout=layout, reuse_plots=reuse_plots
    )
    path = root / CARD_FILE
    path.write_text(text, encoding="utf-8")
    return path


__all__ = ["CARD_MARKER", "Layout", "render_card", "template_text", "write_card"]

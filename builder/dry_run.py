"""`--dry-run`: run the pipeline on a few documents per language and project the full run.

The pilot runs the real stages (so the projection includes cleaning losses, retries and
rewrites) in its own work directory, then scales tokens and time per document read to the
number of documents the full run would read.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from .config import BuildConfig


def count_documents(config: BuildConfig, lang: str, cap: int = 1_000_000) -> int | None:
    """Documents the full run reads for `lang`: --max-docs, or a count of a local corpus."""
    if config.max_docs is not None:
        return config.max_docs
    if config.corpus.startswith("hub:") or config.corpus in ("fineweb2", "culturax"):
        return None  # a streamed Hub corpus has no cheap row count; pass --max-docs
    from .corpus.readers import read_corpus

    n = 0
    rows = read_corpus(config.corpus, lang, text_column=config.text_column, lang_column=config.lang_column, limit=cap)
    for n, _ in enumerate(rows, start=1):
        pass
    return n


def dry_run(config: BuildConfig, engines: dict | None = None) -> str:
    from .pipeline import Pipeline

    pilot = dataclasses.replace(config, max_docs=config.pilot_docs, dry_run=False, push_to_hub=None,
                                work_dir=str(Path(config.work_dir) / "dry-run"))
    start = time.perf_counter()
    result = Pipeline(pilot, engines).run()
    wall = time.perf_counter() - start
    stats = result.build_info["engine_stats"]
    docs_read = sum(v["rows_in"] for v in result.build_info["funnel"].values()) or 1
    kept = sum(len(d) for d in result.languages.values())

    totals = {lang: count_documents(config, lang) for lang in config.langs}
    known = sum(n for n in totals.values() if n is not None)
    scale = known / docs_read
    lines = [
        f"dry run: {docs_read} documents in {len(config.langs)} language(s), {wall:.1f} s, "
        f"{stats['calls']} model calls ({stats['cache_hits']} cached), kept {kept} pairs",
        f"per document: {stats['prompt_tokens'] / docs_read:.0f} prompt + {stats['completion_tokens'] / docs_read:.0f} "
        f"generated tokens, {wall / docs_read:.2f} s",
        f"full run: {known} documents" + (f" (+ unknown for {', '.join(l for l, n in totals.items() if n is None)}: pass --max-docs)"
                                          if None in totals.values() else ""),
        f"projected: {stats['calls'] * scale:,.0f} model calls, {stats['prompt_tokens'] * scale:,.0f} prompt + "
        f"{stats['completion_tokens'] * scale:,.0f} generated tokens, {wall * scale / 60:,.1f} min on this machine "
        f"with this engine, ~{kept * scale:,.0f} pairs before clustering",
    ]
    return "\n".join(lines)

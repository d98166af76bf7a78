"""`--dry-run`: run the pipeline on a few documents per language and project the full run.

The pilot runs the real stages with the user's settings (candidates, rounds, the engine), so
the projection includes cleaning losses, retries and rewrites. It runs in a fresh folder inside
the work dir (a pilot answered from an earlier pilot's cache would measure nothing), which is
removed afterwards; nothing is exported. builder/pipeline/projection.py scales what it measured to the
requested sizes: the documents the full run reads (--max-docs, or a count of a local corpus)
and, with --project-kept, the documents that yield that many pairs per language.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

from ..config import PIPELINE_REQUESTS_PER_S, BuildConfig
from ..corpus.hub_datasets import is_hub_spec
from ..engines.cache import RequestCache
from ..quality.rater import CONTROL_PAIRS
from .projection import Cost, Limits, Pilot, Size, render, size_text
from .runner import BuildResult, Pipeline

COUNT_CAP = 1_000_000  # a local corpus is counted this far without --max-docs


class ControlsCost:
    """The pipeline's `on_stage` hook in the pilot, measuring the rater's negative controls apart:
    they cost at most CONTROL_PAIRS requests per language whatever the corpus size, so they are
    not scaled per document (builder/pipeline/projection.py)."""

    def __init__(self):
        self.cost = Cost()

    def __call__(self, stage: str, before: dict, after: dict, seconds: float) -> None:
        if stage == "rater_controls":  # every language's controls in one step
            self.cost = self.cost + Cost.between(before, after, seconds)


def count_documents(config: BuildConfig, lang: str) -> int | None:
    """Documents the full run reads for `lang`: a local corpus is counted (up to --max-docs); a
    streamed Hub corpus has no cheap row count, so only --max-docs says (None without it)."""
    if is_hub_spec(config.corpus):
        return config.max_docs
    from ..corpus.readers import read_corpus

    rows = read_corpus(
        config.corpus,
        lang,
        text_column=config.text_column,
        lang_column=config.lang_column,
        limit=config.max_docs or COUNT_CAP,
    )
    return sum(1 for _ in rows)


def dry_run(config: BuildConfig, engines: dict | None = None) -> str:
    totals = documents_to_project(config)
    work = Path(config.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="dry-run-", dir=work))
    try:
        pilot, result, lines = run_pilot(config, engines, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    sizes, notes = requested_sizes(config, pilot, totals)
    if not sizes:
        raise ValueError("; ".join(notes))
    settings = result.build_info["settings"]
    limits = Limits(
        config.target_size,
        config.project_tokens_per_s,
        config.pipeline_requests_per_s,
        "measured with benchmarks/bench_throughput.py on 2 CPU cores, embedding models on GPUs"
        if config.pipeline_requests_per_s == PIPELINE_REQUESTS_PER_S
        else "as given",
    )
    where = f"{settings['model']} on {settings['engine']}"
    for size in sizes:
        lines += ["", *render(pilot, size, limits, where)]
    return "\n".join(lines + ([""] + notes if notes else []))


def documents_to_project(config: BuildConfig) -> dict[str, int | None]:
    """Each language's documents in the full run; one line, before any model loads, when there
    is nothing to project."""
    from ..corpus.readers import check_corpus

    check_corpus(
        config.corpus, config.langs, text_column=config.text_column, lang_column=config.lang_column
    )
    totals = {lang: count_documents(config, lang) for lang in config.langs}
    if all(n == 0 for n in totals.values()):
        raise ValueError(
            f"nothing to project: the corpus {config.corpus} has no texts for {', '.join(config.langs)}; "
            "point --corpus at files holding texts in these languages (and --text-column at their text)"
        )
    if not config.project_kept and all(n is None for n in totals.values()):
        raise ValueError(
            f"nothing to project: a streamed Hub corpus ({config.corpus}) has no cheap row count; pass "
            "--max-docs N (documents per language) or --project-kept N (pairs per language)"
        )
    return totals


def run_pilot(
    config: BuildConfig, engines: dict | None, folder: Path
) -> tuple[Pilot, BuildResult, list[str]]:
    """Run the pilot in `folder`; return what it measured and the lines describing it."""
    pilot_config = dataclasses.replace(
        config,
        max_docs=config.pilot_docs,
        dry_run=False,
        push_to_hub=None,
        work_dir=str(folder / "work"),
    )
    start = time.perf_counter()
    controls = ControlsCost()
    pipeline = Pipeline(pilot_config, engines, on_stage=controls)
    _warm_up(pipeline, config)
    loaded = time.perf_counter()
    result = pipeline.run()
    wall = time.perf_counter() - loaded
    _checkpoint(folder / "work")
    stages = _stage_outs(result.build_info["funnel"])
    _check_not_empty(config, result, stages)
    stats = result.build_info["engine_stats"]
    pilot = Pilot(
        langs=len(config.langs),
        docs=stages["read"],
        judged=stages["refine"],
        pool=stages["select"],
        total=Cost(stats["calls"], stats["prompt_tokens"], stats["completion_tokens"], wall),
        controls=controls.cost,
        startup_s=loaded - start,
        shard_bytes=sum(_bytes(folder / "work" / lang) for lang in config.langs),
        cache_bytes=_store_bytes(folder / "work" / "cache.sqlite", folder / "empty"),
        embedding_bytes=_store_bytes(folder / "work" / "embeddings.sqlite", folder / "empty"),
        **_export_bytes(result, folder / "export", config.langs, stages["read"]),
    )
    return pilot, result, _pilot_lines(config, pilot, result)


def _warm_up(pipeline: Pipeline, config: BuildConfig) -> None:
    """Load the encoders before the clock starts: loading happens once per run, so it must not
    be scaled with the documents. Diversify loads its embedder itself; loading it here once
    leaves only its (cached) second load inside the pilot."""
    from ..stages.diversify import Embedder

    pipeline.encoder.load()
    Embedder(config.embedder)


def _checkpoint(work: Path) -> None:
    """Fold each SQLite store's write-ahead log into its file: a small pilot's log holds pages
    written over and over, and would overstate the bytes per entry."""
    for path in work.glob("*.sqlite"):
        with contextlib.closing(sqlite3.connect(path)) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _stage_outs(funnel: dict) -> dict[str, int]:
    """Rows alive after each stage, all languages together ("read": documents read)."""
    outs = {"read": sum(entry["rows_in"] for entry in funnel.values())}
    for entry in funnel.values():
        for stage in entry["stages"]:
            outs[stage["stage"]] = outs.get(stage["stage"], 0) + stage["out"]
    return outs


def _check_not_empty(config: BuildConfig, result: BuildResult, stages: dict[str, int]) -> None:
    if not stages["read"]:
        raise ValueError(
            f"nothing to project: the pilot read no document of {config.corpus} for "
            f"{', '.join(config.langs)}; check the corpus name, its config and --split"
        )
    if not stages.get("prepare"):
        why = "; ".join(result.funnel.explain(lang) for lang in config.langs)
        raise ValueError(
            f"nothing to project: cleaning dropped all {stages['read']} documents of the pilot ({why}); "
            f"check --min-tokens/--max-tokens ({config.min_tokens}-{config.max_tokens}), --text-column and "
            "the corpus's language, or raise --pilot-docs if its first texts are unusual"
        )


def _bytes(folder: Path, pattern: str = "**/*") -> int:
    return sum(p.stat().st_size for p in folder.glob(pattern) if p.is_file())


def _store_bytes(path: Path, scratch: Path) -> int:
    """A SQLite store's size beyond an empty one: the empty store's pages are a fixed cost."""
    RequestCache(scratch / "empty.sqlite").close()
    return max(0, _bytes(path.parent, path.name + "*") - _bytes(scratch, "empty.sqlite*"))


def _export_bytes(
    result: BuildResult, folder: Path, langs: list[str], docs: int
) -> dict[str, float]:
    """The export's Parquet, per published pair and (the audit config) per document read."""
    from ..publish.export import export_local

    configs = {lang: {"train": ds} for lang, ds in result.languages.items() if len(ds)}
    configs["candidates"] = {"train": result.audit}
    out = export_local(folder, configs, result.build_info, card=False)
    pairs = sum(len(ds) for ds in result.languages.values())
    return {
        "export_pair_bytes": sum(_bytes(out / lang) for lang in langs) / pairs if pairs else 0.0,
        "export_doc_bytes": _bytes(out / "candidates") / docs,
    }


def _pilot_lines(config: BuildConfig, pilot: Pilot, result: BuildResult) -> list[str]:
    settings = result.build_info["settings"]
    t, c, d = pilot.total, pilot.controls, pilot.per_document()
    return [
        f"pilot: {pilot.docs} documents read ({config.pilot_docs} per language asked, {pilot.langs} language(s)), "
        f"{settings['model']} on {settings['engine']}, --candidates {config.candidates} --rounds {config.rounds}: "
        f"{t.seconds:.1f} s after {pilot.startup_s:.1f} s of loading",
        *("  " + line for line in result.funnel.table().splitlines()),
        f"pilot cost: {t.requests:,.0f} model requests ({c.requests:,.0f} of them the rater's controls: at most "
        f"{CONTROL_PAIRS} per language, not scaled per document), {t.prompt_tokens:,.0f} "
        f"prompt + {t.completion_tokens:,.0f} "
        f"generated tokens; {pilot.pool} pairs kept before clustering = {pilot.keep_rate:.3f} per document read",
        f"per document read: {d.requests:.2f} requests, {d.prompt_tokens:,.0f} prompt + {d.completion_tokens:,.0f} "
        f"generated tokens, {d.seconds:.2f} s; work dir "
        f"{size_text((pilot.shard_bytes + pilot.embedding_bytes) / pilot.docs)} "
        f"+ request cache {size_text(pilot.cache_bytes / t.requests if t.requests else 0)} per request",
    ]


def requested_sizes(
    config: BuildConfig, pilot: Pilot, totals: dict[str, int | None]
) -> tuple[list[Size], list[str]]:
    """The sizes to project (by kept pairs, by documents) and a line for each that cannot be."""
    sizes, notes = [], []
    if config.project_kept:
        if pilot.pool:
            per_lang = pilot.docs_for_pool(config.project_kept)
            sizes.append(
                Size(
                    f"--project-kept {config.project_kept:,} pairs per language (at the pilot's "
                    f"{pilot.keep_rate:.3f} pairs per document)",
                    dict.fromkeys(config.langs, per_lang),
                )
            )
        else:
            notes.append(
                f"cannot project --project-kept {config.project_kept:,}: the pilot kept 0 pairs of its "
                f"{pilot.docs} documents (see its funnel above); raise --pilot-docs (e.g. "
                f"--pilot-docs {max(20, 4 * config.pilot_docs)}) so that some pairs are kept"
            )
    known = {lang: n for lang, n in totals.items() if n}
    if known:
        how = f"--max-docs {config.max_docs:,}" if config.max_docs else "counted"
        sizes.append(Size(f"the corpus's documents ({how})", known))
    unknown = [lang for lang, n in totals.items() if n is None]
    if unknown:
        notes.append(
            f"{', '.join(unknown)}: a streamed Hub corpus has no cheap row count; pass --max-docs N to "
            "project N documents per language"
        )
    empty = [lang for lang, n in totals.items() if n == 0]
    if empty:
        notes.append(
            f"{', '.join(empty)}: no texts in {config.corpus}; left out of the documents-based projection"
        )
    return sizes, notes

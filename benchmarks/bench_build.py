"""The embedded build, then the same command again (resume of a finished build).

    python benchmarks/bench_build.py                  # the README's default: 10 languages
    python benchmarks/bench_build.py --langs sw,hi --max-docs 2

Prints, for the first run: wall time, model calls, tokens, time inside model calls and the
share of wall time spent outside them; for the rerun: model calls and wall time as a ratio of
the first run. Model loading is timed apart (it is paid once per process, not per row).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from _build_args import build_parser

from builder.config import BuildConfig
from builder.engines import create_engine
from builder.pipeline.runner import build


def run(config: BuildConfig, engines: dict) -> tuple[float, dict]:
    start = time.perf_counter()
    result = build(config, engines=engines)
    return time.perf_counter() - start, result.build_info


def main() -> None:
    args = build_parser(__doc__).parse_args()

    start = time.perf_counter()
    engine = create_engine("auto", args.model)
    load = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        config = BuildConfig(
            langs=args.langs,
            max_docs=args.max_docs,
            model=args.model,
            work_dir=str(Path(tmp) / "work"),
            output_dir=str(Path(tmp) / "out"),
        )
        first_wall, first = run(config, {args.model: engine})
        model_s = first["engine_stats"]["wall_s"]
        calls_before = engine.stats.calls
        second_wall, second = run(config, {args.model: engine})
        rerun_calls = engine.stats.calls - calls_before
    stats = first["engine_stats"]
    docs = sum(f["rows_in"] for f in first["funnel"].values())
    kept = sum(f["rows_out"] for f in first["funnel"].values())
    print(f"model load: {load:.1f} s (once per process)")
    print(
        f"build: {len(config.langs)} languages, {docs} documents -> {kept} pairs in {first_wall:.1f} s; "
        f"{stats['calls']} model calls, {stats['prompt_tokens']} prompt + {stats['completion_tokens']} generated tokens"
    )
    print(
        f"  inside model calls {model_s:.1f} s; outside {first_wall - model_s:.1f} s = "
        f"{(first_wall - model_s) / first_wall:.1%} of wall time; stage times {first['timings']}"
    )
    print(
        f"rerun: {rerun_calls} model calls, {second_wall:.1f} s = {second_wall / first_wall:.1%} of the first run"
    )


if __name__ == "__main__":
    main()

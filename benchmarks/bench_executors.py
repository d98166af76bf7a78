"""The same build with each executor, side by side in one run, and Ray's start-up time.

    python benchmarks/bench_executors.py                    # embedded model, 10 languages
    python benchmarks/bench_executors.py --langs sw,fi --max-docs 4

Prints wall time per executor (local; --data-parallel 2; Ray Data on a local cluster) as a
ratio to the local one, the model calls each made, and whether their rows are identical. On a
2-core CPU no gain is expected: the figures show each executor's overhead. Ray start-up
(`ray.init` of a new local cluster) and its import are timed apart.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from _build_args import build_parser
from builder.config import BuildConfig
from builder.pipeline.runner import build


def run(tmp: Path, name: str, args, **executor) -> tuple[float, dict, list]:
    config = BuildConfig(langs=args.langs, max_docs=args.max_docs, model=args.model, engine="transformers",
                         work_dir=str(tmp / name / "work"), output_dir=str(tmp / name / "out"), **executor)
    start = time.perf_counter()
    result = build(config)
    wall = time.perf_counter() - start
    rows = sorted((r["lang"], r["id"], r["instruction"], r["dropped"]) for r in result.audit.to_list())
    return wall, result.build_info["engine_stats"], rows


def main() -> None:
    args = build_parser(__doc__).parse_args()

    start = time.perf_counter()
    import ray

    imported = time.perf_counter() - start
    start = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    started = time.perf_counter() - start
    print(f"ray: import {imported:.1f} s, ray.init of a local cluster {started:.1f} s ({os.cpu_count()} CPUs)")

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        results["local"] = run(tmp, "local", args)
        results["data-parallel 2"] = run(tmp, "dp2", args, data_parallel=2)
        results["ray"] = run(tmp, "ray", args, executor="ray")  # joins the cluster started above
    ray.shutdown()

    base_wall, _, base_rows = results["local"]
    print(f"{'executor':<16} {'wall s':>8} {'vs local':>9} {'model calls':>12} {'model s':>8}  rows equal to local")
    for name, (wall, stats, rows) in results.items():
        print(f"{name:<16} {wall:8.1f} {wall / base_wall:8.2f}x {stats['calls']:12d} {stats['wall_s']:8.1f}  {rows == base_rows}")


if __name__ == "__main__":
    main()

"""The same build with each executor, side by side in one run, and Ray's start-up time.

    python benchmarks/bench_executors.py                    # embedded model, 10 languages
    python benchmarks/bench_executors.py --langs sw,fi --max-docs 4
    python benchmarks/bench_executors.py --langs sw --max-docs 4 --shard-size 1   # shards for two nodes

Prints wall time per executor (local; --data-parallel 2; Ray Data on a local cluster; Ray Data
on a cluster of two nodes started with `ray start`, each with half the cores) as a ratio to the
local one, the model calls each made, the time of each model stage, and whether their rows are
identical; then, for the Ray runs, where each model stage's time went (build_info.json's
`ray.overhead`: actor start, model, cache and shard write, results back to the driver,
scheduling). On a 2-core CPU no gain is expected: the figures show each executor's overhead. Ray
start-up (`ray.init` of a new local cluster; the two `ray start`) and its import are timed apart.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _build_args import build_parser

from builder.config import BuildConfig
from builder.pipeline.runner import build


def run(tmp: Path, name: str, args, **executor) -> tuple[float, dict, list, dict, dict]:
    sharding = {"shard_size": args.shard_size} if args.shard_size else {}
    config = BuildConfig(
        langs=args.langs,
        max_docs=args.max_docs,
        model=args.model,
        engine="transformers",
        **sharding,
        work_dir=str(tmp / name / "work"),
        output_dir=str(tmp / name / "out"),
        **executor,
    )
    start = time.perf_counter()
    result = build(config)
    wall = time.perf_counter() - start
    # the audit table comes in parts, one per language
    rows = sorted(
        (r["lang"], r["id"], r["instruction"], r["dropped"])
        for part in result.audit
        for r in part.to_list()
    )
    info = result.build_info
    return (
        wall,
        info["engine_stats"],
        rows,
        info["timings"],
        info.get("ray", {}).get("overhead", {}),
    )


def two_nodes(tmp: Path, args) -> tuple[float, dict, list, dict, dict]:
    """The build on two `ray start` nodes of this machine (tests/_ray_cluster.py starts and stops them)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from _ray_cluster import RayCluster

    # short: Ray's socket paths are bounded
    cluster = RayCluster(Path(tempfile.mkdtemp(prefix="xi-ray-")))
    half = max(1, (os.cpu_count() or 2) // 2)
    try:
        start = time.perf_counter()
        cluster.start_node("node_a", half)
        cluster.start_node("node_b", half)
        print(
            f"ray: two `ray start` nodes up in {time.perf_counter() - start:.1f} s ({half} CPUs each)"
        )
        # The driver's side of the cluster's token authentication (README, "Scale-out"): Ray reads
        # it when imported, so this build runs in a fresh process that has it from the start.
        os.environ.update({k: cluster.env[k] for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN_PATH")})
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            return pool.apply(
                run,
                (tmp, "ray-2-nodes", args),
                dict(executor="ray", ray_address=cluster.address, ray_actors=2),
            )
    finally:
        for key in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN_PATH"):
            os.environ.pop(key, None)
        cluster.stop()
        shutil.rmtree(cluster.root, ignore_errors=True)


def main() -> None:
    parser = build_parser(__doc__)
    parser.add_argument(
        "--shard-size",
        type=int,
        default=None,
        help="texts per shard (the unit an executor hands out; default: the builder's)",
    )
    args = parser.parse_args()

    start = time.perf_counter()
    import ray

    imported = time.perf_counter() - start
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        results["local"] = run(tmp, "local", args)
        results["data-parallel 2"] = run(tmp, "dp2", args, data_parallel=2)
        results["ray, 2 nodes"] = two_nodes(tmp, args)
        start = time.perf_counter()
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
        started = time.perf_counter() - start
        print(
            f"ray: import {imported:.1f} s, ray.init of a local cluster {started:.1f} s ({os.cpu_count()} CPUs)"
        )
        results["ray"] = run(tmp, "ray", args, executor="ray")  # joins the cluster started above
    ray.shutdown()

    base_wall, _, base_rows, base_timings, _ = results["local"]
    print(
        f"{'executor':<16} {'wall s':>8} {'vs local':>9} {'model calls':>12} {'model s':>8} {'generate s':>11} "
        f"{'refine s':>9}  rows equal to local"
    )
    for name, (wall, stats, rows, timings, _) in results.items():
        print(
            f"{name:<16} {wall:8.1f} {wall / base_wall:8.2f}x {stats['calls']:12d} {stats['wall_s']:8.1f} "
            f"{timings.get('generate', 0):11.1f} {timings.get('refine', 0):9.1f}  {rows == base_rows}"
        )
    print_overhead(results, base_timings)


def print_overhead(results: dict, base_timings: dict) -> None:
    """Where each Ray run's model stages spent their time (build_info.json's ray.overhead, measured
    by the actors), beside the same stage's wall time with the local executor."""
    print(
        "\nRay's time per model stage: actor start (engine load, the longest of the stage's actors), the model, "
        "the rest of each shard's work in its actor (node's request cache, prompts, shard write), results "
        "from actor to driver (object store), and Ray Data's scheduling (the stage's wall time beyond its "
        "busiest actor)"
    )
    print(
        f"{'executor':<16} {'stage':<15} {'local s':>8} {'ray s':>7} {'extra s':>8} {'actors':>7} {'start s':>8} "
        f"{'model s':>8} {'cache+write s':>14} {'return s':>9} {'scheduling s':>13}"
    )
    for name, (*_, overhead) in results.items():
        for stage, spent in overhead.items():
            local = base_timings.get(stage, 0.0)
            print(
                f"{name:<16} {stage:<15} {local:8.1f} {spent['wall_s']:7.1f} {spent['wall_s'] - local:8.1f} "
                f"{spent['actors_started']:7d} {spent['actor_start_s']:8.1f} {spent['model_s']:8.1f} "
                f"{spent['cache_and_write_s']:14.1f} {spent['return_s']:9.2f} {spent['scheduling_s']:13.1f}"
            )


if __name__ == "__main__":
    main()

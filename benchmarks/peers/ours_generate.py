"""This project's generate stage alone on the job (runs in .venv; see _job.py): the `Generate`
block a build runs, over shards of the build's size, through the request cache and the openai
engine with the build's settings (engine defaults, a chunk of --batch-size x 4 prompts, as many
shards at once as the local executor maps). No prepare, refine or export: the stage and its
engine, as the build drives them."""

from __future__ import annotations

import contextlib
import os
import sys
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _job import MODEL, arguments, done, import_only, read_job

from builder.config import BuildConfig
from builder.engines import create_engine
from builder.engines.cache import CachedModel, RequestCache
from builder.executors.local import shard_lanes
from builder.executors.shards import engine_options
from builder.stages.plan import make_model_stage


def main() -> None:
    if import_only():
        return
    args = arguments()
    rows, _ = read_job(args.job)
    langs = sorted({r["lang"] for r in rows})
    # BENCH_SHARD: rows per shard (default: the build's); a chunk is then a quarter of it x 4 = a shard
    shard = (
        {
            "shard_size": int(os.environ["BENCH_SHARD"]),
            "batch_size": max(1, int(os.environ["BENCH_SHARD"]) // 4),
        }
        if os.environ.get("BENCH_SHARD")
        else {}
    )
    config = BuildConfig(
        langs=langs,
        engine="openai",
        base_url=args.base_url,
        model=MODEL,
        work_dir=str(args.work),
        **shard,
    )
    engine = create_engine("openai", MODEL, **engine_options(config))
    cache = RequestCache(args.work / "cache.sqlite")
    model = CachedModel(engine, cache, chunk_size=config.batch_size * 4)  # as StageWorker makes it
    shards = []
    for lang in langs:
        block = make_model_stage(config, "generate", lang, model)
        mine = [r for r in rows if r["lang"] == lang]
        shards += [
            (block, mine[s : s + config.shard_size]) for s in range(0, len(mine), config.shard_size)
        ]

    lanes = shard_lanes(engine, config)  # as many shards at once as the local executor maps

    def one(job) -> int:  # one shard = one call, as map_shard does
        block, shard = job
        # shards side by side draw no bars of their own, as StageWorker.run(bars=False)
        with model.without_bars() if lanes > 1 else contextlib.nullcontext():
            out = block(
                {
                    "id": [r["id"] for r in shard],
                    "text": [r["text"] for r in shard],
                    "dropped": [None] * len(shard),
                }
            )
        return sum(1 for c in out["candidates"] if c)

    with ThreadPoolExecutor(lanes) as pool:
        answered = sum(pool.map(one, shards))
    engine.close()
    cache.close()
    done(answered)


if __name__ == "__main__":
    main()

"""The request cache (builder/engines/cache.py) at scale: batched lookups per second and file size.

    python benchmarks/bench_cache.py                     # 100k and 1M entries
    python benchmarks/bench_cache.py --entries 100000 --batch 64,500

Fills a fresh cache with entries shaped like the builder's (a SHA-256 key, a Completion of
four ~80-character instructions), `put_many` 10k at a time, then times `get_many` over
random batches of existing keys (the pipeline looks up one chunk of prompts at a time) and
of keys that are not there (a cold build's lookups). Measurement only.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from builder.engines.base import Completion  # noqa: E402
from builder.engines.cache import RequestCache  # noqa: E402


def key(i: int) -> str:
    return hashlib.sha256(f"request {i}".encode()).hexdigest()


def value(i: int) -> dict:
    texts = [
        f"What does case {i} say about topic {k} and how should a reader understand it today?"
        for k in range(4)
    ]
    return Completion(texts, ["stop"] * 4, 180, 80).to_dict()


def fill(cache: RequestCache, entries: int, chunk: int = 10_000) -> float:
    start = time.perf_counter()
    for first in range(0, entries, chunk):
        cache.put_many({key(i): value(i) for i in range(first, min(entries, first + chunk))})
    return time.perf_counter() - start


def lookups(cache: RequestCache, keys: list[str], batch: int, total: int) -> float:
    """Keys per second over `total` keys looked up `batch` at a time."""
    start = time.perf_counter()
    for first in range(0, total, batch):
        found = cache.get_many(keys[first : first + batch])
        assert found is not None
    return total / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", default="100000,1000000")
    parser.add_argument("--batch", default="64,500", help="keys per get_many call")
    parser.add_argument(
        "--lookups", type=int, default=50_000, help="keys looked up per measurement"
    )
    args = parser.parse_args()
    rng = random.Random(0)
    for entries in (int(e) for e in args.entries.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "cache.sqlite"
            cache = RequestCache(path)
            filled = fill(cache, entries)
            cache.close()
            size = sum(os.path.getsize(p) for p in Path(tmp).iterdir()) / 2**20
            # reopened, as a rerun finds it (includes the integrity check)
            cache = RequestCache(path)
            hits = [key(rng.randrange(entries)) for _ in range(args.lookups)]
            misses = [key(entries + i) for i in range(args.lookups)]
            print(
                f"{entries} entries: filled in {filled:.1f} s ({entries / filled:,.0f} puts/s), "
                f"{size:.0f} MiB on disk"
            )
            for batch in (int(b) for b in args.batch.split(",")):
                print(
                    f"  get_many batch {batch}: hits {lookups(cache, hits, batch, args.lookups):,.0f} keys/s, "
                    f"misses {lookups(cache, misses, batch, args.lookups):,.0f} keys/s"
                )
            cache.close()


if __name__ == "__main__":
    main()

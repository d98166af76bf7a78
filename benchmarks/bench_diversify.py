"""Time and peak memory of diversify's clustering at the paper's scale.

    python benchmarks/bench_diversify.py                 # 100,000 vectors -> 32,000 clusters
    python benchmarks/bench_diversify.py --n 20000 --k 6400

Synthetic unit vectors (384-d, like all-MiniLM-L6-v2) drawn around random topic centres, so
the clusters are not trivially uniform. Embedding time is not included (it is the model's).
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from builder.stages.diversify import kmeans, pick_per_cluster


def synthetic(n: int, dim: int, topics: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(topics, dim)).astype(np.float32)
    vectors = centres[rng.integers(0, topics, size=n)] + 0.6 * rng.normal(size=(n, dim)).astype(
        np.float32
    )
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--k", type=int, default=32_000)
    parser.add_argument("--dim", type=int, default=384)
    args = parser.parse_args()

    vectors = synthetic(args.n, args.dim, topics=args.k // 4, seed=0)
    scores = np.random.default_rng(1).integers(1, 6, size=args.n).tolist()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    labels, centroids = kmeans(vectors, args.k, seed=0)
    clustered = time.perf_counter() - start
    kept = pick_per_cluster(labels, centroids, vectors, scores)
    total = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{args.n} vectors x {args.dim} -> k={args.k}: k-means {clustered:.1f} s, pick {total - clustered:.2f} s, "
        f"total {total:.1f} s; {len(np.unique(labels))} non-empty clusters, kept {len(kept)}; "
        f"peak RSS {peak:.0f} MiB (inputs loaded: {rss_before:.0f} MiB)"
    )


if __name__ == "__main__":
    main()

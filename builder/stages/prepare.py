"""prepare: clean web text, check its language and length, and remove duplicates.

A datatrove-style block: one `name`, the work in one method, no executor inside. It is a
callable for `Dataset.map(batched=True)`, and `process` takes one row at a time for streams:

    from builder.stages.prepare import Prepare, PrepareConfig, prepare_features

    # count_tokens: the generation model's tokenizer, e.g. an engine's `count_tokens`.
    block = Prepare("sw", PrepareConfig(), engine.count_tokens)
    kept = [out for row in rows if (out := block.process(row["text"], row.get("source")))["dropped"] is None]
    block.counts  # {"rows_in": ..., "kept": ..., "dropped": {"too_long": ..., ...}}

    # or, on a Dataset, in ONE process (the block holds the dedup state across batches).
    # `features=` types the columns up front: a first batch of dropped rows has only None
    # in `lid`, and `map` cannot guess a type from None.
    ds = ds.map(block, batched=True, features=prepare_features(ds.features), load_from_cache_file=False)

Every input row comes out, with `dropped` set to the reason it left the funnel (None when
kept), so the dataset card can show the funnel and users can audit or re-filter.

Checks, cheapest first, so the expensive ones (tokenizer, language ID, MinHash) only see
rows that survived the cheap ones (with `--prepare-workers`, the workers run language ID and
MinHash on every text that passed the checks needing no other row, a little extra work spread
over more cores; builder/pipeline/prepare_pool.py):
  empty -> boilerplate / too_short (characters) -> exact_duplicate -> garbled ->
  too_short / too_long (model tokens) -> wrong_language -> near_duplicate.
Duplicates are judged against KEPT rows only: a copy of a row dropped for its language is
dropped for its language again, so each reason describes the row itself.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
from collections import Counter
from collections.abc import Callable

import numpy as np
import pyarrow as pa
from datasets import Dataset, Features, Value

from ..core.schema import PREPARED, SOURCE
from ..corpus.cleaning import clean_text, dedup_key, garbled_reason
from ..corpus.meta_talk import meta_talk
from ..languages import get_language
from ..languages.lid import LIDResult, covers, detect, matches

logger = logging.getLogger(__name__)

DROP_REASONS = (
    "empty",
    "boilerplate",
    "too_short",
    "exact_duplicate",
    "garbled",
    "too_long",
    "wrong_language",
    "near_duplicate",
    "meta_talk",
)
OUTPUT_COLUMNS = tuple(PREPARED)
# Scripts written without spaces between words: word shingles would be whole phrases.
NO_SPACE_SCRIPTS = frozenset(
    {"Thai", "Laoo", "Khmr", "Mymr", "Hani", "Hans", "Hant", "Jpan", "Hira", "Kana", "Tibt"}
)
# No tokenizer averages more characters per token than this on natural text (English on
# SmolLM2 is ~5.5): a text longer than max_tokens * 32 characters is too long without
# spending tokenizer time on a 1 MB page.
MAX_CHARS_PER_TOKEN = 32


@dataclasses.dataclass
class PrepareConfig:
    """Bounds and thresholds of `prepare`. Token bounds count the generation model's tokens.

    The paper's responses average ~1,000-1,300 characters. On SmolLM2 that is ~200-250 tokens
    of English or Swahili but ~2,000 of Bengali, Tamil or Thai (~0.55 characters per token):
    raise `max_tokens` for those scripts if the model's context allows.
    """

    min_tokens: int = 24
    max_tokens: int = 768
    min_chars: int = 80
    lid_min_score: float = 0.5  # below it, a text detected as the right language is too mixed
    near_dup_threshold: float = 0.8  # estimated Jaccard similarity of shingle sets
    num_perm: int = 128
    shingle_words: int = 5
    shingle_chars: int = 5  # for scripts without spaces (Thai, Lao, Khmer, Myanmar, CJK)
    lid_chars: int = 1000  # language ID reads the start of the text: enough to decide, bounded cost
    minhash_seed: int = 1

    def __post_init__(self):
        if not 0 < self.min_tokens <= self.max_tokens:
            raise ValueError(
                f"need 0 < min_tokens <= max_tokens, got {self.min_tokens} and {self.max_tokens}"
            )
        if not 0.0 < self.near_dup_threshold < 1.0:
            raise ValueError(f"near_dup_threshold must be in (0, 1), got {self.near_dup_threshold}")
        if not 0.0 <= self.lid_min_score <= 1.0:
            raise ValueError(f"lid_min_score must be in [0, 1], got {self.lid_min_score}")
        if (
            self.num_perm < 16
            or self.shingle_words < 1
            or self.shingle_chars < 1
            or self.min_chars < 0
        ):
            raise ValueError("num_perm must be >= 16; shingle sizes >= 1; min_chars >= 0")


def prepare_features(input_features=None):
    """`datasets.Features` of the rows `Prepare` returns (pass as `map(..., features=)`): the
    stored schema, PREPARED. `map` keeps the input's other columns, so pass the input dataset's
    features to get them typed too: `prepare_features(ds.features)`."""
    return Features({**(input_features or {}), **PREPARED})


@functools.lru_cache(maxsize=1)
def _prepared_schema() -> pa.Schema:
    # What Dataset.from_dict(..., features=PREPARED) gives, its feature metadata included, so
    # the shards stay byte for byte what they were; made once.
    return Dataset.from_dict({name: [] for name in PREPARED}, features=PREPARED).data.table.schema


def prepare_table(out: dict[str, list]) -> pa.Table:
    """The Arrow table of `Prepare`'s output columns, typed by PREPARED, ready for a shard.
    Not a Dataset: `Dataset.from_dict` fingerprints the table it makes by pickling it whole,
    which cost prepare ~0.25 ms a row."""
    return pa.Table.from_pydict({name: out[name] for name in PREPARED}, schema=_prepared_schema())


@functools.cache
def _lsh_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """The bands and rows MinHashLSH chooses for this threshold: its choice integrates numerically
    over ~600 (bands, rows) pairs, ~80 ms, once per language otherwise."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    return lsh.b, lsh.r


def _band_digest(band: bytes) -> bytes:
    return hashlib.blake2b(band, digest_size=8).digest()


def row_id(lang: str, normalised: str) -> str:
    """Stable id: the same text in the same language gets the same id in every run."""
    return hashlib.sha256(f"{lang}\0{normalised}".encode()).hexdigest()[:16]


@functools.cache
def _say_if_uncovered(language) -> None:
    """Once per language: no installed detector can name it, so only its script is checked."""
    if not covers(language.code):
        logger.warning(
            "%s (%s): no installed language-ID model knows this language; prepare trusts the "
            "corpus's label and checks only that the text is in %s script",
            language.code,
            language.name,
            language.script,
        )


@dataclasses.dataclass
class TextChecks:
    """What prepare learns from one text alone, without any other row: cleaning, the checks
    that need no dedup state, language ID and the MinHash. Pure, so several processes can
    compute it (`check_texts`); `Prepare` then decides each row in corpus order, with the
    dedup state. The expensive parts (LID, MinHash) are left None for a text that fails a
    cheap check, and when `Prepare` checks texts itself (it computes them as rows need them)."""

    cleaned: str
    removed: int  # boilerplate characters cut
    key: str  # dedup_key(cleaned)
    id: str
    early: str | None = None  # empty / boilerplate / too_short (in characters)
    garbled: str | None = None  # garbled_reason
    meta_talk: bool = False
    too_long_chars: bool = False
    lid: LIDResult | None = None  # detect() on the start of the text
    hashvalues: np.ndarray | None = None  # the MinHash's values
    n_tokens: int | None = None  # the generation model's tokens, when counted ahead (a batch)

    @property
    def passed(self) -> bool:
        """Passed every check that needs no other row and no model (the cheap ones)."""
        return not (self.early or self.garbled or self.meta_talk or self.too_long_chars)


class TextChecker:
    """Computes `TextChecks` for one language and config (one set of MinHash permutations)."""

    def __init__(self, lang: str, config: PrepareConfig):
        from datasketch import MinHash

        self.language = get_language(lang)
        self.lang = self.language.code
        self.config = config
        self._char_shingles = self.language.script in NO_SPACE_SCRIPTS
        # datasketch's permutations for this seed (a, b: uint32 arrays), made once.
        a, b = MinHash(config.num_perm, seed=config.minhash_seed, scheme="affine32").permutations
        self._affine = (a.astype(np.uint32), b.astype(np.uint32))

    def check(self, text: str | None, *, expensive: bool = True) -> TextChecks:
        """`expensive=False` leaves LID and the MinHash to `Prepare`, which then computes them
        only for rows that pass its dedup and token checks (one process: no work wasted on
        duplicates); worker processes compute them for every text that passed the checks here."""
        cfg = self.config
        cleaned, removed = clean_text(text or "")
        key = dedup_key(cleaned)
        checks = TextChecks(cleaned, removed, key, row_id(self.lang, key))
        if not (text or "").strip():
            checks.early = "empty"
        elif len(cleaned) < cfg.min_chars or not key:
            # Long enough before the page chrome was cut: the chrome is why it is short.
            checks.early = (
                "boilerplate"
                if removed and len(cleaned) + removed >= cfg.min_chars
                else ("too_short" if cleaned else "empty")
            )
        if checks.early:
            return checks
        checks.garbled = garbled_reason(cleaned)
        if checks.garbled:
            return checks
        # a chat model talking about a request, not text
        checks.meta_talk = meta_talk(cleaned, self.lang)
        if checks.meta_talk:
            return checks
        checks.too_long_chars = len(cleaned) > cfg.max_tokens * MAX_CHARS_PER_TOKEN
        if checks.too_long_chars:
            return checks
        if expensive:
            checks.lid = self.lid(cleaned)
            checks.hashvalues = self.minhash_values(key)
        return checks

    def check_many(self, texts: list[str | None]) -> list[TextChecks]:
        """`check` of each text, the expensive parts one at a time over the whole batch (a
        worker's shard): the language-ID model and the hashing stay in the CPU's caches."""
        checks = [self.check(text, expensive=False) for text in texts]
        todo = [c for c in checks if c.passed]
        for c, lid in zip(todo, self.lid_many([c.cleaned for c in todo])):
            c.lid = lid
        for c, values in zip(todo, self.minhash_many([c.key for c in todo])):
            c.hashvalues = values
        return checks

    def lid(self, cleaned: str) -> LIDResult:
        return detect(cleaned[: self.config.lid_chars])

    def lid_many(self, cleaned: list[str]) -> list[LIDResult]:
        return [detect(text[: self.config.lid_chars]) for text in cleaned]

    def minhash_values(self, key: str) -> np.ndarray:
        return self.minhash_many([key])[0]

    def minhash_many(self, keys: list[str]) -> list[np.ndarray]:
        """datasketch's MinHash values (scheme affine32, SHA-1 of each shingle) of each key, the
        same numbers `MinHash.update_batch` gives, computed for the whole batch at once: one
        array operation instead of a few per text (tests/test_prepare_minhash.py checks them
        against datasketch's own)."""
        if not keys:
            return []
        shingles = [self._shingles(key) for key in keys]
        sha1 = hashlib.sha1
        digests = b"".join(sha1(g).digest()[:4] for grams in shingles for g in grams)
        hv = _fmix32(np.frombuffer(digests, dtype="<u4").astype(np.uint32))
        a, b = self._affine
        sizes = [len(grams) for grams in shingles]
        values: list[np.ndarray] = []
        first = start = 0
        # texts in chunks of ~MINHASH_CHUNK shingles: the products stay in the CPU's cache
        while first < len(keys):
            last, total = first + 1, sizes[first]
            while last < len(keys) and total + sizes[last] <= MINHASH_CHUNK:
                total += sizes[last]
                last += 1
            # uint32: the wraparound is the modulo 2^32
            permuted = hv[start : start + total, None] * a
            permuted += b
            values.extend(
                np.minimum.reduceat(permuted, np.cumsum([0] + sizes[first : last - 1]), axis=0)
            )
            first, start = last, start + total
        return values

    def _shingles(self, key: str) -> list[bytes]:
        if self._char_shingles:
            n = self.config.shingle_chars
            grams = {key[i : i + n] for i in range(max(1, len(key) - n + 1))}
        else:
            words, n = key.split(), self.config.shingle_words
            grams = {" ".join(words[i : i + n]) for i in range(max(1, len(words) - n + 1))}
        return [g.encode("utf-8") for g in grams]


# Shingles whose permuted values (num_perm x 4 bytes each: 2 MiB at 128) are reduced at once:
# small enough for the CPU's cache, and a bounded array whatever the shard size.
MINHASH_CHUNK = 4096
# The 32-bit MurmurHash3 finalizer that datasketch's "affine32" scheme applies to each input
# hash before its permutations (datasketch.minhash._fmix): shifts and multipliers.
_FMIX32 = (16, 0x85EBCA6B, 13, 0xC2B2AE35, 16)


def _fmix32(hv: np.ndarray) -> np.ndarray:
    s1, m1, s2, m2, s3 = _FMIX32
    hv = hv ^ (hv >> np.uint32(s1))
    hv = hv * np.uint32(m1)
    hv = hv ^ (hv >> np.uint32(s2))
    hv = hv * np.uint32(m2)
    return hv ^ (hv >> np.uint32(s3))


_CHECKERS: dict[tuple, TextChecker] = {}  # per worker process: one checker per language and config


def check_texts(lang: str, config: PrepareConfig, texts: list[str | None]) -> list[TextChecks]:
    """`TextChecks` of each text: what a prepare worker process runs (builder/pipeline/prepare_pool.py)."""
    key = (lang, dataclasses.astuple(config))
    checker = _CHECKERS.get(key) or _CHECKERS.setdefault(key, TextChecker(lang, config))
    return checker.check_many(texts)


class Prepare:
    """Batched `map` function: all input rows out, each with its `dropped` reason or None."""

    name = "prepare"
    input_features = Features({"text": Value("string"), "source": SOURCE})
    output_features = PREPARED

    def __init__(
        self,
        lang: str,
        config: PrepareConfig | None = None,
        count_tokens: Callable[[str], int] | None = None,
        count_tokens_many: Callable[[list[str]], list[int]] | None = None,
    ):
        """`count_tokens_many`: the same counts for a list of texts at once (an engine's
        `count_tokens_many`: one batch encode); without it, `count_tokens` counts one by one."""
        if count_tokens is None:
            raise TypeError(
                "Prepare needs count_tokens: the generation model's tokenizer, e.g. an engine's count_tokens"
            )
        from datasketch import MinHashLSH

        self.language = get_language(lang)
        self.lang = self.language.code
        self.config = config or PrepareConfig()
        self.count_tokens = count_tokens
        self.count_tokens_many = count_tokens_many or (
            lambda texts: [count_tokens(text) for text in texts]
        )
        cfg = self.config
        _say_if_uncovered(self.language)
        self.checker = TextChecker(self.lang, cfg)
        # The index is the one state that grows with the corpus (with its kept rows): storing
        # each band as an 8-byte digest instead of 13 raw 32-bit values saves ~15% of it.
        self._lsh = MinHashLSH(
            num_perm=cfg.num_perm,
            params=_lsh_bands(cfg.near_dup_threshold, cfg.num_perm),
            hashfunc=_band_digest,
        )
        self._rows_in = 0
        self._dropped: Counter[str] = Counter()
        self.garbled_kinds: Counter[str] = Counter()  # which defect the "garbled" rows had

    # --- the stats a funnel shows -------------------------------------------------------

    @property
    def counts(self) -> dict:
        """{"rows_in", "kept", "dropped": {reason: n}} over every row this block has seen."""
        dropped = {reason: self._dropped.get(reason, 0) for reason in DROP_REASONS}
        return {
            "rows_in": self._rows_in,
            "kept": self._rows_in - sum(dropped.values()),
            "dropped": dropped,
        }

    # --- the work -----------------------------------------------------------------------

    def __call__(
        self, batch: dict[str, list], checks: list[TextChecks] | None = None
    ) -> dict[str, list]:
        """All rows of `batch` out, in order. `checks`: the texts' `TextChecks`, when worker
        processes computed them already (else they are computed here)."""
        texts = batch["text"]
        sources = batch["source"] if "source" in batch else [None] * len(texts)
        if checks is None:
            checks = [self.checker.check(text, expensive=False) for text in texts]
        self._ahead(checks)
        out: dict[str, list] = {column: [] for column in OUTPUT_COLUMNS}
        for text_checks, source in zip(checks, sources):
            for column, value in self.decide(text_checks, source).items():
                out[column].append(value)
        return out

    def _ahead(self, checks: list[TextChecks]) -> None:
        """Token counts, language ID and MinHash for the whole batch before the ordered decision,
        one part at a time: each part's tables stay in the CPU's caches (parts taking turns per
        row cost ~2x), and the tokenizer encodes the batch in one call. Only for rows that may
        reach the part: not a copy of a row kept in an earlier batch, inside the token bounds,
        in the right language. A copy of a row earlier in the same batch is counted in vain
        (`decide` drops it first); `decide` reads only what the row reaches, so the rows are
        the same as deciding row by row."""
        cfg = self.config
        todo = [c for c in checks if c.passed and c.n_tokens is None and c.id not in self._lsh]
        for c, n in zip(todo, self.count_tokens_many([c.cleaned for c in todo])):
            c.n_tokens = int(n)
        todo = [c for c in todo if cfg.min_tokens <= c.n_tokens <= cfg.max_tokens]
        need = [c for c in todo if c.lid is None]
        for c, lid in zip(need, self.checker.lid_many([c.cleaned for c in need])):
            c.lid = lid
        need = [c for c in todo if c.hashvalues is None and not self._wrong_language({}, c.lid)]
        for c, values in zip(need, self.checker.minhash_many([c.key for c in need])):
            c.hashvalues = values

    def process(self, text: str | None, source: dict | None = None) -> dict:
        """One row in, one row out (see OUTPUT_COLUMNS); updates the counts and dedup state."""
        return self.decide(self.checker.check(text, expensive=False), source)

    def decide(self, checks: TextChecks, source: dict | None = None) -> dict:
        """The row for one text's `TextChecks`, judged against the rows kept before it (rows
        must come in corpus order); updates the counts and dedup state."""
        self._rows_in += 1
        row = {
            "id": checks.id,
            "lang": self.lang,
            "text": checks.cleaned,
            "source": source,
            "lid": None,
            "n_tokens": None,
            "dropped": None,
        }
        row["dropped"] = self._check(row, checks)
        if row["dropped"] is not None:
            self._dropped[row["dropped"]] += 1
        return row

    def _check(self, row: dict, checks: TextChecks) -> str | None:
        from datasketch import LeanMinHash

        cfg = self.config
        if checks.early:
            return checks.early
        # the index's keys are the ids of kept rows: exact dedup for free
        if row["id"] in self._lsh:
            return "exact_duplicate"
        if checks.garbled:
            self.garbled_kinds[checks.garbled] += 1
            return "garbled"
        if checks.meta_talk:
            return "meta_talk"
        if checks.too_long_chars:
            return "too_long"
        if checks.n_tokens is None:
            checks.n_tokens = int(self.count_tokens(checks.cleaned))
        row["n_tokens"] = n_tokens = checks.n_tokens
        if n_tokens < cfg.min_tokens:
            return "too_short"
        if n_tokens > cfg.max_tokens:
            return "too_long"
        lid = checks.lid if checks.lid is not None else self.checker.lid(checks.cleaned)
        if self._wrong_language(row, lid):
            return "wrong_language"
        hashvalues = (
            checks.hashvalues
            if checks.hashvalues is not None
            else self.checker.minhash_values(checks.key)
        )
        minhash = LeanMinHash(seed=cfg.minhash_seed, hashvalues=hashvalues, scheme="affine32")
        if self._lsh.query(minhash):
            return "near_duplicate"
        self._lsh.insert(row["id"], minhash, check_duplication=False)  # exact dedup ran above
        return None

    def _wrong_language(self, row: dict, result: LIDResult) -> bool:
        row["lid"] = result.to_dict()
        verdict = matches(result, self.lang)
        # too short to tell: never drop on it (notes: short texts are unreliable)
        if verdict is None:
            return False
        if verdict is False:
            return True
        # Detected as this language but with a low probability: a page mixing languages.
        return (
            result.reliable
            and result.lang in self.language.lid_codes
            and result.score < self.config.lid_min_score
        )

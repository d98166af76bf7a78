"""Throughput of the CPU smoke recipe, launched exactly as a user launches it.

    python benchmarks/bench_sft.py [--steps 10] [--threads 2] [--model PATH]

Runs `accelerate launch --cpu trl_scripts/sft.py --config trl_scripts/configs/sft_cpu_smoke.yaml`
on a small generated X-Instruction export, once without and once with packing, side by side in
one run, and prints for each: time to the first logged step (process start, imports, data and
model set-up, one step), optimizer steps/s and training tokens/s (TRL's `num_tokens` over
`train_runtime`), and the packed/unpacked ratios. Default model: a tiny random Llama with the
SmolLM2 tokenizer (the unit tests' model); `--model smollm2-135m` uses the embedded SmolLM2.
The evaluation and language check are off so that only training is timed.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

_LOG = re.compile(r"\{'[a-z_/]+': [^{}]*\}")


def tiny_model(folder: Path) -> str:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from builder.engines.models import embedded_model_dir

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(embedded_model_dir())
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def import_seconds() -> float:
    """Wall time of the imports sft.py needs, in a fresh interpreter (part of time to first step)."""
    code = (
        "import trl, transformers, peft, datasets, accelerate; "
        "import builder.training.run, builder.training.sft_data"
    )
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    return time.perf_counter() - start


def run(model: str, export: str, out: str, steps: int, packing: bool, threads: int) -> dict:
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--cpu",
        "--num_processes",
        "1",
        "--num_cpu_threads_per_process",
        str(threads),
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        str(ROOT / "trl_scripts" / "sft.py"),
        "--config",
        str(ROOT / "trl_scripts/configs/sft_cpu_smoke.yaml"),
        "--model_name_or_path",
        model,
        "--dataset_name",
        export,
        "--output_dir",
        out,
        "--max_steps",
        str(steps),
        "--eval_strategy",
        "no",
        "--save_strategy",
        "no",
        "--language_check_steps",
        "0",
        "--packing",
        str(packing).lower(),
        "--disable_tqdm",
        "true",
    ]
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    start = time.perf_counter()
    first_step, logs, tail = None, [], []
    with subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    ) as process:
        for line in process.stdout:
            tail = (tail + [line])[-40:]
            for match in _LOG.findall(line):
                entry = {k: float(v) for k, v in ast.literal_eval(match).items()}
                if "loss" in entry and first_step is None:
                    first_step = time.perf_counter() - start
                logs.append(entry)
    if process.returncode != 0:
        raise SystemExit(f"training failed ({process.returncode}):\n{''.join(tail)}")
    final = next(entry for entry in reversed(logs) if "train_runtime" in entry)
    tokens = max(entry["num_tokens"] for entry in logs if "num_tokens" in entry)
    return {
        "first_step_s": first_step,
        "wall_s": time.perf_counter() - start,
        "train_s": final["train_runtime"],
        "steps_per_s": steps / final["train_runtime"],
        "tokens_per_s": tokens / final["train_runtime"],
        "tokens": tokens,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument(
        "--threads",
        type=int,
        default=2,
        help="torch threads (accelerate's --num_cpu_threads_per_process; it picks 2 here by default)",
    )
    parser.add_argument(
        "--model",
        default=None,
        help="model folder or 'smollm2-135m' (default: a tiny random Llama)",
    )
    options = parser.parse_args()

    from _trl_helpers import write_export

    from builder.engines.models import resolve_model

    with tempfile.TemporaryDirectory(prefix="bench-sft-") as tmp:
        tmp = Path(tmp)
        model = resolve_model(options.model) if options.model else tiny_model(tmp / "tiny")
        export = str(write_export(tmp / "export", {"sw": 64, "bn": 32, "fi": 32}))
        imports = import_seconds()
        results = {}
        for packing in (False, True):
            results[packing] = run(
                model, export, str(tmp / f"out-{packing}"), options.steps, packing, options.threads
            )

    print(
        f"\nCPU smoke recipe, {options.steps} steps, model {options.model or 'tiny random Llama (3.2M)'}, "
        f"{options.threads} threads, {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f})"
    )
    print(
        f"{'':<12}{'first step s':>14}{'wall s':>10}{'train s':>10}{'steps/s':>10}{'tokens/s':>11}{'tokens':>9}"
    )
    for packing, r in results.items():
        print(
            f"{'packing' if packing else 'no packing':<12}{r['first_step_s']:>14.1f}{r['wall_s']:>10.1f}"
            f"{r['train_s']:>10.1f}{r['steps_per_s']:>10.2f}{r['tokens_per_s']:>11.0f}{r['tokens']:>9.0f}"
        )
    print(f"imports alone (fresh interpreter): {imports:.1f} s of the time to first step")
    base, packed = results[False], results[True]
    print(
        f"packing / no packing: tokens/s x{packed['tokens_per_s'] / base['tokens_per_s']:.2f}, "
        f"steps/s x{packed['steps_per_s'] / base['steps_per_s']:.2f}, "
        f"tokens per step x{(packed['tokens'] / base['tokens']):.2f}"
    )


if __name__ == "__main__":
    main()

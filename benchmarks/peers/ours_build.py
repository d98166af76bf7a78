"""This project's whole build on the job's corpus (runs in .venv; see _job.py):
`x-instruction build --engine openai --base-url URL` as a user runs it (prepare, generate,
refine, the rater's controls, relevance, select, diversify, export), with the two embedding
models replaced by hashed vectors that cost nothing (bench_throughput.py's `free` encoders): the
peers embed nothing, so this compares the pipeline's own work. `--min-relevance 0`: the stub's
canned questions are unrelated to their texts by construction."""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
from _job import MODEL, arguments, done, import_only
from bench_throughput import use_free_embedder, use_free_encoder

from builder.cli import main as cli


def shard_flags() -> list[str]:
    """BENCH_SHARD: rows per shard, with a request chunk (--batch-size x 4) of the same size."""
    shard = os.environ.get("BENCH_SHARD")
    return ["--shard-size", shard, "--batch-size", str(max(1, int(shard) // 4))] if shard else []


def main() -> None:
    if import_only():
        return
    args = arguments()
    langs = sorted(p.stem for p in (args.job / "corpus").glob("*.jsonl"))
    use_free_encoder()
    use_free_embedder()
    code = cli(
        [
            "build",
            "--corpus",
            str(args.job / "corpus"),
            "--langs",
            ",".join(langs),
            "--engine",
            "openai",
            "--base-url",
            args.base_url,
            "--model",
            MODEL,
            "--min-relevance",
            "0",
            "--relevance-encoder",
            "free",
            "--embedder",
            "free",
            "--work-dir",
            str(args.work / "work"),
            "--output-dir",
            str(args.work / "out"),
            "--overwrite",
        ]
        + shard_flags()
    )
    if code:
        sys.exit(code)
    done(-1)  # rows are counted by the server's requests, not here


if __name__ == "__main__":
    main()

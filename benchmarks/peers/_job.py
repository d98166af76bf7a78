"""What every peer runner shares: the job folder bench_peers.py writes, and the runner's contract.

A job folder holds `job.jsonl` (one request a line: id, lang, text and the chat `messages` that
this project's generate stage sends for that text), `params.json` (max_tokens, n, temperature,
top_p: the generate stage's sampling) and `corpus/{lang}.jsonl` (the same texts, for a build).
A runner reads it, sends the requests its own way to `--base-url`, keeps its cache in `--work`,
and prints one JSON line `{"rows": N}` (the answers it got) when it finishes. With
BENCH_IMPORT_ONLY=1 it only imports its tool and exits: bench_peers.py measures that start-up
cost apart from the per-request cost.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

MODEL = "smollm2-135m"  # the name the stub is asked for: it answers any name
API_KEY = "sk-stub"  # the stub checks no key; the clients insist on one


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--job", required=True, type=Path)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--work", required=True, type=Path)
    return parser.parse_args()


def import_only() -> bool:
    return os.environ.get("BENCH_IMPORT_ONLY") == "1"


def read_job(job: Path) -> tuple[list[dict], dict]:
    rows = [
        json.loads(line) for line in (job / "job.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    return rows, json.loads((job / "params.json").read_text())


def done(rows: int) -> None:
    print(json.dumps({"rows": rows}), flush=True)
    sys.stdout.flush()

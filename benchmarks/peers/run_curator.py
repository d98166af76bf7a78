"""Bespoke Curator on the job (runs in .venv-peers; see _job.py): `curator.LLM` with the openai
backend pointed at the stub, its rate limits raised far above what the stub can serve, up to
512 requests in flight (max_concurrent_requests), and its cache on (a working_dir kept between
runs: a finished run is read back, a killed one resumes from the responses it wrote)."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _job import API_KEY, MODEL, arguments, done, import_only, read_job
from bespokelabs import curator

CONCURRENCY = 512  # the best measured setting; well above any server cap used here


class Backward(curator.LLM):
    def prompt(self, row):
        return row["messages"]  # the generate stage's chat, as it is

    def parse(self, row, response):
        return {"id": row["id"], "instruction": response}


def main() -> None:
    if import_only():
        return
    args = arguments()
    rows, params = read_job(args.job)
    llm = Backward(
        model_name=MODEL,
        backend="openai",
        generation_params={
            "max_tokens": params["max_tokens"],
            "n": params["n"],
            "temperature": params["temperature"],
            "top_p": params["top_p"],
        },
        backend_params={
            "base_url": args.base_url,
            "api_key": API_KEY,
            "max_requests_per_minute": 10_000_000,
            "max_tokens_per_minute": 10_000_000_000,
            "max_concurrent_requests": CONCURRENCY,
            "max_retries": 3,
            "request_timeout": 120,
        },
    )
    out = llm(rows, working_dir=str(args.work))
    done(len(out.dataset) if hasattr(out, "dataset") else len(out))


if __name__ == "__main__":
    main()

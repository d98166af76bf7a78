"""distilabel on the job (runs in .venv-peers; see _job.py): `ChatGeneration` (TextGeneration's
chat form, so it sends the generate stage's few-shot chat as it is) on `OpenAILLM` pointed at the
stub, `num_generations` = n (one request with n choices, as ours), batches of 256 rows (the
issue's best measured setting: each batch is sent at once and awaited), its pipeline cache on."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _job import API_KEY, MODEL, arguments, done, import_only, read_job
from distilabel.models import OpenAILLM
from distilabel.pipeline import Pipeline
from distilabel.steps import LoadDataFromDicts
from distilabel.steps.tasks import ChatGeneration

BATCH = int(os.environ.get("BENCH_DISTILABEL_BATCH", "256"))


def main() -> None:
    if import_only():
        return
    args = arguments()
    rows, params = read_job(args.job)
    data = [{"id": r["id"], "messages": r["messages"]} for r in rows]
    with Pipeline(name="x-instruction-peers", cache_dir=str(args.work)) as pipeline:
        load = LoadDataFromDicts(data=data, batch_size=BATCH)
        generate = ChatGeneration(
            llm=OpenAILLM(
                model=MODEL,
                base_url=args.base_url,
                api_key=API_KEY,
                max_retries=3,
                timeout=120,
                generation_kwargs={
                    "max_new_tokens": params["max_tokens"],
                    "temperature": params["temperature"],
                    "top_p": params["top_p"],
                },
            ),
            num_generations=params["n"],
            group_generations=True,
            input_batch_size=BATCH,
        )
        load >> generate
    distiset = pipeline.run(use_cache=True)
    done(sum(len(split) for config in distiset.values() for split in config.values()))


if __name__ == "__main__":
    main()

"""Judge throughput: batched judging versus one call at a time, side by side in one run.

Every question gets two answers from the embedded SmolLM2 (system A greedy, system B sampled),
then every pair is judged in both orders, in batches (the harness's default) and one request
per call. The two modes are interleaved block by block (a block of --block requests in one
call, as the harness sends them, then the same block one at a time), so both see the same
machine load; on a shared CPU a run of one mode after the other mostly measures the
neighbours. Answers are cached under --work-dir so a rerun measures the judge only;
judgements are never cached here.

    python benchmarks/bench_judge.py                        # Vicuna-80 from ../shared/data, sw
    python benchmarks/bench_judge.py --limit 8              # a quick look
    python benchmarks/bench_judge.py --questions embedded --lang fi --batch-size 32

Prints wall time, judge requests, batches and tokens for each mode, their ratio, how many
judgements the two modes agree on, and the (weak) embedded judge's win/tie/loss and invalid
counts.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from builder.engines import SamplingParams, create_engine  # noqa: E402
from builder.engines.cache import RequestCache, cached_generate  # noqa: E402
from builder.judge.aggregate import pairwise_summary  # noqa: E402
from builder.judge.judging import judge_params, pair_prompts, run_judge  # noqa: E402
from builder.judge.questions import load_questions  # noqa: E402
from builder.prompts import ANSWER, answer_prompt  # noqa: E402

VICUNA = Path(__file__).resolve().parents[2] / "shared" / "data" / "vicuna_bench" / "question.jsonl"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--questions", default=str(VICUNA) if VICUNA.is_file() else "embedded")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--lang", default="sw")
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument(
        "--batch-size", type=int, default=16, help="rows per forward batch of the engine"
    )
    parser.add_argument(
        "--block",
        type=int,
        default=64,
        help="judge requests per call in batched mode (the harness's --judge-batch-size); "
        "each block is also timed one request at a time",
    )
    parser.add_argument("--answer-max-tokens", type=int, default=48)
    parser.add_argument("--judge-format", default="scores")
    parser.add_argument(
        "--judge-max-tokens", type=int, default=None, help="default: the harness's (64 for scores)"
    )
    parser.add_argument("--work-dir", default="/tmp/x-instruction-bench-judge")
    return parser.parse_args()


def answers(engine, questions, lang, params, cache) -> list[str]:
    prompts = [[{"role": "user", "content": answer_prompt(q.text, lang)}] for q in questions]
    return [
        c.text for c in cached_generate(engine, prompts, params, cache, ANSWER.hash, desc="answers")
    ]


def judge_timed(engine, prompts, fmt, params, batch_size: int, totals: dict) -> list:
    """Judge `prompts` (no cache), adding wall time, requests and tokens to `totals`."""
    before = dataclasses.replace(engine.stats)
    start = time.perf_counter()
    outputs = run_judge(
        engine, prompts, fmt, prefill=True, params=params, cache=None, batch_size=batch_size
    )
    totals["wall_s"] += time.perf_counter() - start
    totals["requests"] += engine.stats.calls - before.calls
    totals["batches"] += -(-len(prompts) // min(batch_size, engine.batch_size))
    totals["prompt_tokens"] += engine.stats.prompt_tokens - before.prompt_tokens
    totals["completion_tokens"] += engine.stats.completion_tokens - before.completion_tokens
    return outputs


def main() -> None:
    args = parse_args()
    questions = load_questions(args.questions, limit=args.limit)
    os.makedirs(args.work_dir, exist_ok=True)
    cache = RequestCache(Path(args.work_dir) / "answers.sqlite")
    engine = create_engine("transformers", args.model, batch_size=args.batch_size)
    greedy = SamplingParams(max_new_tokens=args.answer_max_tokens, temperature=0.0)
    sampled = SamplingParams(max_new_tokens=args.answer_max_tokens, temperature=0.8, seed=1)
    answers_a = answers(engine, questions, args.lang, greedy, cache)
    answers_b = answers(engine, questions, args.lang, sampled, cache)
    ab, ba = pair_prompts(
        [q.text for q in questions],
        answers_a,
        answers_b,
        [args.lang] * len(questions),
        args.judge_format,
        prefill=True,
    )
    prompts = ab + ba
    params = judge_params(args.judge_format, args.judge_max_tokens)
    print(
        f"{len(questions)} questions x 2 orders = {len(prompts)} judge requests; model {engine.model_id}; "
        f"judge max tokens {params.max_new_tokens}; CPU threads {os.cpu_count()}",
        flush=True,
    )

    modes = {
        name: {
            "wall_s": 0.0,
            "requests": 0,
            "batches": 0,
            "prompt_tokens": 0,
            "completion_tokens": 0,
        }
        for name in ("batched", "single")
    }
    batched, single = [], []
    blocks = range(0, len(prompts), args.block)
    for number, start in enumerate(blocks, 1):
        block = prompts[start : start + args.block]
        batched += judge_timed(
            engine, block, args.judge_format, params, len(block), modes["batched"]
        )
        single += judge_timed(engine, block, args.judge_format, params, 1, modes["single"])
        print(
            f"block {number}/{len(blocks)}: batched {modes['batched']['wall_s']:.0f} s, "
            f"one at a time {modes['single']['wall_s']:.0f} s so far",
            flush=True,
        )

    print(
        f"{'mode':<28}{'wall s':>9}{'requests':>10}{'batches':>9}{'prompt tok':>12}{'compl tok':>11}{'req/s':>8}"
    )
    for name, label in (
        ("batched", f"batched ({args.block}/call, {args.batch_size}/batch)"),
        ("single", "one at a time"),
    ):
        m = modes[name]
        print(
            f"{label:<28}{m['wall_s']:>9.1f}{m['requests']:>10}{m['batches']:>9}{m['prompt_tokens']:>12}"
            f"{m['completion_tokens']:>11}{m['requests'] / m['wall_s']:>8.3f}"
        )
    print(
        f"speed-up, batched vs one at a time: {modes['single']['wall_s'] / modes['batched']['wall_s']:.2f}x"
    )
    same = sum(a.text == b.text for a, b in zip(batched, single))
    print(f"identical judgements in both modes: {same}/{len(prompts)}")
    n = len(questions)
    summary = pairwise_summary(
        [o.text for o in batched[:n]],
        [o.text for o in batched[n:]],
        args.judge_format,
        finish_reasons=[o.finish_reason for o in batched[:n]],
        finish_reasons_swapped=[o.finish_reason for o in batched[n:]],
    )
    print(
        f"embedded judge: {summary['valid_pairs']}/{summary['pairs']} valid pairs, "
        f"{summary['invalid_judgements']}/{summary['judgements']} invalid judgements {summary['invalid_by_status']}; "
        f"win {summary['win_rate']} tie {summary['tie_rate']} loss {summary['loss_rate']}"
    )


if __name__ == "__main__":
    main()

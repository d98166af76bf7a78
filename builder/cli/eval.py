"""`x-instruction eval`: the judge harness on the command line.

    # offline smoke test: embedded model answers, judges and gives the reference (not a result)
    x-instruction eval --langs sw --reference-model smollm2-135m

    # MT-Bench (two turns, FastChat's question.jsonl): each turn answered and judged in its conversation
    x-instruction eval --langs sw --questions mt_bench/question.jsonl --limit 4 --reference-model smollm2-135m

    # the paper's setup: your model against an OpenAI-compatible reference, judged by a strong model
    x-instruction eval --langs sw,bn --model ./my-sft-model --questions vicuna_bench/question.jsonl \\
        --reference-model gpt-4o-mini --reference-engine openai \\
        --judge-model Qwen/Qwen2.5-72B-Instruct --judge-engine openai --judge-base-url http://127.0.0.1:8000/v1

Also runnable without the main CLI as `python -m builder.judge ...`. The flags are EvalConfig's
fields (builder/judge/config.py); `--config eval.yaml` gives them from a YAML file.
"""

from __future__ import annotations

import argparse
import logging

from ..errors import guard
from ..judge.config import EvalConfig
from ..judge.harness import Harness
from . import options


def add_eval_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """One flag per EvalConfig field (builder/cli/options.py), listed under its group."""
    return options.add_config_arguments(parser, EvalConfig)


def config_from_args(args: argparse.Namespace) -> EvalConfig:
    return options.config_from_args(EvalConfig, args)


def run_eval(args: argparse.Namespace) -> int:
    """Run the harness from parsed arguments; prints the summary table and the report paths.
    What it raises is reported by errors.guard, as for every command: exit 2 for bad input,
    1 for a failure of the run's environment (a server that cannot be reached, the network)."""
    report = Harness(config_from_args(args).harness_config()).run()
    by_turn = report.get("by_turn", {})
    # multi-turn sets get a turn column: "all" (pooled), then each turn
    turn_column = f"{'turn':<6}" if by_turn else ""
    print(
        f"{'lang':<6}{'setting':<8}{turn_column}{'win':>7}{'tie':>7}{'loss':>7}{'score':>8}  "
        "valid  invalid  in-language"
    )
    for lang, settings in report["results"].items():
        for setting, summary in settings.items():
            print(
                _summary_row(
                    f"{lang:<6}{setting:<8}{'all':<6}" if by_turn else f"{lang:<6}{setting:<8}",
                    summary,
                )
            )
            for turn, s in by_turn.get(lang, {}).get(setting, {}).items():
                print(_summary_row(f"{lang:<6}{setting:<8}{turn:<6}", s))
    judge = report["cost"].get("judge", {})
    print(
        f"judge: {judge.get('requests', 0)} requests, {judge.get('calls', 0)} sent, {judge.get('reused', 0)} reused, "
        f"{judge.get('wall_s', 0)} s"
    )
    for turn, roles in report.get("cost_by_turn", {}).items():
        records = sum(
            parts[turn]["pairs"]
            for settings in by_turn.values()
            for parts in settings.values()
            if turn in parts
        )
        requests = ", ".join(
            f"{role} {cost['requests']} ({cost['calls']} sent)" for role, cost in roles.items()
        )
        print(f"turn {turn}: {records} records; requests: {requests}")
    print(f"report: {report['files']['markdown']} (+ report.json, records.jsonl, plots/)")
    return 0


def _summary_row(label: str, s: dict) -> str:
    cells = [
        f"{100 * s[k]:6.1f}%" if s[k] is not None else "    n/a"
        for k in ("win_rate", "tie_rate", "loss_rate", "score")
    ]
    fidelity = s["fidelity_a"]["fidelity"]
    return (
        f"{label}{''.join(cells)}  {s['valid_pairs']:>5}  {s['invalid_judgements']:>7}  "
        f"{'n/a' if fidelity is None else f'{100 * fidelity:.1f}%':>11}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="x-instruction eval", description="Pairwise LLM-judge evaluation against a reference."
    )
    add_eval_arguments(parser)
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show the traceback of an error"
    )
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parser.parse_args(argv)
    return guard("x-instruction eval", lambda: run_eval(args), verbose=args.verbose)

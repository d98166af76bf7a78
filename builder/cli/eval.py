"""`x-instruction eval`: the judge harness on the command line.

    # offline smoke test: embedded model answers, judges and gives the reference (not a result)
    x-instruction eval --langs sw --reference-model smollm2-135m

    # MT-Bench (two turns, FastChat's question.jsonl): each turn answered and judged in its conversation
    x-instruction eval --langs sw --questions mt_bench/question.jsonl --limit 4 --reference-model smollm2-135m

    # the paper's setup: your model against an OpenAI-compatible reference, judged by a strong model
    x-instruction eval --langs sw,bn --model ./my-sft-model --questions vicuna_bench/question.jsonl \\
        --reference-model gpt-4o-mini --reference-engine openai \\
        --judge-model Qwen/Qwen2.5-72B-Instruct --judge-engine openai --judge-base-url http://127.0.0.1:8000/v1

Also runnable without the main CLI as `python -m builder.judge ...`.
"""

from __future__ import annotations

import argparse
import logging
import sys

import httpx

from ..engines import EngineError
from ..errors import guard, one_line
from ..judge.aggregate import PARTIAL, RULES
from ..judge.harness import EngineSpec, EvalConfig, Harness
from ..judge.prompts import FORMATS
from ..judge.questions import EMBEDDED
from ..redact import redact

ENGINE_CHOICES = ("auto", "transformers", "vllm", "openai")
ENGINE_HELP = "auto (default): openai when a base URL is given, else vllm with a GPU, else transformers"
# Failures of the run's environment rather than of this code: reported as one line, exit code 2.
# (OSError covers a model folder or Hub id that cannot be read offline, and network errors.)
RUN_ERRORS = (ValueError, FileNotFoundError, EngineError, httpx.HTTPError, OSError)


def add_eval_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    what = parser.add_argument_group("what to evaluate")
    what.add_argument("--langs", required=True, help="target languages: 'sw,bn' or 'all' (the paper's ten)")
    what.add_argument("--settings", default="en,native",
                      help="en: English question; native: target-language question (zero-shot). Default: both")
    what.add_argument("--questions", default=EMBEDDED,
                      help="'embedded' (27 demo questions), a FastChat-style .jsonl, a dataset folder or a Hub dataset id")
    what.add_argument("--questions-split", default="train", help="split, for a dataset folder or Hub id")
    what.add_argument("--questions-config", default=None, help="config name, for a Hub dataset")
    what.add_argument("--native-questions", default=None,
                      help="target-language questions file ({lang} is filled in); default: translate with an engine")
    what.add_argument("--limit", type=int, default=None, help="only the first N questions (all their turns)")

    model = parser.add_argument_group("the model under test (system A)")
    model.add_argument("--model", default="smollm2-135m", help="embedded alias, Hub id, local folder, or served name")
    model.add_argument("--engine", default="auto", choices=ENGINE_CHOICES, help=ENGINE_HELP)
    model.add_argument("--base-url", default=None, help="for --engine openai")
    model.add_argument("--samples", type=int, default=1, help="answers per question; each is judged (needs --temperature > 0)")
    model.add_argument("--temperature", type=float, default=0.0)
    model.add_argument("--answer-max-tokens", type=int, default=512)
    model.add_argument("--seed", type=int, default=0, help="sampling and bootstrap seed")
    model.add_argument("--batch-size", type=int, default=16, help="prompts per batch for local engines")
    model.add_argument("--concurrency", type=int, default=8, help="requests in flight for openai engines")

    ref = parser.add_argument_group("the reference (system B)")
    ref.add_argument("--reference-answers", default=None,
                     help="answers file ({lang} and {setting} are filled in): question_id + answer/output/text, "
                          "or FastChat choices (one answer per turn)")
    ref.add_argument("--reference-model", default=None, help="generate reference answers with this model instead")
    ref.add_argument("--reference-engine", default="auto", choices=ENGINE_CHOICES, help=ENGINE_HELP)
    ref.add_argument("--reference-base-url", default=None, help="OpenAI-compatible endpoint of the reference model")
    ref.add_argument("--translate-model", default=None,
                     help="model that translates questions for the native setting (default: the reference model, else --model)")
    ref.add_argument("--translate-engine", default="auto", choices=ENGINE_CHOICES, help=ENGINE_HELP)
    ref.add_argument("--translate-base-url", default=None)

    judge = parser.add_argument_group("the judge")
    judge.add_argument("--judge-model", default=None, help="default: --model judges itself (a smoke test only)")
    judge.add_argument("--judge-engine", default="auto", choices=ENGINE_CHOICES, help=ENGINE_HELP)
    judge.add_argument("--judge-base-url", default=None, help="e.g. http://127.0.0.1:8000/v1 for a local vLLM server")
    judge.add_argument("--judge-format", default="scores", choices=FORMATS,
                       help="scores: the paper's 0-10 <score1>/<score2>; verdict: [[1]]/[[2]]/[[tie]]")
    judge.add_argument("--judge-prefill", default=None, action=argparse.BooleanOptionalAction,
                       help="start the judge's reply with the format's opening tag (default: local engines only)")
    judge.add_argument("--judge-max-tokens", type=int, default=None, help="default: 64 for scores, 384 otherwise")
    judge.add_argument("--judge-batch-size", type=int, default=64, help="judge prompts per call (1: one at a time)")
    judge.add_argument("--tie-rule", default="sum", choices=RULES,
                       help="sum: orders add up, disagreement is a tie; agree: both orders must agree")
    judge.add_argument("--partial", default="exclude", choices=PARTIAL,
                       help="a pair with one invalid judgement: exclude it (default) or decide by the valid order")
    judge.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the intervals")
    judge.add_argument("--confidence", type=float, default=0.95)

    out = parser.add_argument_group("output")
    out.add_argument("--output-dir", default="eval-report", help="where report.json/.md, records.jsonl and plots go")
    out.add_argument("--cache", default="", help="request cache file (default: <output-dir>/requests.sqlite)")
    out.add_argument("--no-cache", action="store_true", help="send every request again")
    return parser


def _spec(args: argparse.Namespace, engine: str, model: str | None, base_url: str | None) -> EngineSpec | None:
    return EngineSpec(engine, model, base_url, args.batch_size, args.concurrency) if model else None


def config_from_args(args: argparse.Namespace) -> EvalConfig:
    return EvalConfig(
        langs=args.langs, output_dir=args.output_dir,
        model=_spec(args, args.engine, args.model, args.base_url),
        judge=_spec(args, args.judge_engine, args.judge_model, args.judge_base_url),
        reference=_spec(args, args.reference_engine, args.reference_model, args.reference_base_url),
        reference_answers=args.reference_answers,
        translate=_spec(args, args.translate_engine, args.translate_model, args.translate_base_url),
        settings=tuple(s.strip() for s in args.settings.split(",") if s.strip()),
        questions=args.questions, questions_split=args.questions_split, questions_config=args.questions_config,
        native_questions=args.native_questions, limit=args.limit,
        samples=args.samples, answer_max_tokens=args.answer_max_tokens, answer_temperature=args.temperature,
        seed=args.seed, judge_format=args.judge_format, judge_prefill=args.judge_prefill,
        judge_max_tokens=args.judge_max_tokens, judge_batch_size=args.judge_batch_size,
        rule=args.tie_rule, partial=args.partial,
        n_boot=args.bootstrap, confidence=args.confidence, cache=None if args.no_cache else args.cache,
    )


def run_eval(args: argparse.Namespace) -> int:
    """Run the harness from parsed arguments; prints the summary table and the report paths."""
    try:
        config = config_from_args(args)
        report = Harness(config).run()
    except RUN_ERRORS as error:
        if getattr(args, "verbose", False):
            raise
        print(f"x-instruction eval: error: {redact(one_line(error))}", file=sys.stderr)
        return 2
    by_turn = report.get("by_turn", {})
    # multi-turn sets get a turn column: "all" (pooled), then each turn
    turn_column = f"{'turn':<6}" if by_turn else ""
    print(f"{'lang':<6}{'setting':<8}{turn_column}{'win':>7}{'tie':>7}{'loss':>7}{'score':>8}  valid  invalid  in-language")
    for lang, settings in report["results"].items():
        for setting, summary in settings.items():
            print(_summary_row(f"{lang:<6}{setting:<8}{'all':<6}" if by_turn else f"{lang:<6}{setting:<8}", summary))
            for turn, s in by_turn.get(lang, {}).get(setting, {}).items():
                print(_summary_row(f"{lang:<6}{setting:<8}{turn:<6}", s))
    judge = report["cost"].get("judge", {})
    print(f"judge: {judge.get('requests', 0)} requests, {judge.get('calls', 0)} sent, {judge.get('reused', 0)} reused, "
          f"{judge.get('wall_s', 0)} s")
    for turn, roles in report.get("cost_by_turn", {}).items():
        records = sum(parts[turn]["pairs"] for settings in by_turn.values() for parts in settings.values() if turn in parts)
        requests = ", ".join(f"{role} {cost['requests']} ({cost['calls']} sent)" for role, cost in roles.items())
        print(f"turn {turn}: {records} records; requests: {requests}")
    print(f"report: {report['files']['markdown']} (+ report.json, records.jsonl, plots/)")
    return 0


def _summary_row(label: str, s: dict) -> str:
    cells = [f"{100 * s[k]:6.1f}%" if s[k] is not None else "    n/a" for k in ("win_rate", "tie_rate", "loss_rate", "score")]
    fidelity = s["fidelity_a"]["fidelity"]
    return (f"{label}{''.join(cells)}  {s['valid_pairs']:>5}  {s['invalid_judgements']:>7}  "
            f"{'n/a' if fidelity is None else f'{100 * fidelity:.1f}%':>11}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="x-instruction eval", description="Pairwise LLM-judge evaluation against a reference.")
    add_eval_arguments(parser)
    parser.add_argument("-v", "--verbose", action="store_true", help="show the traceback of an error")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parser.parse_args(argv)
    return guard("x-instruction eval", lambda: run_eval(args), verbose=args.verbose)

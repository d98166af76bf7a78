"""The `x-instruction` command: build, push, eval, languages.

    x-instruction build                                  # the embedded demo: 10 languages, CPU
    x-instruction build --langs sw,bn --corpus fineweb2 --max-docs 50000 \\
        --model Qwen/Qwen2.5-7B-Instruct --engine vllm --push-to-hub org/x-instruction
    x-instruction build --config build.yaml --rounds 3   # YAML options, CLI flags win
"""

from __future__ import annotations

import argparse
import logging

from ..config import BuildConfig
from ..engines.base import EngineError
from ..errors import guard
from .build import add_build_arguments, run_build
from .eval import add_eval_arguments, run_eval
from .languages import add_languages_arguments, run_languages
from .push import add_push_arguments, run_push


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="x-instruction",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True)

    build = sub.add_parser(
        "build",
        help="build X-Instruction data from web text",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_build_arguments(build)
    build.set_defaults(func=run_build)

    langs = sub.add_parser("languages", help="list the registered languages")
    add_languages_arguments(langs)
    langs.set_defaults(func=run_languages)

    push = sub.add_parser("push", help="push an export folder to the Hugging Face Hub")
    add_push_arguments(push, default_output_dir=BuildConfig.output_dir)
    push.set_defaults(func=run_push)

    evaluate = sub.add_parser(
        "eval", help="answer a question set, judge pairwise against a reference, check languages"
    )
    add_eval_arguments(evaluate)
    # eval's errors name the command, as `python -m builder.judge` does; the build's resume hint
    # (finished shards) does not apply to it: its cached requests are reused without being told.
    evaluate.set_defaults(func=run_eval, prog="x-instruction eval", hints={})
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # A model server that failed mid-build: the shards and the request cache written so far
    # stay, so the same command resumes once the server is back.
    resume = {
        EngineError: "Finished shards and cached requests are kept; run the same command again to resume."
    }
    # One exit-code policy for every command (errors.guard): 2 bad input, 1 a failure of the run.
    return guard(
        getattr(args, "prog", "x-instruction"),
        lambda: args.func(args),
        verbose=args.verbose,
        hints=getattr(args, "hints", resume),
    )

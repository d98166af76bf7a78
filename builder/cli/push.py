"""`x-instruction push`: publish an export folder to the Hub (wired into builder/cli/__init__.py).

    x-instruction push --repo org/x-instruction --output-dir out/x-instruction [--private]
    x-instruction build ... --output-dir out/x-instruction --push-to-hub org/x-instruction

`build --push-to-hub REPO` exports first (builder.publish.export.export_local) and then calls
`builder.publish.push.push(output_dir, REPO, private=...)` (see builder.pipeline.runner.build).
The token comes from HF_TOKEN or `hf auth login`; there is deliberately no --token flag, so it
never lands in shell history or process listings.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import RUNTIME


def add_push_arguments(
    parser: argparse.ArgumentParser, *, default_output_dir: str | None = None
) -> None:
    parser.add_argument(
        "--repo",
        required=True,
        metavar="ORG/NAME",
        help="Hub dataset repository, e.g. org/x-instruction",
    )
    parser.add_argument(
        "--output-dir",
        default=default_output_dir,
        required=default_output_dir is None,
        help="the export folder written by `x-instruction build --output-dir`",
    )
    parser.add_argument(
        "--private", action="store_true", help="create the repository as private (if it is new)"
    )
    parser.add_argument(
        "--revision", default=None, help="branch to push to (default: main); it must exist"
    )
    parser.add_argument(
        "--prune",
        action="store_true",
        help="delete configs the repository has but this export lacks (default: refuse to push)",
    )


def _push(output_dir, repo: str, *, private: bool, revision: str | None, prune: bool) -> int:
    from huggingface_hub import constants

    from ..pipeline.preflight import check_push_start
    from ..publish.push import PushError, push

    # Bad input (repo id, folder, token) raises here, before any request: exit code 2 (errors.guard).
    check_push_start(repo, output_dir)
    try:
        summary = push(output_dir, repo, private=private, revision=revision, prune=prune)
    except PushError as err:  # the Hub refused or failed: the message says how to resume
        print(f"x-instruction push: error: {err}", file=sys.stderr)
        return RUNTIME
    width = max(len(k) for k in summary)
    for config, state in summary.items():
        print(f"{config:<{width}}  {state}")
    branch = f" (branch {revision})" if revision else ""
    print(f"Pushed {Path(output_dir)} to {constants.ENDPOINT}/datasets/{repo}{branch}")
    return 0


def run_push(args: argparse.Namespace) -> int:
    return _push(
        args.output_dir, args.repo, private=args.private, revision=args.revision, prune=args.prune
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m builder.cli.push --repo ... --output-dir ...` (same as `x-instruction push`)."""
    from ..errors import guard

    parser = argparse.ArgumentParser(
        prog="x-instruction push", description=__doc__.split("\n\n")[0]
    )
    add_push_arguments(parser)
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show the traceback of an error"
    )
    args = parser.parse_args(argv)
    return guard("x-instruction push", lambda: run_push(args), verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())

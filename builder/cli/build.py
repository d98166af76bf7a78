"""`x-instruction build`: one flag per BuildConfig field (builder/cli/options.py), then the build
and its summary."""

from __future__ import annotations

import argparse
import sys

from ..config import BuildConfig
from ..redact import redact
from . import options
from .options import add_config_arguments


def add_build_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, BuildConfig)


def config_from_args(args: argparse.Namespace) -> BuildConfig:
    return options.config_from_args(BuildConfig, args)


def run_build(args: argparse.Namespace) -> int:
    from ..pipeline.runner import EmptyBuildError, build
    from ..publish.push import PushError
    from ..quality.rater import QualityGateError

    config = config_from_args(args)
    if config.dry_run:
        from ..pipeline.dry_run import dry_run
        from ..pipeline.preflight import check_build_start

        check_build_start(config, export=False)  # build() runs the full check itself

        print(dry_run(config))
        return 0
    try:
        result = build(config)
    except (EmptyBuildError, PushError, QualityGateError) as err:
        # A failed push leaves the export on disk; the same command resumes the push.
        print(f"x-instruction: {redact(str(err))}", file=sys.stderr)
        return 1
    _print_summary(config, result)
    return 0


def _print_summary(config: BuildConfig, result) -> None:
    """The funnel, the rater's report, the model's cost, where the export is and where it was pushed."""
    from ..quality.report import report_lines

    print(result.funnel.table())
    print("\n".join(report_lines(result.build_info["quality"])))
    empty = result.funnel.empty_languages()
    if empty:
        # These have no config (datasets cannot load an empty one); say why they kept nothing.
        print(
            f"\nno config for {', '.join(empty)} (no rows kept; their texts are in `candidates`):"
        )
        for lang in empty:
            print("  " + result.funnel.explain(lang))
    stats = result.build_info["engine_stats"]
    print(
        f"\nmodel calls: {stats['calls']}  cached: {stats['cache_hits']}  tokens in/out: "
        f"{stats['prompt_tokens']}/{stats['completion_tokens']}  model time: {stats['wall_s']:.1f} s"
    )
    # build() raised if every one is empty
    first = next(lang for lang in config.langs if lang not in empty)
    print(
        f"wrote {result.output_dir}  (load with datasets.load_dataset({str(result.output_dir)!r}, "
        f"{first!r}))"
    )
    if result.push_summary is not None:
        from huggingface_hub import constants

        from ..publish.push import changed_parts

        changed = changed_parts(result.push_summary)
        print(
            f"pushed to {constants.ENDPOINT}/datasets/{config.push_to_hub} "
            f"({len(changed)} of {len(result.push_summary)} parts changed)"
        )

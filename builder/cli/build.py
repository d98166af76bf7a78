"""`x-instruction build`: one flag per BuildConfig field, its help taken from the field's
`metadata["help"]` (as TRL's HfArgumentParser does), then the build and its summary."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import types
import typing

from ..config import BuildConfig
from ..config_checks import flag_type
from ..redact import redact


def _base_type(name: str) -> type:
    """The field's type without None: `int | None` -> int."""
    hint = typing.get_type_hints(BuildConfig)[name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return args[0]
    return hint


def add_build_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML file of options (same names as the flags); flags override it")
    for field in dataclasses.fields(BuildConfig):
        flag = "--" + field.name.replace("_", "-")
        kind = _base_type(field.name)
        # SUPPRESS: only flags the user typed reach the config, so YAML values are not overwritten.
        options = {"default": argparse.SUPPRESS, "help": field.metadata["help"]}
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, **options)
        elif field.name == "langs":  # text here; BuildConfig parses the list
            parser.add_argument(flag, **options)
        elif kind in (int, float):  # a wrong value reads as it does in a YAML file
            parser.add_argument(flag, type=flag_type(BuildConfig, field.name), **options)
        else:
            parser.add_argument(flag, type=kind, **options)


def config_from_args(args: argparse.Namespace) -> BuildConfig:
    given = {k: v for k, v in vars(args).items() if k in BuildConfig.field_names()}
    if args.config:
        return BuildConfig.from_yaml(args.config, **given)
    return BuildConfig(**given)


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
        print(f"\nno config for {', '.join(empty)} (no rows kept; their texts are in `candidates`):")
        for lang in empty:
            print("  " + result.funnel.explain(lang))
    stats = result.build_info["engine_stats"]
    print(f"\nmodel calls: {stats['calls']}  cached: {stats['cache_hits']}  tokens in/out: "
          f"{stats['prompt_tokens']}/{stats['completion_tokens']}  model time: {stats['wall_s']:.1f} s")
    first = next(lang for lang in config.langs if lang not in empty)  # build() raised if every one is empty
    print(f"wrote {result.output_dir}  (load with datasets.load_dataset({str(result.output_dir)!r}, "
          f"{first!r}))")
    if result.push_summary is not None:
        from huggingface_hub import constants

        from ..publish.push import changed_parts

        changed = changed_parts(result.push_summary)
        print(f"pushed to {constants.ENDPOINT}/datasets/{config.push_to_hub} "
              f"({len(changed)} of {len(result.push_summary)} parts changed)")

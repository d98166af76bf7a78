"""Flags generated from a settings dataclass (BuildConfig, EvalConfig): one flag per field, its
help taken from the field's `metadata["help"]` (as TRL's HfArgumentParser does), and the config
read back from the parsed flags and an optional YAML `--config` file.

Field metadata the generator reads besides "help": "choices" (argparse refuses other values, and
lists them in the help), "group" (the heading the flag is listed under in --help).
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing

from ..config_checks import ConfigError, flag_type


def _base_type(cls: type, name: str) -> type:
    """The field's type without None: `int | None` -> int; `str | list[str]` -> str."""
    hint = typing.get_type_hints(cls)[name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return args[0]
    return hint


def _required(field: dataclasses.Field) -> bool:
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


def flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_config_arguments(parser: argparse.ArgumentParser, cls: type) -> argparse.ArgumentParser:
    parser.add_argument(
        "--config", help="YAML file of options (same names as the flags); flags override it"
    )
    groups: dict[str, argparse._ArgumentGroup] = {}
    for field in dataclasses.fields(cls):
        group = field.metadata.get("group")
        target = groups.setdefault(group, parser.add_argument_group(group)) if group else parser
        kind = _base_type(cls, field.name)
        # SUPPRESS: only flags the user typed reach the config, so YAML values are not overwritten.
        # A field without a default is not argparse-required either, since a YAML file may give it.
        options = {"default": argparse.SUPPRESS, "help": field.metadata["help"]}
        if "choices" in field.metadata:
            options["choices"] = field.metadata["choices"]
        flag = flag_name(field.name)
        # a switch: `--no-no-cache` would read badly
        if kind is bool and field.name.startswith("no_"):
            target.add_argument(flag, action="store_true", **options)
        elif kind is bool:
            target.add_argument(flag, action=argparse.BooleanOptionalAction, **options)
        elif kind in (int, float):  # a wrong value reads as it does in a YAML file
            target.add_argument(flag, type=flag_type(cls, field.name), **options)
        else:  # text; a `str | list[str]` field (--langs) parses its own list
            target.add_argument(flag, **options)
    return parser


def config_from_args(cls: type, args: argparse.Namespace):
    """The config from the flags the user typed, over the YAML file's options, over the defaults."""
    given = {k: v for k, v in vars(args).items() if k in cls.field_names()}
    data = given
    if getattr(args, "config", None):
        from ..config_checks import read_yaml_options

        data = {**read_yaml_options(args.config), **given}
    missing = [f for f in dataclasses.fields(cls) if _required(f) and f.name not in data]
    if missing:
        raise ConfigError(
            "; ".join(f"{flag_name(f.name)} is required: {f.metadata['help']}" for f in missing)
        )
    if getattr(args, "config", None):
        return cls.from_yaml(args.config, **given)
    return cls(**given)

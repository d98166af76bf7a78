"""Type and range checks of a settings dataclass (BuildConfig, EvalConfig), from its own annotations.

A field's annotation is its contract: `rounds: Annotated[int, Field(ge=1)]`. pydantic checks the
values in strict mode, so YAML's `refine_response: "false"` (text) is not taken as true and
`candidates: 2.7` is not rounded. The same messages serve YAML files, flags and Python callers:
`rounds must be a whole number, got 'two' (text)`, `top_p must be > 0 and <= 1, got 5.0`.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any

import pydantic


class ConfigError(ValueError):
    """A setting with the wrong type or out of range: the message names it and what it accepts."""


_KINDS = {
    bool: "true or false",
    int: "a whole number",
    float: "a number",
    str: "text",
    list: "a list",
    dict: "a mapping",
    type(None): "null",
}
_RANGE_WORDS = (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, include_extras=True)


@functools.cache
def _model(cls: type) -> type[pydantic.BaseModel]:
    # Every field optional with a default of None: a YAML file gives only some options, and
    # defaults are not validated, so the model checks exactly the values it is given.
    fields = {f.name: (_hints(cls)[f.name], None) for f in dataclasses.fields(cls)}
    return pydantic.create_model(
        f"{cls.__name__}Check", __config__=pydantic.ConfigDict(strict=True), **fields
    )


def _bounds(annotation) -> dict[str, Any]:
    bounds = {}
    for meta in getattr(annotation, "__metadata__", ()):
        # a pydantic Field holds annotated_types objects
        for item in getattr(meta, "metadata", [meta]):
            bounds.update(
                {
                    key: getattr(item, key)
                    for key, _ in _RANGE_WORDS
                    if getattr(item, key, None) is not None
                }
            )
    return bounds


def range_text(annotation) -> str:
    """'>= 1', 'between 1 and 5', '> 0 and <= 1' for the bounds in a field's annotation."""
    bounds = _bounds(annotation)
    if set(bounds) == {"ge", "le"}:
        return f"between {bounds['ge']} and {bounds['le']}"
    return " and ".join(f"{word} {bounds[key]}" for key, word in _RANGE_WORDS if key in bounds)


def kind_text(annotation) -> str:
    """'a whole number', 'text or a list of text', 'a number or null' for a field's annotation."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return " or ".join(kind_text(arg) for arg in typing.get_args(annotation))
    origin = typing.get_origin(annotation)
    if origin is list:
        return f"a list of {kind_text(typing.get_args(annotation)[0])}"
    return _KINDS.get(origin or annotation, getattr(annotation, "__name__", str(annotation)))


def _shown(value: Any) -> str:
    return f"{value!r} ({kind_text(type(value))})"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _field_message(name: str, annotation, value: Any, error_types: set[str]) -> str:
    bounds = _bounds(annotation)
    is_range = any(t.startswith(("greater_than", "less_than")) for t in error_types)
    if is_range and bounds:
        return f"{name} must be {range_text(annotation)}, got {value!r}"
    message = f"{name} must be {kind_text(annotation)}, got {_shown(value)}"
    if isinstance(value, str) and "bool_type" in error_types:
        message += "; in YAML write true or false without quotes"
    elif isinstance(value, str) and error_types & {"int_type", "float_type"} and _is_number(value):
        message += "; in YAML write numbers without quotes"
    return message


def check_values(cls: type, values: dict[str, Any], source: str | None = None) -> None:
    """Raise ConfigError naming every value of `values` that its field of `cls` does not accept.
    `source` (a YAML path) prefixes the message."""
    known = {k: v for k, v in values.items() if k in _hints(cls)}
    try:
        _model(cls).model_validate(known)
    except pydantic.ValidationError as err:
        by_field: dict[str, set[str]] = {}
        for item in err.errors():
            by_field.setdefault(str(item["loc"][0]), set()).add(item["type"])
        messages = [
            _field_message(name, _hints(cls)[name], known[name], kinds)
            for name, kinds in by_field.items()
        ]
        prefix = f"{source}: " if source else ""
        raise ConfigError(prefix + "; ".join(messages)) from None
    _check_choices(cls, known, source)


def _check_choices(cls: type, values: dict[str, Any], source: str | None) -> None:
    """A field whose metadata lists "choices" takes one of them (a flag's argparse `choices=` says
    the same; this covers YAML files and Python callers)."""
    messages = []
    for field in dataclasses.fields(cls):
        choices = field.metadata.get("choices")
        if choices and field.name in values and values[field.name] not in choices:
            messages.append(
                f"{field.name} must be one of {', '.join(choices)}, got {values[field.name]!r}"
            )
    if messages:
        raise ConfigError((f"{source}: " if source else "") + "; ".join(messages))


def flag_type(cls: type, name: str) -> typing.Callable[[str], Any]:
    """An argparse `type=` for a number field: the same message as a YAML value of the wrong type."""
    import argparse

    annotation = _hints(cls)[name]
    plain = typing.get_type_hints(cls)[name]
    kinds = [a for a in (typing.get_args(plain) or (plain,)) if a is not type(None)]

    def parse(text: str):
        try:
            return kinds[0](text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{name} must be {kind_text(annotation)}, got {text!r}"
            ) from None

    parse.__name__ = kinds[0].__name__
    return parse


def read_yaml_options(path) -> dict[str, Any]:
    """A YAML file of `option: value` lines (dashes or underscores); a syntax error names the
    file, line and column."""
    from pathlib import Path

    import yaml

    if Path(path).is_dir():
        raise ConfigError(
            f"{path} is a folder; --config wants a YAML file of option: value lines, e.g. build.yaml"
        )
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        context = (
            f" ({err.context} at line {err.context_mark.line + 1})"
            if err.context and err.context_mark
            else ""
        )
        raise ConfigError(
            f"{where}: not valid YAML: {err.problem or err.context}{context}"
        ) from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(err).split())}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of option: value, got {type(data).__name__}")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


class Options:
    """What a settings dataclass shares with the command line: its option names and a YAML file
    of them (`--config`), checked against its annotations before the flags join."""

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_yaml(cls, path, **overrides: Any):
        data = read_yaml_options(path)
        unknown = sorted(set(data) - set(cls.field_names()))
        if unknown:
            raise ConfigError(
                f"{path}: unknown option(s) {', '.join(unknown)}; known: {', '.join(cls.field_names())}"
            )
        # before the flags join, so the message names the file
        check_values(cls, data, source=str(path))
        data.update(overrides)
        return cls(**data)

"""`x-instruction build --help` is generated from BuildConfig: each field's flag and the help kept
in its `metadata["help"]`."""

from __future__ import annotations

import dataclasses

import pytest

from builder.cli import main
from builder.config import BuildConfig


def _build_help(capsys, monkeypatch) -> str:
    monkeypatch.setenv("COLUMNS", "1000")  # no wrapping, so each help text appears whole
    with pytest.raises(SystemExit) as done:
        main(["build", "--help"])
    assert done.value.code == 0
    return capsys.readouterr().out


def test_every_setting_has_help():
    missing = [
        f.name for f in dataclasses.fields(BuildConfig) if not f.metadata.get("help", "").strip()
    ]
    assert missing == []


def _option_entries(help_text: str) -> dict[str, str]:
    """`--flag` -> its entry in the options list, on one line (argparse puts the help of a long
    flag on the next line)."""
    entries: dict[str, list[str]] = {}
    current = None
    for line in help_text.split("options:", 1)[1].splitlines():
        if line.startswith("  -"):  # an option; its help is indented further
            current = line.split()[0].rstrip(",")
            entries[current] = []
        if current:
            entries[current].append(line.strip())
    return {flag: " ".join(parts) for flag, parts in entries.items()}


def test_build_help_lists_every_setting_with_its_help(capsys, monkeypatch):
    entries = _option_entries(_build_help(capsys, monkeypatch))
    for field in dataclasses.fields(BuildConfig):
        flag = "--" + field.name.replace("_", "-")
        assert flag in entries, f"{flag} is not in build --help"
        assert entries[flag].endswith(" " + field.metadata["help"]), entries[flag]
    assert len(entries) == len(dataclasses.fields(BuildConfig)) + 2  # and -h, --config


def test_boolean_settings_get_a_negative_flag(capsys, monkeypatch):
    out = _build_help(capsys, monkeypatch)
    booleans = [f.name for f in dataclasses.fields(BuildConfig) if f.type in (bool, "bool")]
    assert booleans == ["refine_response", "overwrite", "private", "dry_run"]
    for name in booleans:
        flag = "--" + name.replace("_", "-")
        assert f"{flag}, --no-{flag[2:]}" in out

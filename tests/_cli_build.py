"""`x-instruction build` through builder.cli.main with the scripted engine standing in for the
model: real corpus files, real work dir and export, in seconds."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from _scripted_engine import ScriptedEngine
from helpers.pipeline import writer_and_judge


@dataclass
class Run:
    code: int
    out: str
    err: str
    engines: list = field(default_factory=list)

    @property
    def calls(self) -> int:
        return sum(e.stats.calls for e in self.engines)


def udhr_corpus(folder: Path, shared_data: Path, langs=("sw",)) -> str:
    """A `{lang}.jsonl` corpus copied from the shared UDHR; returns the spec."""
    folder.mkdir(parents=True, exist_ok=True)
    for lang in langs:
        (folder / f"{lang}.jsonl").write_bytes(
            (shared_data / "udhr" / f"{lang}.jsonl").read_bytes()
        )
    return str(folder / "{lang}.jsonl")


def build_args(root: Path, corpus: str, langs: str = "sw", *extra: str) -> list[str]:
    # --relevance-floor flag: the scripted writer's instructions name a random topic, below the
    # seeds' floor; flagging keeps them (the percentile gate stays at its default).
    floor = [] if "--relevance-floor" in extra else ["--relevance-floor", "flag"]
    return [
        "build",
        "--langs",
        langs,
        "--corpus",
        corpus,
        "--model",
        "scripted",
        "--max-docs",
        "4",
        "--candidates",
        "2",
        "--rounds",
        "1",
        "--target-size",
        "3",
        "--shard-size",
        "2",
        "--work-dir",
        str(root / "work"),
        "--output-dir",
        str(root / "out"),
        *floor,
        *extra,
    ]


def cli(args: list[str], capsys, reply=writer_and_judge) -> Run:
    """Run the CLI with every model replaced by a fresh ScriptedEngine answering with `reply`
    (recorded in Run.engines)."""
    import builder.pipeline.runner
    from builder.cli import main

    engines = []

    def create(*a, **kw):
        engines.append(ScriptedEngine(reply))
        return engines[-1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(builder.pipeline.loaded_models, "create_engine", create)
        code = main(args)
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err, engines)


def published(out: Path, lang: str = "sw") -> list[dict]:
    from datasets import load_dataset

    return load_dataset(str(out), lang, split="train").to_list()


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))

"""`x-instruction build` on the embedded SmolLM2: three languages, and resume after SIGKILL (slow)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import datasets
import pytest

from builder.cli import main
from builder.languages.lid import detect, matches

pytestmark = pytest.mark.slow

# Small enough for CI's two cores, large enough that every stage has work: hi is the
# non-Latin script (Devanagari).
ARGS = [
    "--max-docs",
    "2",
    "--candidates",
    "2",
    "--rounds",
    "2",
    "--target-size",
    "2",
    "--shard-size",
    "2",
    "--max-instruction-tokens",
    "32",
]


def _build(tmp_path: Path, langs: str, *extra: str) -> tuple[Path, dict]:
    out = tmp_path / "out"
    code = main(
        [
            "build",
            "--langs",
            langs,
            *ARGS,
            "--work-dir",
            str(tmp_path / "work"),
            "--output-dir",
            str(out),
            *extra,
        ]
    )
    # Every caller needs an export: 1 (nothing kept, or an internal error) fails here, with the
    # build's own output shown by pytest, not later as a missing build_info.
    assert code == 0
    return out, json.loads((out / "build_info.json").read_text())


def test_embedded_build_three_languages(tmp_path, embedded_model_dir, capsys):
    # accept-score 1 keeps every pair the evaluator could score, so the export has rows to check
    # even though a 135M model rarely rates its own pairs 4 or 5.
    out, info = _build(tmp_path, "sw,id,hi", "--accept-score", "1")
    printed = capsys.readouterr().out
    assert "lang" in printed and "prepare" in printed  # the funnel table
    names = set(datasets.get_dataset_config_names(str(out)))
    assert {"all", "candidates"} <= names
    audit = datasets.load_dataset(str(out), "candidates", split="train")
    assert sorted(set(audit["lang"])) == ["hi", "id", "sw"]
    total = 0
    for lang in ("sw", "id", "hi"):
        funnel = info["funnel"][lang]
        assert funnel["rows_in"] == 2
        assert funnel["rows_in"] - funnel["rows_out"] == sum(funnel["dropped"].values())
        if funnel["rows_out"] == 0:
            continue
        assert lang in names
        rows = datasets.load_dataset(str(out), lang, split="train")
        total += len(rows)
        assert len(rows) == funnel["rows_out"] <= 2
        for row in rows:
            assert row["score"] >= 1 and row["rounds"] in (1, 2)
            assert matches(detect(row["output"]), lang) is not False
            assert matches(detect(row["instruction"]), "en") is not False
            assert row["meta"]["generator_model"].startswith("HuggingFaceTB/SmolLM2-135M-Instruct")
    assert total >= 1, f"no pair survived in any language: {info['funnel']}"
    assert info["engine_stats"]["calls"] > 0 and info["engine_stats"]["cache_hits"] == 0
    assert (out / "README.md").read_text().count("SmolLM2") >= 1


def _cache_rows(work: Path) -> int:
    with sqlite3.connect(work / "cache.sqlite") as db:
        return db.execute("SELECT COUNT(*) FROM requests").fetchone()[0]


def test_resume_after_sigkill_equals_an_uninterrupted_run(tmp_path, embedded_model_dir):
    langs = "sw,fi"
    common = ["build", "--langs", langs, *ARGS, "--accept-score", "1"]
    whole, whole_info = _build(tmp_path / "whole", langs, "--accept-score", "1")

    work, out = tmp_path / "killed" / "work", tmp_path / "killed" / "out"
    command = [
        sys.executable,
        "-m",
        "builder.cli",
        *common,
        "--work-dir",
        str(work),
        "--output-dir",
        str(out),
    ]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    deadline = time.time() + 600
    # Kill once generation has finished its first shard but not the last one.
    while time.time() < deadline and proc.poll() is None:
        shards = list(work.glob("*/generate-*/shard-*.parquet"))
        if shards:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the build ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    cached_at_kill = _cache_rows(work)
    assert not (out / "build_info.json").exists()

    resumed, resumed_info = _build(tmp_path / "killed", langs, "--accept-score", "1")
    for lang in langs.split(","):
        a = datasets.load_dataset(str(whole), "candidates", split="train").filter(
            lambda r, lang=lang: r["lang"] == lang
        )
        b = datasets.load_dataset(str(resumed), "candidates", split="train").filter(
            lambda r, lang=lang: r["lang"] == lang
        )
        assert sorted(a["id"]) == sorted(b["id"]) and len(set(b["id"])) == len(b["id"])
        assert dict(zip(a["id"], a["instruction"])) == dict(zip(b["id"], b["instruction"]))
        assert dict(zip(a["id"], a["dropped"])) == dict(zip(b["id"], b["dropped"]))
    # No request was sent twice: the resumed run sent exactly what the killed run had not cached.
    assert _cache_rows(work) == whole_info["engine_stats"]["calls"]
    assert (
        resumed_info["engine_stats"]["calls"]
        == whole_info["engine_stats"]["calls"] - cached_at_kill
    )

"""A build prints no deprecation warning from our own calls: transformers' `past_key_values`
(now `cache`, the old name goes in 6.0) and pyarrow's `null_placement` (which `Dataset.sort`
passes) stay gone. Each build runs in a fresh process (tests/_warned_build.py), since
transformers logs some deprecations only once per process."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

from _warned_build import recording
from datasets import Dataset

TESTS = Path(__file__).resolve().parent
SMALL = [
    "--max-docs",
    "2",
    "--candidates",
    "2",
    "--rounds",
    "1",
    "--target-size",
    "2",
    "--shard-size",
    "2",
]


def _warned_build(tmp_path: Path, *args: str, scripted: bool = False) -> tuple[dict, str]:
    report = tmp_path / "report.json"
    command = [
        sys.executable,
        str(TESTS / "_warned_build.py"),
        str(report),
        *(["--scripted"] if scripted else []),
        "--",
        "build",
        *args,
        "--work-dir",
        str(tmp_path / "work"),
        "--output-dir",
        str(tmp_path / "out"),
    ]
    env = {**os.environ, "PYTHONPATH": str(TESTS.parent), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=600, check=False
    )
    assert done.returncode == 0 and report.exists(), done.stderr[-3000:]
    return json.loads(report.read_text(encoding="utf-8")), done.stdout + done.stderr


def test_the_transformers_engine_calls_generate_without_deprecations(tmp_path, tiny_model_dir):
    # Two candidates per text: generate() gets the KV cache shared across the samples, the call
    # that passed `past_key_values`. The random model's ratings never parse, so nothing is kept.
    report, output = _warned_build(
        tmp_path, "--langs", "sw", "--model", str(tiny_model_dir), *SMALL
    )
    # 2 texts through generate
    assert re.search(r"^sw\s+2\s+2\s+2\s", output, re.MULTILINE), output[-3000:]
    assert report["code"] == 1 and "every row was filtered out" in output
    assert report["found"] == [], json.dumps(report["found"], indent=1)


def test_a_build_through_export_has_no_deprecations(tmp_path):
    report, output = _warned_build(
        tmp_path,
        "--langs",
        "sw,fi",
        "--model",
        "scripted",
        "--max-docs",
        "6",
        "--candidates",
        "2",
        "--rounds",
        "2",
        "--target-size",
        "3",
        "--shard-size",
        "4",
        "--relevance-floor",
        "flag",  # as tests/_cli_build.py: scripted instructions
        scripted=True,
    )
    assert report["code"] == 0, output[-3000:]
    assert (tmp_path / "out" / "sw").is_dir() and (tmp_path / "out" / "fi").is_dir()
    assert report["found"] == [], json.dumps(report["found"], indent=1)


def test_the_recorder_finds_a_deprecation_raised_for_our_call_inside_a_library():
    """The control: with this folder standing for ours, the calls below are ours."""
    with recording(ours=TESTS) as recorder:
        Dataset.from_dict({"id": ["b", "a"]}).sort("id")  # datasets hands pyarrow null_placement
        # stacklevel 1 on purpose: the warning is attributed to this file, which stands for ours
        warnings.warn("old_name is deprecated", DeprecationWarning)  # noqa: B028
        logging.getLogger("transformers.demo").warning(
            "`old_name` is deprecated. Use `new_name` instead."
        )
        warnings.warn("not a deprecation", UserWarning)  # noqa: B028
    found = [(f["kind"], f["category"], f["message"].split(".")[0]) for f in recorder.found]
    assert found == [
        (
            "warning",
            "FutureWarning",
            "Specifying null_placement in SortOptions is deprecated as of 25",
        ),
        ("warning", "DeprecationWarning", "old_name is deprecated"),
        ("log", "transformers.demo", "`old_name` is deprecated"),
    ]
    assert all(f["caller"].startswith(__file__) for f in recorder.found)
    assert "pyarrow" in recorder.found[0]["origin"]

    with recording() as recorder:  # builder/ is not on the stack: not ours
        Dataset.from_dict({"id": ["b", "a"]}).sort("id")
    assert recorder.found == []

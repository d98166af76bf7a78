"""Bad input to the training scripts, through their real entry point (a subprocess, as a user runs
them): one line `<script>: error: ...` on stderr and exit code 2, no traceback; `-v` shows it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from _trl_helpers import write_config, write_readme

ROOT = Path(__file__).resolve().parents[1]
RECIPE = str(ROOT / "trl_scripts" / "configs" / "sft_cpu_smoke.yaml")


def run(script: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "trl_scripts" / script), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def error_line(result: subprocess.CompletedProcess, script: str) -> str:
    """The one error line, after checking that it is the only one and that no traceback came."""
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith(f"{script}: error: ")]
    assert len(lines) == 1, result.stderr[-3000:]
    return lines[0]


@pytest.fixture(scope="module")
def empty_export(tmp_path_factory):
    """An export whose every language config has no row."""
    root = tmp_path_factory.mktemp("all-empty")
    for lang in ("sw", "fi"):
        write_config(root, lang, {"train": []})
    write_readme(root, {"sw": ["train"], "fi": ["train"]})
    return str(root)


def test_sft_errors_are_one_line(demo_exports, empty_export, tmp_path):
    out = ["--config", RECIPE, "--output_dir", str(tmp_path / "out")]
    cases = [
        # the demo's default folder, from a directory where it does not exist
        (
            ["--dataset_name", "x-instruction-data"],
            "--dataset_name x-instruction-data: no such folder",
        ),
        (
            ["--dataset_name", demo_exports["no config"], "--languages", "sw,vi"],
            "has no config for 'vi' (its build kept no pair); its language configs are: fi, sw",
        ),
        (
            ["--dataset_name", demo_exports["0-row config"], "--languages", "vi"],
            "leave it out of --languages (`all` skips empty languages)",
        ),
        (
            ["--dataset_name", empty_export],
            "has no rows to train on: every language config is empty (sw, fi)",
        ),
        (
            [
                "--dataset_name",
                demo_exports["no config"],
                "--eval_size",
                "0",
                "--language_check_steps",
                "0",
            ],
            "--eval_strategy steps needs held-out rows: set --eval_size",
        ),
        (
            ["--dataset_name", demo_exports["no config"], "--model_name_or_path", "SmolLM2-135M"],
            "unknown model 'SmolLM2-135M': use 'smollm2-135m' (embedded)",
        ),
    ]
    for args, message in cases:
        line = error_line(run("sft.py", *out, *args, cwd=tmp_path), "sft.py")
        assert message in line, (args, line)


def test_generator_and_evaluator_report_the_same_way(demo_exports, tmp_path):
    recipe = str(ROOT / "trl_scripts" / "configs" / "generator_cpu_smoke.yaml")
    line = error_line(
        run(
            "train_generator.py",
            "--config",
            recipe,
            "--dataset_name",
            demo_exports["0-row config"],
            "--languages",
            "vi",
            "--output_dir",
            str(tmp_path),
        ),
        "train_generator.py",
    )
    assert "config 'vi' of" in line and "has a split with no rows" in line
    line = error_line(
        run(
            "train_evaluator.py",
            "--model_name_or_path",
            "smollm2-135m",
            "--use_cpu",
            "--bf16",
            "false",
            "--scores_file",
            str(tmp_path / "scores.jsonl"),
            "--output_dir",
            str(tmp_path),
        ),
        "train_evaluator.py",
    )
    assert line.endswith(f"--scores_file {tmp_path / 'scores.jsonl'}: no such file")


def test_verbose_shows_the_traceback(tmp_path):
    result = run(
        "sft.py", "--config", RECIPE, "--dataset_name", "x-instruction-data", "-v", cwd=tmp_path
    )
    assert result.returncode == 1
    assert (
        "Traceback" in result.stderr
        and "FileNotFoundError: --dataset_name x-instruction-data" in result.stderr
    )

"""benchmarks/gpu_check.py on its CPU dry path: the table a device run prints, at a tiny size.

Each part runs for real on the tiny random Llama (the engine against plain generate(),
trl_scripts/sft.py, a build); a package hidden from the part's process gives a "skipped" row.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"
NUMBER = r"\d+(?:\.\d+)?"


def gpu_check(*args: str, timeout: int = 180) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--threads", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def table_rows(stdout: str) -> dict[str, list[str]]:
    """The table's lines by part (the first word of each line after the column header)."""
    lines = stdout.split("== GPU check", 1)[1].splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("part "))
    rows: dict[str, list[str]] = {}
    for line in lines[header + 1 :]:
        if line.strip():
            rows.setdefault(line.split()[0], []).append(line)
    return rows


def test_cpu_dry_path_measures_every_part(tiny_model_dir, tmp_path):
    out = tmp_path / "rows.json"
    done = gpu_check("--device", "cpu", "--model", str(tiny_model_dir), "--json", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    rows = table_rows(done.stdout)
    assert set(rows) == {"engine", "sft", "build"}, done.stdout
    # engine: one row per dry batch size, tokens/s of both methods and their ratio
    assert [re.search(r"batch (\d+),", line).group(1) for line in rows["engine"]] == ["1", "4"]
    for line in rows["engine"]:
        assert re.search(
            rf"new tokens\s+({NUMBER})\s+({NUMBER})\s+({NUMBER})\s+\d+ MiB RSS", line
        ), line
    # sft.py ran 3 steps; the build ran through the transformers engine (random weights: 0 pairs)
    assert re.search(
        rf"3 steps, CPU smoke recipe\s+{NUMBER}\s+-\s+-\s+\d+ MiB RSS", rows["sft"][0]
    ), rows["sft"]
    assert re.search(r"\d+ requests, .* 0 pairs kept", rows["build"][0]), rows["build"]

    saved = json.loads(out.read_text())["rows"]
    engine = [r for r in saved if r["part"] == "engine"]
    assert all(r["tokens_s"] > 0 and r["baseline_tokens_s"] > 0 for r in engine)
    assert all(r["ratio"] == pytest.approx(r["tokens_s"] / r["baseline_tokens_s"]) for r in engine)
    sft = next(r for r in saved if r["part"] == "sft")
    assert sft["tokens_s"] > 0 and "tokens in" in sft["note"]


def test_a_missing_package_is_a_skipped_row(tiny_model_dir):
    done = gpu_check(
        "--device",
        "cpu",
        "--model",
        str(tiny_model_dir),
        "--parts",
        "sft,build",
        "--pretend-missing",
        "trl,pydantic",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    rows = table_rows(done.stdout)
    assert len(rows["sft"]) == len(rows["build"]) == 1
    assert re.search(r"skipped: missing package 'trl' \(scripts/gpu_wheels.sh", rows["sft"][0]), (
        rows["sft"]
    )
    assert re.search(r"skipped: missing package 'pydantic'", rows["build"][0]), rows["build"]


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a GPU")
def test_cuda_asked_for_without_one_skips_every_part(tiny_model_dir):
    done = gpu_check("--device", "cuda", "--model", str(tiny_model_dir))
    assert done.returncode == 0, done.stderr[-3000:]
    rows = table_rows(done.stdout)
    assert set(rows) == {"engine", "sft", "build"}
    for lines in rows.values():
        assert "skipped: no CUDA device" in lines[0]


def test_a_model_folder_that_is_not_there_is_one_error_line(tmp_path):
    done = gpu_check("--device", "cpu", "--model", str(tmp_path / "nowhere"))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"gpu_check.py: error: --model {tmp_path / 'nowhere'}: no config.json there; pass a model folder "
        "(scripts/gpu_wheels.sh writes .whl/smollm2-135m-config)"
    ]

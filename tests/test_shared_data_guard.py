"""Under CI=true a missing real-text folder fails the run; elsewhere its tests skip.

Each case runs pytest in a child process on a copy of tests/conftest.py placed in a throwaway
checkout (`tmp/repo/tests/`), whose shared data folder (`tmp/shared/data`) is absent or there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import shared_data_verdict

USES_IT = """
def test_reads_real_text(shared_data):
    assert shared_data.name == "data"
"""


def _pytest(tmp_path: Path, ci: str | None) -> tuple[int, str]:
    tests = tmp_path / "repo" / "tests"
    tests.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(__file__).with_name("conftest.py"), tests / "conftest.py")
    (tests / "test_uses_shared_data.py").write_text(USES_IT, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tests),
            str(tests),
        ],
        cwd=tests,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout + done.stderr


def test_missing_shared_data_fails_the_run_under_ci(tmp_path):
    code, printed = _pytest(tmp_path, "true")
    assert code == 1 and "1 error" in printed, printed
    assert f"{tmp_path / 'shared' / 'data'} is absent, and CI is set" in printed, printed


def test_missing_shared_data_skips_outside_ci(tmp_path):
    code, printed = _pytest(tmp_path, None)
    assert code == 0 and "1 skipped" in printed, printed
    code, printed = _pytest(tmp_path, "false")
    assert code == 0 and "1 skipped" in printed, printed


def test_present_shared_data_runs_under_ci(tmp_path):
    (tmp_path / "shared" / "data").mkdir(parents=True)
    code, printed = _pytest(tmp_path, "true")
    assert code == 0 and "1 passed" in printed, printed


@pytest.mark.parametrize(
    "ci, action",
    [
        ("true", "fail"),
        ("TRUE", "fail"),
        ("1", "fail"),
        ("", "skip"),
        ("false", "skip"),
        (None, "skip"),
    ],
)
def test_the_verdict_follows_ci(tmp_path, ci, action):
    environ = {} if ci is None else {"CI": ci}
    assert shared_data_verdict(tmp_path / "absent", environ)[0] == action
    assert shared_data_verdict(tmp_path, environ) is None  # a folder that is there is always used

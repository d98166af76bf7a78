"""One build per work dir (builder/pipeline/lock.py), with real processes: a second
`x-instruction build` on a held work dir stops at once with one line naming the holder; a lock
whose process died is taken over with a warning; a lock recorded by another host is left alone."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _cli_build import build_args, cli, read_json, udhr_corpus

from builder.pipeline.lock import LOCK_FILE, WorkDirBusyError, acquire, hold_work_dir, release

ROOT = Path(__file__).resolve().parents[1]

# Takes the lock as a build does, says so on stdout, then waits to be killed.
HOLDER = """
import sys, time
from builder.pipeline.lock import acquire
acquire(sys.argv[1])
print("held", flush=True)
time.sleep(600)
"""


def _env() -> dict:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
    }


@pytest.fixture
def holder(tmp_path):
    """A separate process holding the lock of tmp_path/work; killed (SIGKILL) at teardown if still alive."""
    work = tmp_path / "work"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(work)],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=ROOT,
    )
    assert proc.stdout.readline().strip() == "held"
    yield work, proc
    proc.kill()
    proc.wait()


def test_a_second_build_on_a_held_work_dir_stops_at_once_naming_the_holder(holder, tmp_path):
    work, proc = holder
    out = tmp_path / "out"
    start = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "builder.cli",
            "build",
            "--langs",
            "sw",
            "--corpus",
            "embedded",
            "--max-docs",
            "2",
            "--work-dir",
            str(work),
            "--output-dir",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=tmp_path,
        timeout=300,
    )
    took = time.perf_counter() - start
    lines = result.stderr.strip().splitlines()
    # Exit 1: the command is right; the work dir is busy, and the same command works once the other build ends.
    assert result.returncode == 1, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(
        f"x-instruction: error: --work-dir {work} is in use by another build "
        f"(PID {proc.pid} on host {socket.gethostname()}, since "
    )
    assert lines[0].endswith(
        "wait for it to finish and run the same command again, or pass another --work-dir"
    )
    assert took < 60  # the imports of the CLI: no corpus read, no model loaded
    assert not out.exists()
    assert sorted(p.name for p in work.iterdir()) == [LOCK_FILE]  # nothing of the second build's
    assert proc.poll() is None  # the first build is untouched


def test_a_lock_whose_process_died_is_taken_over_with_a_warning(
    holder, tmp_path, shared_data, capsys, caplog
):
    work, proc = holder
    # as an OOM kill would: no cleanup ran, the lock file still names it
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert json.loads((work / LOCK_FILE).read_text())["pid"] == proc.pid

    # The whole CLI build then runs on that work dir (scripted model) and says it took the lock over.
    corpus = udhr_corpus(tmp_path / "corpus", shared_data)
    run = cli(build_args(tmp_path, corpus), capsys)
    assert run.code == 0, run.err
    assert (
        f"taking over the lock of a build that is no longer running (PID {proc.pid} on host"
        in caplog.text
    )
    assert read_json(tmp_path / "out" / "build_info.json")["funnel"]
    assert (work / LOCK_FILE).read_text() == ""  # released: free for the next build


def test_the_lock_is_held_for_the_build_and_free_after_it_even_after_an_error(tmp_path):
    with hold_work_dir(tmp_path):
        held = json.loads((tmp_path / LOCK_FILE).read_text())
        assert (held["pid"], held["host"]) == (os.getpid(), socket.gethostname())
        with pytest.raises(WorkDirBusyError, match=f"PID {os.getpid()} on host"):
            acquire(tmp_path)  # the same work dir again, e.g. a nested build: refused too
    with pytest.raises(RuntimeError):
        with hold_work_dir(tmp_path):
            raise RuntimeError("the build failed")
    release(acquire(tmp_path))  # free again


def test_a_lock_recorded_by_another_host_is_not_taken_over(tmp_path):
    # Its process cannot be checked from here (and a flock may not cross machines): refuse, say how to clear it.
    (tmp_path / LOCK_FILE).write_text(
        json.dumps({"pid": 4242, "host": "gpu-node-7", "started": "2026-12-01"})
    )
    with pytest.raises(
        WorkDirBusyError,
        match=r"in use by another build \(PID 4242 on host gpu-node-7, since "
        r"2026-12-01\).*if that build is no longer running, delete ",
    ):
        acquire(tmp_path)


@pytest.mark.slow  # two spawned ranks, each importing torch and loading the tiny model
def test_data_parallel_ranks_run_inside_the_drivers_lock(tmp_path, tiny_model_dir):
    """The ranks are processes of the same build: they run its shard tasks while the driver
    holds the lock, and are never refused as "another build"."""
    from helpers.executors import executor_config as _config

    from builder.executors.data_parallel import DataParallelExecutor
    from builder.pipeline.runner import Pipeline

    config = _config(tmp_path, tiny_model_dir, langs=["sw"], data_parallel=2, rounds=1)
    executor, workers = DataParallelExecutor(config), set()
    run = executor.run

    def recording_run(stage, tasks, bar):
        results = run(stage, tasks, bar)
        workers.update(r.worker for r in results)
        return results

    executor.run = recording_run
    with hold_work_dir(config.work_dir):  # as build() holds it around the pipeline and the export
        result = Pipeline(config, executor=executor).run()
        assert json.loads((Path(config.work_dir) / LOCK_FILE).read_text())["pid"] == os.getpid()
    assert len(workers) == 2 and result.build_info["engine_stats"]["calls"] > 0

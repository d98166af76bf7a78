"""scripts/slurm/x-instruction-ray.sbatch without SLURM: its dry run prints the commands it would
run (XI_SLURM_DRY_RUN=1), so the cluster it starts and the build it runs can be checked here."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="the script is a bash script")

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "slurm" / "x-instruction-ray.sbatch"


def _dry_run(nodes: str, *args: str) -> list[list[str]]:
    env = {
        **os.environ,
        "XI_SLURM_DRY_RUN": "1",
        "SLURM_JOB_NODELIST": nodes,
        "SLURM_GPUS_PER_NODE": "a100:4",
        "SLURM_CPUS_PER_TASK": "16",
    }
    run = subprocess.run(
        ["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=30
    )
    assert run.returncode == 0, run.stderr
    return [shlex.split(line) for line in run.stdout.splitlines()]


def test_one_head_then_a_worker_per_other_node_then_the_build_with_its_arguments():
    args = [
        "--langs",
        "sw,bn",
        "--model",
        "Qwen/Qwen2.5-7B-Instruct",
        "--work-dir",
        "/shared/xi work",
    ]
    lines = _dry_run("gpu01,gpu02,gpu03", *args)
    assert len(lines) == 4
    head, workers, build = lines[0], lines[1:3], lines[3]
    assert head[-1] == "&" and head[:5] == ["srun", "--nodes=1", "--ntasks=1", "-w", "gpu01"]
    assert head[5:8] == ["ray", "start", "--head"] and "--port=6379" in head
    assert "--num-gpus=4" in head and "--num-cpus=16" in head  # "a100:4" read as 4 GPUs
    for worker, node in zip(workers, ["gpu02", "gpu03"]):
        assert worker[:5] == ["srun", "--nodes=1", "--ntasks=1", "-w", node] and worker[-1] == "&"
        assert worker[5:8] == ["ray", "start", "--address=gpu01:6379"] and "--head" not in worker
    # the driver joins the head and gets the job's arguments unchanged (a space in a path included)
    assert build[:2] == ["env", "RAY_AUTH_MODE=token"]
    assert build[2:8] == [
        "x-instruction",
        "build",
        "--executor",
        "ray",
        "--ray-address",
        "gpu01:6379",
    ]
    assert build[-len(args) :] == args


def test_a_one_node_job_starts_no_worker():
    lines = _dry_run("gpu01", "--langs", "sw")
    assert [line[5:8] for line in lines[:-1]] == [["ray", "start", "--head"]]
    assert lines[-1][-2:] == ["--langs", "sw"]

"""`--executor ray` on a real cluster: two nodes (two `ray start`, two raylets) on this machine,
the build run from the CLI in a process of its own that joins them by address, as a user would.
The tiny random Llama generates (seconds per stage on a 2-core CPU) and a rater that says 5 to
everything refines, so rows reach the export."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from _ray_cluster import RayCluster
from test_executors import always_five_dir  # noqa: F401 (a fixture: the rater that keeps every pair)

pytestmark = [pytest.mark.ray, pytest.mark.slow]

BUILD_TIMEOUT = 600


def _args(model: Path, rater: Path, tmp: Path, name: str) -> list[str]:
    # Two languages of four shards each: eight generate shards to spread over two nodes.
    return ["build", "--langs", "sw,fi", "--corpus", "embedded", "--max-docs", "8", "--shard-size", "2",
            "--candidates", "2", "--rounds", "1", "--few-shot", "1", "--max-instruction-tokens", "12",
            "--target-size", "50", "--model", str(model), "--evaluator", str(rater), "--min-relevance", "0", "--engine", "transformers",
            "--work-dir", str(tmp / name / "work"), "--output-dir", str(tmp / name / "out")]


def _cli(args: list[str], env: dict, timeout: float = BUILD_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "builder.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def _parquet(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.parquet"))}


def _ray_info(tmp: Path, name: str) -> dict:
    return json.loads((tmp / name / "work" / "build_info.json").read_text(encoding="utf-8"))["ray"]


@pytest.fixture(scope="module")
def local_export(tmp_path_factory, tiny_model_dir, always_five_dir) -> Path:
    """The reference: the same command with the local executor, in this process."""
    from builder.cli import main

    tmp = tmp_path_factory.mktemp("cluster-local")
    assert main(_args(tiny_model_dir, always_five_dir, tmp, "local")) == 0
    assert _parquet(tmp / "local" / "out")  # the comparison means something only with files in it
    return tmp / "local" / "out"


@pytest.fixture
def cluster():
    pytest.importorskip("ray")
    pytest.importorskip("psutil")
    # A short root: Ray's Unix sockets live under the temp dir, and a socket path has at most 107 bytes.
    root = Path(tempfile.mkdtemp(prefix="xi-ray-"))
    cluster = RayCluster(root)
    try:
        start = time.perf_counter()
        cluster.start_node("node_a")
        cluster.start_node("node_b")
        print(f"two-node cluster up in {time.perf_counter() - start:.1f} s")
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_two_nodes_from_the_cli_give_the_local_export(tmp_path, tiny_model_dir, always_five_dir, local_export,
                                                      cluster):
    nodes = {name: node.node_id() for name, node in cluster.nodes.items()}
    start = time.perf_counter()
    run = _cli([*_args(tiny_model_dir, always_five_dir, tmp_path, "ray"), "--executor", "ray", "--ray-address", cluster.address,
                "--ray-actors", "2"], cluster.env)
    print(f"two-node build: {time.perf_counter() - start:.1f} s")
    assert run.returncode == 0, run.stderr[-3000:]
    assert _parquet(tmp_path / "ray" / "out") == _parquet(local_export)  # byte for byte
    shards = _ray_info(tmp_path, "ray")["shards_per_node"]
    assert set(shards) == set(nodes.values()), (shards, nodes)  # engine actors ran on both nodes

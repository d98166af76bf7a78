"""`--executor ray` on a real cluster: two nodes (two `ray start`, two raylets) on this machine,
the build run from the CLI in a process of its own that joins them by address, as a user would.
The tiny random Llama generates (seconds per stage on a 2-core CPU) and a rater that says 5 to
everything refines, so rows reach the export."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from _ray_cluster import RayCluster, free_port

pytestmark = [pytest.mark.ray, pytest.mark.slow]

BUILD_TIMEOUT = 600


def _args(model: Path, rater: Path, tmp: Path, name: str) -> list[str]:
    # Two languages of four shards each: eight generate shards to spread over two nodes.
    return [
        "build",
        "--langs",
        "sw,fi",
        "--corpus",
        "embedded",
        "--max-docs",
        "8",
        "--shard-size",
        "2",
        "--candidates",
        "2",
        "--rounds",
        "1",
        "--few-shot",
        "1",
        "--max-instruction-tokens",
        "12",
        "--target-size",
        "50",
        "--model",
        str(model),
        "--evaluator",
        str(rater),
        "--min-relevance",
        "0",
        "--engine",
        "transformers",
        "--work-dir",
        str(tmp / name / "work"),
        "--output-dir",
        str(tmp / name / "out"),
    ]


def _driver_env(cluster: RayCluster) -> dict:
    # Ray Data starts mapping as soon as one actor of the pool is up; with shards this small the
    # first actor may then map them all before the other node's actor has loaded its model. Each
    # stage waits here (at most 300 s) for all its actors, so both nodes get shards.
    return {**cluster.env, "RAY_DATA_DEFAULT_WAIT_FOR_MIN_ACTORS_S": "300"}


def _cli(args: list[str], env: dict, timeout: float = BUILD_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "builder.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


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
def start_cluster():
    """Starts a cluster of the nodes asked for (name: CPUs, the head first); stops every node it
    started when the test ends, failed or not."""
    pytest.importorskip("ray")
    pytest.importorskip("psutil")
    # A short root: Ray's Unix sockets live under the temp dir, and a socket path has at most 107 bytes.
    root = Path(tempfile.mkdtemp(prefix="xi-ray-"))
    cluster = RayCluster(root)

    def start(
        dashboard: bool = False,
        env: dict | None = None,
        node_env: dict[str, dict] | None = None,
        **nodes: int,
    ) -> RayCluster:
        if dashboard:
            cluster.dashboard_port = free_port()
        cluster.env.update(env or {})
        begin = time.perf_counter()
        for name, cpus in nodes.items():
            cluster.start_node(name, cpus, env=(node_env or {}).get(name))
        print(f"{len(nodes)}-node cluster up in {time.perf_counter() - begin:.1f} s")
        return cluster

    try:
        yield start
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def cluster(start_cluster) -> RayCluster:
    return start_cluster(node_a=1, node_b=1)


def test_two_nodes_from_the_cli_give_the_local_export(
    tmp_path, tiny_model_dir, always_five_dir, local_export, cluster
):
    nodes = {name: node.node_id() for name, node in cluster.nodes.items()}
    start = time.perf_counter()
    run = _cli(
        [
            *_args(tiny_model_dir, always_five_dir, tmp_path, "ray"),
            "--executor",
            "ray",
            "--ray-address",
            cluster.address,
            "--ray-actors",
            "2",
        ],
        _driver_env(cluster),
    )
    print(f"two-node build: {time.perf_counter() - start:.1f} s")
    assert run.returncode == 0, run.stderr[-3000:]
    assert _parquet(tmp_path / "ray" / "out") == _parquet(local_export)  # byte for byte
    shards = _ray_info(tmp_path, "ray")["shards_per_node"]
    assert set(shards) == set(nodes.values()), (shards, nodes)  # engine actors ran on both nodes


def _wait_for_a_shard_started_on(
    work: Path, node_id: str, build: subprocess.Popen, timeout: float = 300.0
) -> str:
    """Until the node's engine actor has started a shard of a model stage (each actor notes the
    shards it starts); returns that stage."""
    deadline = time.monotonic() + timeout
    while not (started := list((work / "ray-attempts").glob(f"*/*.{node_id}"))):
        if build.poll() is not None or time.monotonic() > deadline:
            raise TimeoutError(
                f"node {node_id} started no shard (build exit code {build.returncode}): "
                f"{build.stderr.read()[-3000:] if build.returncode is not None else ''}"
            )
        time.sleep(0.02)
    return started[0].parent.name


def _build_losing_node_b(cluster, args: list[str], work: Path):
    """Run the CLI build and kill node_b's raylet (the node is gone, its actor with it) as soon
    as its actor starts a shard; return the finished process, its stderr, the stage the shard
    belonged to and the seconds from start to the kill."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "builder.cli", *args],
        env=_driver_env(cluster),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stage = _wait_for_a_shard_started_on(work, cluster.nodes["node_b"].node_id(), proc)
        os.kill(cluster.nodes["node_b"].raylet_pid(), signal.SIGKILL)
        killed = time.perf_counter() - start
        _, err = proc.communicate(timeout=BUILD_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc, err, stage, killed


def _holding_results(seconds: float) -> dict:
    """A node's environment in which its engine actor holds each shard's result `seconds` before
    returning it (tests/slow_ray_node/sitecustomize.py)."""
    return {
        "X_INSTRUCTION_TEST_HOLD_S": str(seconds),
        "PYTHONPATH": str(Path(__file__).resolve().parent / "slow_ray_node"),
    }


def test_a_node_lost_mid_build_is_survived(
    tmp_path, tiny_model_dir, always_five_dir, local_export, start_cluster
):
    """node_b's raylet is killed as soon as its actor starts a shard: the build ends on node_a
    with the same export, and says which node it lost and how many shards ran again. node_b
    holds each result 60 s, so the shard it started is still unreturned when it dies, however
    loaded the machine (a two-text shard can otherwise finish before the kill)."""
    cluster = start_cluster(node_a=1, node_b=1, node_env={"node_b": _holding_results(60)})
    survivor, lost = cluster.nodes["node_a"].node_id(), cluster.nodes["node_b"].node_id()
    args = [
        *_args(tiny_model_dir, always_five_dir, tmp_path, "ray"),
        "--executor",
        "ray",
        "--ray-address",
        cluster.address,
        "--ray-actors",
        "2",
    ]
    start = time.perf_counter()
    proc, err, stage, killed = _build_losing_node_b(cluster, args, tmp_path / "ray" / "work")
    print(
        f"build with node_b lost in {stage} after {killed:.1f} s: {time.perf_counter() - start:.1f} s"
    )
    print("\n".join(line for line in err.splitlines() if "ray:" in line))
    assert proc.returncode == 0, err[-3000:]
    assert _parquet(tmp_path / "ray" / "out") == _parquet(local_export)
    info = _ray_info(tmp_path, "ray")
    assert survivor in info["shards_per_node"]
    assert info["lost_nodes"] == [lost]
    assert info["shards_retried"] >= 1  # the shard node_b had started
    said = [line for line in err.splitlines() if "ray: lost node" in line]
    assert len(said) == 1 and said[0].endswith(
        f"ray: lost node {lost}; {info['shards_retried']} shard(s) it had started ran again on the nodes left"
    ), said
    assert not (tmp_path / "ray" / "work" / "ray-attempts").exists()  # cleared with the build


def test_with_no_node_left_the_build_stops_and_the_same_command_resumes(
    tmp_path, tiny_model_dir, always_five_dir, local_export, start_cluster
):
    """A head without CPUs and one worker node: the worker is lost mid-generate, so no node can
    hold an engine actor. The build stops with one line; once a node joins, the same command
    finishes the build with the same export."""
    cluster = start_cluster(node_a=0, node_b=1)
    lost = cluster.nodes["node_b"].node_id()
    args = [
        *_args(tiny_model_dir, always_five_dir, tmp_path, "ray"),
        "--executor",
        "ray",
        "--ray-address",
        cluster.address,
        "--ray-actors",
        "1",
    ]
    start = time.perf_counter()
    proc, err, _, _ = _build_losing_node_b(cluster, args, tmp_path / "ray" / "work")
    said = [
        line
        for line in err.splitlines()
        if line.startswith("x-instruction: error: the Ray cluster lost")
    ]
    print(f"build stopped after {time.perf_counter() - start:.1f} s: {said}")
    assert proc.returncode == 1, err[-3000:]
    assert len(said) == 1 and f"nodes lost: {lost})" in said[0], err[-3000:]
    assert "has no node left that can run an engine actor" in said[0]
    cluster.start_node("node_c", 1)
    start = time.perf_counter()
    run = _cli(args, _driver_env(cluster))
    print(f"the same command on a new node: {time.perf_counter() - start:.1f} s")
    assert run.returncode == 0, run.stderr[-3000:]
    assert _parquet(tmp_path / "ray" / "out") == _parquet(local_export)
    assert set(_ray_info(tmp_path, "ray")["shards_per_node"]) == {cluster.nodes["node_c"].node_id()}


def _ray_cli(cluster: RayCluster, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    ray = Path(sys.executable).with_name("ray")
    return subprocess.run(
        [str(ray), *args], env=cluster.env, capture_output=True, text=True, timeout=timeout
    )


def _secret_spots(secret: str, texts: dict[str, str]) -> list[str]:
    """Where `secret` shows (as is, or base64 as a Basic-auth header would carry it)."""
    import base64

    forms = {secret, base64.b64encode(secret.encode()).decode()}
    return [where for where, text in texts.items() if any(form in text for form in forms)]


def _cluster_logs(cluster: RayCluster) -> dict[str, str]:
    """Every log file the nodes wrote: the job's driver, each worker and actor (stdout and
    stderr), the dashboard and its job manager, the raylets."""
    return {
        str(p.relative_to(cluster.root)): p.read_text(errors="replace")
        for node in cluster.nodes.values()
        for p in node.temp_dir.glob("session_*/logs/**/*")
        if p.is_file()
    }


def test_ray_job_submit_runs_the_build_on_the_cluster(
    tmp_path, tiny_model_dir, always_five_dir, local_export, start_cluster
):
    """The README's job submission: `ray job submit --address http://HEAD:8265 -- x-instruction
    build --executor ray ...` against a head whose dashboard holds the job server, and a worker
    node. The job's driver runs on the head and joins the cluster with `--ray-address auto`
    (Ray sets RAY_ADDRESS for a job). The export equals the local executor's, byte for byte; the
    job's logs show the funnel, and no log of the job, its actors or the nodes shows the node's
    HF_TOKEN or the cluster's auth token."""
    from ray._private.utils import get_dashboard_dependency_error

    if get_dashboard_dependency_error() is not None:  # the job server lives in Ray's dashboard
        pytest.skip(
            f"ray job submit needs ray[default] (the test extra has it): {get_dashboard_dependency_error()}"
        )
    secret = "hf_" + os.urandom(12).hex()  # what a cluster with a gated model exports on every node
    cluster = start_cluster(dashboard=True, env={"HF_TOKEN": secret}, node_a=1, node_b=1)
    nodes = {node.node_id() for node in cluster.nodes.values()}
    command = [
        str(Path(sys.executable).with_name("x-instruction")),
        "-v",
        *_args(tiny_model_dir, always_five_dir, tmp_path, "job"),
        "--executor",
        "ray",
        "--ray-address",
        "auto",
        "--ray-actors",
        "2",
    ]
    # each stage waits for both actors (see _driver_env), passed as a user passes a job's settings
    runtime_env = {"env_vars": {"RAY_DATA_DEFAULT_WAIT_FOR_MIN_ACTORS_S": "300"}}
    job_id = f"xi-build-{os.urandom(4).hex()}"
    start = time.perf_counter()
    submitted = _ray_cli(
        cluster,
        "job",
        "submit",
        "--address",
        cluster.job_address,
        "--submission-id",
        job_id,
        "--runtime-env-json",
        json.dumps(runtime_env),
        "--",
        *command,
        timeout=BUILD_TIMEOUT,
    )
    print(f"ray job submit, until the job ended: {time.perf_counter() - start:.1f} s")
    status = _ray_cli(cluster, "job", "status", "--address", cluster.job_address, job_id)
    logs = _ray_cli(cluster, "job", "logs", "--address", cluster.job_address, job_id).stdout
    assert f"Job '{job_id}' succeeded" in status.stdout, (
        status.stdout,
        submitted.stderr[-2000:],
        logs[-3000:],
    )
    assert submitted.returncode == 0, submitted.stderr[-2000:]

    assert _parquet(tmp_path / "job" / "out") == _parquet(local_export)  # byte for byte
    info = json.loads((tmp_path / "job" / "work" / "build_info.json").read_text(encoding="utf-8"))
    assert set(info["ray"]["shards_per_node"]) == nodes  # the job's actors ran on both nodes
    # the job's logs show the funnel the build printed: its header, and each language's texts read
    funnel = info["funnel"]
    assert any(line.startswith("lang") and "prepare" in line for line in logs.splitlines()), logs[
        -3000:
    ]
    for lang in ("sw", "fi"):
        assert any(
            line.split()[:2] == [lang, str(funnel[lang]["rows_in"])] for line in logs.splitlines()
        ), lang

    texts = {
        "ray job submit (stdout)": submitted.stdout,
        "ray job submit (stderr)": submitted.stderr,
        "ray job logs": logs,
        **_cluster_logs(cluster),
    }
    # the actors' own output was read too
    assert any("worker-" in name for name in texts), sorted(texts)
    assert _secret_spots(secret, texts) == []
    assert _secret_spots((cluster.root / "auth_token").read_text().strip(), texts) == []
    # the scan finds a secret where there is one (so an empty answer above means something)
    assert _secret_spots(secret, {"planted": f"token={secret}"}) == ["planted"]

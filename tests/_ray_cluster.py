"""A real Ray cluster of separate nodes on this machine, started with `ray start` as a user would.

Each node is one `ray start --block` process in a session of its own, with its own temp dir (so
its own raylet, object store and logs): stopping a node kills that process group, and nothing
else, so Ray clusters of other users of the machine are left alone (a global `ray stop` would
end them too). Token authentication (on by default for `ray start` since Ray 2.59) is asked for
explicitly, with a token file of this cluster's own, so the test does not depend on whether
~/.ray/auth_token exists; the driver gets the same environment (README, "Scale-out").
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

READY = "block forever"  # what `ray start --block` prints once the node has joined the cluster


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RayNode:
    def __init__(self, name: str, proc: subprocess.Popen, log: Path, temp_dir: Path):
        self.name, self.proc, self.log, self.temp_dir = name, proc, log, temp_dir

    def raylet_pid(self) -> int:
        """The raylet of this node: the process that makes it a node (killing it loses the node)."""
        import psutil

        for child in psutil.Process(self.proc.pid).children(recursive=True):
            if child.name() == "raylet":
                return child.pid
        raise RuntimeError(f"node {self.name} has no raylet (log: {self.log})")

    def node_id(self) -> str:
        for arg in open(f"/proc/{self.raylet_pid()}/cmdline").read().split("\0"):
            if arg.startswith("--node_id="):
                return arg.split("=", 1)[1]
        raise RuntimeError(f"node {self.name}: no --node_id in its raylet's command line")

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM to the node's process group (Ray shuts its processes down), SIGKILL to what is left.
        Then SIGKILL to any process left in the node's session: a job's workers (the job
        supervisor, its driver) run in process groups of their own, inside the session that
        `start_new_session` gave the node, and can outlive their raylet."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and _group_alive(self.proc.pid):
                self.proc.poll()
                time.sleep(0.2)
            if not _group_alive(self.proc.pid):
                break
        self.proc.wait(timeout=timeout)
        for pid in _session_pids(self.proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _session_pids(sid: int) -> list[int]:
    """Live processes of session `sid` (a node's `ray start` and everything it started)."""
    pids = []
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                pids.append(int(pid))
    return pids


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    # zombies of the group count as gone
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


class RayCluster:
    """A head node and worker nodes, each with its CPUs and a custom resource named after it."""

    def __init__(self, root: Path, dashboard: bool = False):
        self.root = root
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        # The dashboard holds Ray's job server (`ray job submit`); it needs `ray[default]`.
        self.dashboard_port = free_port() if dashboard else None
        token = root / "auth_token"
        token.write_text(secrets.token_hex(32))
        self.env = {
            **os.environ,
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN_PATH": str(token),
            "RAY_USAGE_STATS_ENABLED": "0",
            # the engine actors import `builder` from this checkout
            "PYTHONPATH": os.pathsep.join(
                filter(
                    None, [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH")]
                )
            ),
        }
        self.nodes: dict[str, RayNode] = {}

    def start_node(
        self, name: str, cpus: int = 1, timeout: float = 120.0, env: dict | None = None
    ) -> RayNode:
        ray = Path(sys.executable).with_name("ray")
        dashboard = (
            ["--include-dashboard", "false"]
            if self.dashboard_port is None
            else [
                "--include-dashboard",
                "true",
                "--dashboard-host",
                "127.0.0.1",
                "--dashboard-port",
                str(self.dashboard_port),
            ]
        )
        where = (
            ["--head", "--port", str(self.port), *dashboard]
            if not self.nodes
            else ["--address", self.address]
        )
        temp_dir = self.root / name  # a node's own sockets, object store spill and logs
        log = self.root / f"{name}.log"
        cmd = [
            str(ray),
            "start",
            *where,
            "--num-cpus",
            str(cpus),
            "--resources",
            json.dumps({name: 1}),
            "--node-ip-address",
            "127.0.0.1",
            "--temp-dir",
            str(temp_dir),
            "--object-store-memory",
            str(100 * 2**20),
            "--disable-usage-stats",
            "--block",
        ]
        with open(log, "w") as out:
            proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self._node_env(env),
                start_new_session=True,
            )
        node = self.nodes[name] = RayNode(name, proc, log, temp_dir)
        deadline = time.monotonic() + timeout
        while READY not in log.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"ray start for node {name} failed or took over {timeout:.0f} s: "
                    f"{log.read_text()[-2000:]}"
                )
            time.sleep(0.5)
        return node

    def _node_env(self, env: dict | None) -> dict:
        """The cluster's environment with a node's own variables; a node's PYTHONPATH goes
        before the cluster's, which the actors need to import `builder`."""
        env = dict(env or {})
        if "PYTHONPATH" in env:
            env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], self.env["PYTHONPATH"]])
        return {**self.env, **env}

    @property
    def job_address(self) -> str:
        """Where `ray job submit --address` reaches the head's job server."""
        return f"http://127.0.0.1:{self.dashboard_port}"

    def stop(self) -> None:
        for node in reversed(list(self.nodes.values())):  # workers first, the head last
            node.stop()

"""A real Ray cluster of two nodes on this machine, started the way a user starts one.

``ray start --head`` and ``ray start --address`` (one CPU each, each node with its own temp
folder and in its own process group) make two raylets; a link runs there through the Python
API and through the CLI, and each output must equal the local backend's, as the Ray backend
promises. tests/test_ray.py tests the backend's stages on Ray's ``Cluster`` utility; this
module tests the recipe of docs/guide/scale.md end to end, and that the work ran on both nodes.

The drivers run in child processes (the Python one is this file run as a script): Ray allows
one cluster per process, and the cluster uses token authentication with a token of its own,
which the children get in their environment, so nothing here depends on the Ray state of the
pytest process or on ``~/.ray/auth_token``. The nodes are stopped by signalling their own
``ray start --block`` processes (never ``ray stop``, which stops every Ray on the machine).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import linker as lk
from linker.backend import get_backend
from linker.data.demo import make_demo
from linker.frames import read

try:
    import ray  # noqa: F401
except ImportError:  # pragma: no cover - CI installs the extra, so there it must not skip
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("the Ray backend needs Ray: pip install 'linker[ray]'", allow_module_level=True)

pytestmark = pytest.mark.slow  # two Ray nodes and three model loads: a minute or two

ROOT = Path(__file__).resolve().parents[1]
RAY = shutil.which("ray", path=Path(sys.executable).parent) or "ray"  # the venv's, else PATH's
ON = ["name", "street", "city", "state", "zip", "phone"]
START_TIMEOUT_S = 120.0
RUN_TIMEOUT_S = 600.0
STOP_TIMEOUT_S = 60.0  # a node drains for up to 30 s after SIGTERM
OBJECT_STORE_BYTES = 200 * 2**20
# the Ray tasks that run linker's stages: the search shards, and Ray Data's map tasks, which
# run the embedding and pair-feature blocks
STAGE_TASKS = ("linker.vectors.ann.search_shard", "map_operator._map_task")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return int(s.getsockname()[1])


@dataclass
class Node:
    """One ``ray start --block`` process and the temp folder of its node."""

    process: subprocess.Popen[bytes]
    temp_dir: Path

    def log(self) -> str:
        return (self.temp_dir / "start.log").read_text(errors="replace")[-3000:]

    def address(self) -> str:
        """The head's address once the node is up (Ray writes it to the node's temp folder)."""
        path = self.temp_dir / "ray_current_cluster"
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (path.exists() and path.read_text().strip()):
            code = self.process.poll()
            assert code is None, f"`ray start` exited with {code}:\n{self.log()}"
            assert time.monotonic() < deadline, f"no Ray node after {START_TIMEOUT_S} s"
            time.sleep(0.2)
        return path.read_text().strip()

    def worker_ids(self) -> set[str]:
        """The Ray worker processes this node started: Ray names each one's log
        ``worker-<worker id>-<job id>-<pid>.out`` in the node's own log folder."""
        logs = self.temp_dir / "session_latest" / "logs"
        return {p.name.split("-")[1] for p in logs.glob("worker-*.out")}


def _stop(nodes: list[Node]) -> None:
    """SIGTERM to each ``ray start --block``: its node drains and stops the processes it
    started; then SIGKILL to whatever is left of each one's process group (its own only)."""
    for node in nodes:
        if node.process.poll() is None:
            node.process.terminate()
    for node in nodes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            node.process.wait(timeout=STOP_TIMEOUT_S)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(node.process.pid, signal.SIGKILL)
        node.process.wait(timeout=STOP_TIMEOUT_S)


def _start_node(args: list[str], env: dict[str, str], temp_dir: Path) -> Node:
    temp_dir.mkdir()
    cmd = [RAY, "start", *args, "--num-cpus", "1", "--temp-dir", str(temp_dir)]
    cmd += ["--object-store-memory", str(OBJECT_STORE_BYTES), "--disable-usage-stats"]
    # ports: the GCS port is chosen by the caller; others random, so that any other Ray on
    # this machine (another test run) and the second node do not collide with them
    cmd += ["--dashboard-agent-listen-port", str(_free_port())]
    cmd += ["--min-worker-port", "0", "--max-worker-port", "0", "--block"]
    with open(temp_dir / "start.log", "wb") as log:
        process = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    return Node(process, temp_dir)


@dataclass
class TwoNodes:
    address: str
    env: dict[str, str]  # what a driver needs: the cluster's token, this tree on PYTHONPATH
    head: Node
    worker: Node

    def logs(self) -> str:
        return f"head:\n{self.head.log()}\nsecond node:\n{self.worker.log()}"


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[TwoNodes]:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, PYTHONPATH=path, RAY_USAGE_STATS_ENABLED="0")
    env |= {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    # a short folder: Ray's socket paths under it must fit in 107 bytes
    temp = Path(tempfile.mkdtemp(prefix="lkray-"))
    nodes: list[Node] = []
    try:
        port = _free_port()
        nodes.append(_start_node(["--head", "--port", str(port), "--include-dashboard", "false"],
                                 env, temp / "head"))  # fmt: skip
        address = nodes[0].address()
        nodes.append(_start_node(["--address", address], env, temp / "node2"))
        nodes[1].address()
        yield TwoNodes(address, env, nodes[0], nodes[1])
    finally:
        _stop(nodes[::-1])  # the second node first, then the head
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[pl.DataFrame, pl.DataFrame, Path]:
    left, right, _ = make_demo(300, seed=7)
    folder = tmp_path_factory.mktemp("two_nodes")
    left.write_parquet(folder / "left.parquet")
    right.write_parquet(folder / "right.parquet")
    left.write_csv(folder / "a.csv")
    right.write_csv(folder / "b.csv")
    return left, right, folder


def _run(cmd: list[str], cluster: TwoNodes) -> None:
    run = subprocess.run(
        cmd, env=cluster.env, cwd=ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT_S
    )
    assert run.returncode == 0, f"{run.stdout[-2000:]}\n{run.stderr[-4000:]}\n{cluster.logs()}"


def test_link_on_two_nodes_equals_local(
    two_nodes: TwoNodes, demo: tuple[pl.DataFrame, pl.DataFrame, Path]
) -> None:
    left, right, folder = demo
    _run([sys.executable, __file__, two_nodes.address, str(folder)], two_nodes)
    seen = json.loads((folder / "seen.json").read_text())
    assert len(seen["nodes"]) == 2 and seen["workers"] == 2, seen  # two nodes, a CPU each

    local = lk.Linker(on=ON).link(left, right).frame  # the default model, as the driver's
    assert (local["_merge"] == "both").sum() > 100  # a real linkage, not an empty one
    assert_frame_equal(pl.read_parquet(folder / "ray_frame.parquet"), local)

    ran = {w for task, workers in seen["ran"].items() for w in workers if task in STAGE_TASKS}
    head, second = two_nodes.head.worker_ids(), two_nodes.worker.worker_ids()
    assert ran & head and ran & second, (
        f"linker's Ray tasks ran on workers {sorted(ran)}; the head started {sorted(head)}, "
        f"the second node {sorted(second)}: {seen['ran']}"
    )


def test_cli_merge_on_two_nodes_equals_local(
    two_nodes: TwoNodes, demo: tuple[pl.DataFrame, pl.DataFrame, Path]
) -> None:
    _, _, folder = demo
    a, b, out = folder / "a.csv", folder / "b.csv", folder / "cli_out.csv"
    cmd = [sys.executable, "-m", "linker", "merge", str(a), str(b), "--on", ",".join(ON)]
    cmd += ["--backend", "ray", "--address", two_nodes.address, "-q", "-o", str(out)]
    _run(cmd, two_nodes)
    expected = folder / "expected.csv"
    lk.merge(read(str(a)), read(str(b)), on=ON).write_csv(expected)  # the default model
    assert out.read_bytes() == expected.read_bytes()


# -- the Python driver, run as `python tests/test_cluster_nodes.py ADDRESS FOLDER` -----------
def _alive_nodes(ray: Any, want: int) -> list[str]:
    """The cluster's live nodes, once ``want`` of them have registered."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        alive = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])
        if len(alive) >= want or time.monotonic() > deadline:
            return alive
        time.sleep(0.5)


def _task_workers(ray: Any) -> dict[str, list[str]]:
    """Which Ray worker ran each task, from the cluster's timeline (read until it is stable:
    workers report their task events about once a second)."""
    seen: dict[str, set[str]] = {}
    for _ in range(10):
        before = {k: set(v) for k, v in seen.items()}
        for event in ray.timeline():  # its own 1 s wait for the last reports
            kind, _, worker = str(event["tid"]).partition(":")
            if kind == "worker":
                seen.setdefault(str(event["name"]), set()).add(worker)
        if seen == before:
            break
    return {name: sorted(workers) for name, workers in seen.items()}


def _drive(address: str, folder: Path) -> None:
    """Link the demo tables on the cluster at ``address``; write the frame and what ran where."""
    import ray

    backend = get_backend("ray", address=address)
    workers = backend.workers()  # connects
    nodes = _alive_nodes(ray, 2)
    left, right = (
        pl.read_parquet(folder / "left.parquet"),
        pl.read_parquet(folder / "right.parquet"),
    )
    result = lk.Linker(on=ON, backend=backend).link(left, right)
    result.frame.write_parquet(folder / "ray_frame.parquet")
    seen = {"workers": workers, "nodes": nodes, "ran": _task_workers(ray)}
    (folder / "seen.json").write_text(json.dumps(seen, indent=1))
    backend.close()


if __name__ == "__main__":
    _drive(sys.argv[1], Path(sys.argv[2]))

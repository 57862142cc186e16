"""A two-node Ray cluster on one machine (`ray start --head` plus a second `ray start --address`, one CPU each,
separate temp dirs): `codecbench run --engine ray` joins it by its address or by `--ray-address auto`, codes and
scores on both nodes and gives the local engine's rows; `auto` with no cluster to find is a one-line error."""

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from run_helpers import comparable, session_processes

from codecbench.datasets import select
from codecbench.runner import run_benchmark

pytest.importorskip("ray")
from codecbench.engines.ray import auto_address  # noqa: E402 - needs Ray

RAY = str(Path(sys.executable).with_name("ray"))
# a throwaway cluster on localhost: no token to share; Ray's temp dir and address only as each test sets them
ENV = {**{k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_TMPDIR")}, "RAY_AUTH_MODE": "disabled"}
SPECS = ["opus@6", "codec2@2.4"]
WAIT_FOR_NODES = """
import sys, time, ray
deadline = time.monotonic() + 240
while not ray.is_initialized():
    try:
        ray.init(address=sys.argv[1], include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    except ConnectionError:
        if time.monotonic() > deadline:
            sys.exit(1)
        time.sleep(2)
while sum(node["Alive"] for node in ray.nodes()) < int(sys.argv[2]) and time.monotonic() < deadline:
    time.sleep(1)
sys.exit(0 if sum(node["Alive"] for node in ray.nodes()) == int(sys.argv[2]) else 1)
"""


HEAD_TRIES = 3  # a port found free can be taken by another process before `ray start` binds it: try another


@contextmanager
def unused_port() -> Iterator[int]:
    """A localhost port that nothing listens on while the block runs: bound here without listening, so no other
    process can take it meanwhile, and a connection to it is refused."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


def wait_for_nodes(address: str, count: int, head: subprocess.Popen) -> bool:
    """Until `count` nodes of the cluster at `address` are alive (True), or the head exited (False)."""
    waiter = subprocess.Popen([sys.executable, "-c", WAIT_FOR_NODES, address, str(count)], env=ENV,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while waiter.poll() is None:
            if head.poll() is not None:
                return False
            try:
                waiter.wait(timeout=1)
            except subprocess.TimeoutExpired:
                continue
        assert waiter.returncode == 0, waiter.stderr.read()[-2000:]
        return True
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait()


def stop(node: subprocess.Popen) -> None:
    """End a `ray start --block` and every process it started (they share its session)."""
    node.send_signal(signal.SIGTERM)
    try:
        node.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pass
    for pid in session_processes(node.pid):
        os.kill(pid, signal.SIGKILL)


@dataclass(frozen=True)
class Cluster:
    """A running cluster: its head's address, and the root of the head's temp dir (`ray start --head --temp-dir
    ROOT/ray`, so a driver with `RAY_TMPDIR=ROOT` finds the address that `ray start` recorded there)."""

    address: str
    temp_root: Path

    @property
    def record(self) -> Path:
        return self.temp_root / "ray" / "ray_current_cluster"


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory) -> Cluster:
    common = ["--block", "--num-cpus", "1", "--disable-usage-stats"]
    nodes: list[subprocess.Popen] = []
    try:
        for _ in range(HEAD_TRIES):
            with unused_port() as port:
                cluster = Cluster(f"127.0.0.1:{port}", tmp_path_factory.mktemp("h"))
            head = subprocess.Popen([RAY, "start", "--head", "--port", str(port), "--include-dashboard", "false",
                                     "--temp-dir", str(cluster.temp_root / "ray"), *common],
                                    start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    env=ENV)
            nodes.append(head)
            if wait_for_nodes(cluster.address, 1, head):
                break
        else:
            pytest.fail(f"ray start --head failed {HEAD_TRIES} times")
        nodes.append(subprocess.Popen([RAY, "start", "--address", cluster.address, "--temp-dir",
                                       str(tmp_path_factory.mktemp("w")), *common], start_new_session=True,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV))
        assert wait_for_nodes(cluster.address, 2, head), "the head exited"
        yield cluster
    finally:
        for node in reversed(nodes):
            stop(node)


@pytest.fixture(scope="module")
def local_rows(tmp_path_factory, librispeech_root) -> pd.DataFrame:
    return run_benchmark(select("librispeech", librispeech_root, "sample", 4), SPECS, ["stoi"],
                         tmp_path_factory.mktemp("local") / "run", progress=False).rows


def run_on_cluster(out: Path, root: Path, address: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "codecbench.cli", "run", "--engine", "ray", "--ray-address", address,
                           "--root", str(root), "--split", "sample", "--limit", "4", "--codecs", ",".join(SPECS),
                           "--metrics", "stoi", "--no-progress", "--out", str(out)],
                          capture_output=True, text=True, timeout=600, env=env)


@pytest.mark.parametrize("how", ["address", "auto"])
def test_a_run_joins_a_two_node_cluster_and_codes_on_both(two_nodes, tmp_path, librispeech_root, local_rows, how):
    """By the head's address, and by `auto` as on the head node after `ray start --head`: the address that
    `ray start` recorded in Ray's temp dir (found here through RAY_TMPDIR, as the head's --temp-dir is not /tmp/ray)."""
    out = tmp_path / "cluster"
    if how == "address":
        done = run_on_cluster(out, librispeech_root, two_nodes.address, ENV)
    else:
        assert two_nodes.record.is_file()
        done = run_on_cluster(out, librispeech_root, "auto", {**ENV, "RAY_TMPDIR": str(two_nodes.temp_root)})
    assert done.returncode == 0, done.stderr
    joined = next(line for line in done.stderr.splitlines() if line.startswith("joined the Ray cluster at "))
    assert ":" + two_nodes.address.split(":")[1] in joined and "2 nodes, 2 CPUs" in joined, joined
    assert (f"(from {two_nodes.record})" in joined) == (how == "auto")
    per_node = [line for line in done.stderr.splitlines() if line.startswith("rows per node: ")]
    assert len(per_node) == 1 and per_node[0].count("coded") == 2, done.stderr
    assert "coded 0" not in per_node[0]
    assert done.stderr.splitlines() == [joined, per_node[0]]  # nothing of Ray's own logs
    pd.testing.assert_frame_equal(comparable(pd.read_parquet(out / "utterances.parquet")), comparable(local_rows))


@pytest.mark.parametrize("recorded", [False, True])
def test_auto_without_a_live_cluster_is_one_line_exit_2_nothing_written(tmp_path, librispeech_root, recorded):
    """RAY_ADDRESS unset and no address recorded in Ray's temp dir (Ray's own last resort, any Ray process on the
    machine, is not used: here it would join the module's cluster or another user's), or the recorded address of
    a cluster that is gone (Ray would retry it for minutes)."""
    record, out = tmp_path / "ray" / "ray_current_cluster", tmp_path / "run"
    with unused_port() as port:  # refused while the run tries it
        if recorded:
            record.parent.mkdir()
            record.write_text(f"127.0.0.1:{port}")
        done = run_on_cluster(out, librispeech_root, "auto", {**ENV, "RAY_TMPDIR": str(tmp_path)})
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"codecbench run: error: --ray-address auto (address from {record}): no Ray "
                                        f"cluster answers at 127.0.0.1:{port} (Connection refused); is it running "
                                        f"(`ray status --address 127.0.0.1:{port}`)?" if recorded else
                                        "codecbench run: error: --ray-address auto found no Ray cluster: RAY_ADDRESS "
                                        f"is unset and no `ray start` recorded one in {record} (a head started with "
                                        "--temp-dir DIR records it in DIR); start one with `ray start --head`, or pass "
                                        "its address"]
    assert not out.exists()


def test_auto_takes_ray_address_before_the_recorded_address(tmp_path, monkeypatch):
    """RAY_ADDRESS (as `ray job submit` sets it) wins over what `ray start` recorded, as in `ray.init("auto")`."""
    (tmp_path / "ray").mkdir()
    (tmp_path / "ray" / "ray_current_cluster").write_text("10.0.0.1:6379")
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert auto_address() == ("10.0.0.1:6379", str(tmp_path / "ray" / "ray_current_cluster"))
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.2:6379")
    assert auto_address() == ("10.0.0.2:6379", "RAY_ADDRESS")

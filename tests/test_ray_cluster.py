"""A two-node Ray cluster on one machine (`ray start --head` plus a second `ray start --address`, one CPU each):
`codecbench run --engine ray --ray-address` codes and scores on both nodes and gives the local engine's rows."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from run_helpers import comparable, session_processes

from codecbench.datasets import select
from codecbench.runner import run_benchmark

pytest.importorskip("ray")
RAY = str(Path(sys.executable).with_name("ray"))
ENV = {**os.environ, "RAY_AUTH_MODE": "disabled"}  # a throwaway cluster on localhost: no token to share
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop(node: subprocess.Popen) -> None:
    """End a `ray start --block` and every process it started (they share its session)."""
    node.send_signal(signal.SIGTERM)
    try:
        node.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pass
    for pid in session_processes(node.pid):
        os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory):
    address = f"127.0.0.1:{free_port()}"
    common = ["--block", "--num-cpus", "1", "--disable-usage-stats"]
    head = subprocess.Popen([RAY, "start", "--head", "--port", address.split(":")[1], "--include-dashboard", "false",
                             "--temp-dir", str(tmp_path_factory.mktemp("ray")), *common],
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    nodes = [head]
    try:
        for count in (1, 2):
            if count == 2:
                nodes.append(subprocess.Popen([RAY, "start", "--address", address, *common], start_new_session=True,
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV))
            waited = subprocess.run([sys.executable, "-c", WAIT_FOR_NODES, address, str(count)], env=ENV,
                                    capture_output=True, timeout=300)
            assert waited.returncode == 0, waited.stderr[-2000:]
        yield address
    finally:
        for node in reversed(nodes):
            stop(node)


def test_a_run_joins_a_two_node_cluster_and_codes_on_both(two_nodes, tmp_path, librispeech_root):
    out = tmp_path / "cluster"
    done = subprocess.run([sys.executable, "-m", "codecbench.cli", "run", "--engine", "ray", "--ray-address", two_nodes,
                           "--root", str(librispeech_root), "--split", "sample", "--limit", "4", "--codecs",
                           "opus@6,codec2@2.4", "--metrics", "stoi", "--no-progress", "--out", str(out)],
                          capture_output=True, text=True, timeout=600, env=ENV)
    assert done.returncode == 0, done.stderr
    per_node = [line for line in done.stderr.splitlines() if line.startswith("rows per node: ")]
    assert len(per_node) == 1 and per_node[0].count("coded") == 2, done.stderr
    assert "coded 0" not in per_node[0]
    local = run_benchmark(select("librispeech", librispeech_root, "sample", 4), ["opus@6", "codec2@2.4"], ["stoi"],
                          tmp_path / "local", progress=False)
    pd.testing.assert_frame_equal(comparable(pd.read_parquet(out / "utterances.parquet")), comparable(local.rows))

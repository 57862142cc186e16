"""`codecbench mushra serve` as a child process: start it on a free port, wait until it answers, stop or SIGKILL it.

Load benchmarks, probes and tests drive the real server through this; the admin password travels in
`$CODECBENCH_MUSHRA_ADMIN_PASSWORD`, never on the command line.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

PASSWORD_ENV = "CODECBENCH_MUSHRA_ADMIN_PASSWORD"


@dataclass
class ServerProcess:
    """A running `codecbench mushra serve`.

    Args:
        url: its base URL.
        db: its results database.
        process: the child process.
        log: the file that receives its stdout and stderr.
    """

    url: str
    db: Path
    process: subprocess.Popen
    log: Path

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs (the crash the store must survive)."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 15 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(test_dir: str | Path, db: str | Path, log: str | Path, password: str, args: tuple[str, ...] = (),
                 port: int | None = None, env: dict[str, str] | None = None, timeout_s: float = 120) -> ServerProcess:
    """Start `codecbench mushra serve TEST_DIR --db DB ARGS` on 127.0.0.1 and wait until it answers.

    Args:
        test_dir: the test folder.
        db: the results database.
        log: where the server's output goes (appended).
        password: the admin password (passed in the environment).
        args: further `serve` flags.
        port: the port (default: a free one).
        env: further environment variables of the server.
        timeout_s: how long to wait for the first answer.

    Raises:
        RuntimeError: the server exited or did not answer in time (with the end of its log).
    """
    port = port or free_port()
    command = [sys.executable, "-m", "codecbench.cli", "mushra", "serve", str(test_dir), "--port", str(port),
               "--db", str(db), *args]
    log = Path(log)
    with open(log, "ab") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT,
                                   env={**os.environ, **(env or {}), PASSWORD_ENV: password})
    server = ServerProcess(f"http://127.0.0.1:{port}", Path(db), process, log)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited ({process.returncode}): {log.read_text()[-2000:]}")
        try:
            if httpx.get(server.url + "/config", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    server.kill()
    raise RuntimeError(f"the server did not answer within {timeout_s} s: {log.read_text()[-2000:]}")

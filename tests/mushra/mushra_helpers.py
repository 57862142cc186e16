"""Helpers of the MUSHRA tests: crafted ratings, `codecbench mushra serve` on localhost, Gradio event calls."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd

ADMIN_PASSWORD = "test-admin-pw"

CODECS = {"reference": 100, "lowpass@7k": 55, "lowpass@3.5k": 20, "opus@12": 80, "codec2@2.4": 40}


def ratings(listeners: int, items: int, overrides: dict | None = None, phase: str = "test",
            typical: dict | None = None) -> pd.DataFrame:
    """Every listener rates every (item, condition) with the typical rating, except `overrides`:
    {(listener, item, condition): rating}."""
    typical = typical or CODECS
    rows = []
    for n in range(listeners):
        for i in range(items):
            for condition, rating in typical.items():
                value = (overrides or {}).get((f"L{n}", f"i{i}", condition), rating)
                rows.append({"listener": f"L{n}", "session": 1, "trial": i + 1, "item": f"i{i}",
                             "condition": condition, "rating": value, "phase": phase,
                             "timestamp": "2026-01-01T00:00:00.000+00:00"})
    return pd.DataFrame(rows)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """A `codecbench mushra serve` process on localhost."""

    url: str
    db: Path
    process: subprocess.Popen
    log: Path

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs (the crash the store must survive)."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def start_server(test_dir: Path, db: Path, log: Path, port: int | None = None, timeout_s: float = 90) -> Server:
    port = port or free_port()
    command = [sys.executable, "-m", "codecbench.cli", "mushra", "serve", str(test_dir), "--port", str(port),
               "--db", str(db), "--admin-password", ADMIN_PASSWORD]
    handle = open(log, "ab")
    process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", db, process, log)
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
    raise RuntimeError(f"the server did not start within {timeout_s} s: {log.read_text()[-2000:]}")


def parse_sse(text: str) -> list:
    """The outputs of a Gradio `/gradio_api/call/...` event stream; raises on an `error` event."""
    event = None
    for line in text.splitlines():
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and event in ("complete", "error"):
            if event == "error":
                raise RuntimeError(f"gradio error event: {line}")
            return json.loads(line.split(":", 1)[1])
    raise RuntimeError(f"no complete event in {text[:500]!r}")


def call(client: httpx.Client, api: str, *data, app: str = "") -> list:
    """One queued Gradio event through its REST API (the same queue the browser uses); `app` is the
    mount path of another Gradio app on the server (e.g. `/admin`)."""
    url = f"{app}/gradio_api/call/{api}"
    event_id = client.post(url, json={"data": list(data)}).raise_for_status().json()["event_id"]
    return parse_sse(client.get(f"{url}/{event_id}", timeout=120).raise_for_status().text)


async def call_async(client: httpx.AsyncClient, api: str, *data) -> list:
    response = await client.post(f"/gradio_api/call/{api}", json={"data": list(data)})
    event_id = response.raise_for_status().json()["event_id"]
    stream = await client.get(f"/gradio_api/call/{api}/{event_id}", timeout=120)
    return parse_sse(stream.raise_for_status().text)

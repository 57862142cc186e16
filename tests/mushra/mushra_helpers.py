"""Helpers of the MUSHRA tests: crafted ratings, `codecbench mushra serve` on localhost, Gradio event calls."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pandas as pd

from codecbench.listening_test import harness
from codecbench.listening_test.client import event_outputs
from codecbench.listening_test.harness import ServerProcess

ADMIN_PASSWORD = "test-admin-pw"


class Clock:
    """A store's clock for tests: stands still until moved (`advance`), or moves `step` seconds at every reading;
    `seconds` is its monotonic twin (rate limits)."""

    def __init__(self, step: float = 0.0) -> None:
        self.moment, self.step = datetime(2026, 1, 1, tzinfo=timezone.utc), timedelta(seconds=step)
        self.monotonic = 1000.0

    def __call__(self) -> datetime:
        self.moment += self.step
        self.monotonic += self.step.total_seconds()
        return self.moment

    def seconds(self) -> float:
        return self.monotonic

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)
        self.monotonic += seconds

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


def start_server(test_dir: Path, db: Path, log: Path, args: tuple[str, ...] = (), **kwargs) -> ServerProcess:
    """`codecbench mushra serve` on localhost with the tests' admin password (in the environment)."""
    return harness.start_server(test_dir, db, log, ADMIN_PASSWORD, args, **kwargs)


def call(client: httpx.Client, api: str, *data, app: str = "", params: dict | None = None) -> list:
    """One queued Gradio event through its REST API (the same queue the browser uses); `app` is the
    mount path of another Gradio app on the server (e.g. `/admin`)."""
    url = f"{app}/gradio_api/call/{api}"
    event_id = client.post(url, json={"data": list(data)}, params=params).raise_for_status().json()["event_id"]
    return event_outputs(client.get(f"{url}/{event_id}", timeout=120).raise_for_status().text)


def welcome(name: str = "") -> tuple:
    """The welcome page's fields as the Start event takes them: name, expertise, headphones, consent."""
    return name, None, "", False


def admin_login(client: httpx.Client, password: str = ADMIN_PASSWORD) -> None:
    client.post("/admin/login", data={"username": "admin", "password": password}).raise_for_status()

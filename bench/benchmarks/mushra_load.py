"""The MUSHRA server under load: simulated listeners over HTTP, the server SIGKILLed mid-session and restarted.

    python -m codecbench.benchmarks.mushra_load results/mushra-demo --listeners 50

Every listener registers and skips the level check (all at once), then works through their trials, all
listeners at the same time: fetch every stimulus of the trial (the server accepts a trial only after it
served all of them), then press Next with ratings fixed by (listener, trial, label), so a resubmission
sends the same values. Once `--kill-at` of all trials have been acknowledged, the server is killed with
SIGKILL while the other submissions are in flight, then restarted on the same database; every listener
then carries on from their personal link, resubmitting the trial on screen if it was not stored.
At the end the database is compared with what was sent: lost = a trial missing or stored with other
ratings (an acknowledged one included); duplicated = a rating stored twice or a listener registered twice.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import secrets
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

from codecbench.listening_test.client import ListenerClient, ServerError
from codecbench.listening_test.harness import ServerProcess, free_port, start_server

RETRY_S = 0.5
MAX_RETRIES = 240  # per step: two minutes of a server that does not come back


@dataclass
class LoadResult:
    """What a load run did and found."""

    listeners: int
    trials: int  # trials submitted and expected in the database
    ratings: int
    killed: bool
    acknowledged_at_kill: int  # trials whose submission had been answered when the server was killed
    committed_at_kill: int  # trials in the database right after the kill
    resubmitted: int  # trials sent again after the restart (their first submission was not answered)
    lost: int
    duplicated: int
    integrity: str  # SQLite's integrity_check
    wall_s: float
    restart_s: float
    latencies_s: list[float] = field(default_factory=list)

    def summary(self) -> str:
        latency = np.array(self.latencies_s or [float("nan")])
        kill = (f"server SIGKILLed after {self.acknowledged_at_kill} acknowledged trials ({self.committed_at_kill} "
                f"committed at that moment), back after {self.restart_s:.1f} s; {self.resubmitted} trials "
                "resubmitted after the restart; " if self.killed else "no kill; ")
        return (f"{self.listeners} listeners, {self.trials} trials ({self.ratings} ratings) in {self.wall_s:.1f} s; "
                + kill + f"submit latency median {np.median(latency):.2f} s, p95 {np.percentile(latency, 95):.2f} s, "
                f"max {latency.max():.2f} s; lost {self.lost}, duplicated {self.duplicated}; "
                f"integrity {self.integrity}")


def intended_rating(listener: str, trial: int, label: str) -> int:
    """The rating a simulated listener gives a stimulus: fixed by who, which trial and which label."""
    return hashlib.sha256(f"{listener}/{trial}/{label}".encode()).digest()[0] % 101


class LoadRun:
    """Listeners, the server they talk to, and the kill in between.

    Args:
        server: the running server (replaced by its restart after the kill).
        restart: starts the server again on the same database.
        listeners: how many listeners.
        trials: trials per listener (None: all of the test).
        kill_at: fraction of all trials acknowledged before the kill (None: no kill).
    """

    def __init__(self, server: ServerProcess, restart, listeners: int, trials: int | None,
                 kill_at: float | None) -> None:
        self.server, self.restart = server, restart
        self.listeners, self.trials, self.kill_at = listeners, trials, kill_at
        self.sent: dict[tuple[str, int], dict[str, int]] = {}
        self.acknowledged: set[tuple[str, int]] = set()
        self.resubmitted: set[tuple[str, int]] = set()
        self.latencies: list[float] = []
        self.up = asyncio.Event()
        self.kill_now = asyncio.Event()
        self.acknowledged_at_kill = self.committed_at_kill = 0
        self.restart_s = 0.0

    async def retry(self, step):
        """Run `step()`; on a connection failure or a refused event, wait for the server and try again."""
        for _ in range(MAX_RETRIES):
            await self.up.wait()
            try:
                return await step()
            except (httpx.HTTPError, ServerError):
                await asyncio.sleep(RETRY_S)
        raise RuntimeError(f"gave up after {MAX_RETRIES} tries")

    async def begin(self, client: ListenerClient, name: str) -> dict:
        """Register (once: a registration is not repeated) and skip the level check (retried: it is stored
        once); returns the first trial's screen."""
        screen = await client.start(name)
        return await self.retry(lambda: client.skip_level(screen)) if screen["screen"] == "level" else screen

    async def listener(self, client: ListenerClient, screen: dict, total: int) -> None:
        done = 0
        while screen["screen"] == "trial" and (self.trials is None or done < self.trials):
            key = (screen["listener"], screen["trial"])
            ratings = {s["key"]: intended_rating(*key, s["label"]) for s in screen["stimuli"]}
            if key in self.sent:
                self.resubmitted.add(key)
            self.sent[key] = ratings
            try:
                await client.fetch(screen)
                await client.listen(screen)  # the server's wall-clock rule; the latency is the request's alone
                started = time.perf_counter()
                following = await client.submit(screen, ratings, client_id=f"{key[0]}-{key[1]}")
                self.latencies.append(time.perf_counter() - started)
            except (httpx.HTTPError, ServerError):
                await asyncio.sleep(RETRY_S)
                screen = await self.retry(lambda: client.resume(screen["token"]))
                continue
            if following.get("error"):
                raise RuntimeError(f"{key}: submission refused: {following['error']}")
            self.acknowledged.add(key)
            done += 1
            if self.kill_at is not None and len(self.acknowledged) >= self.kill_at * total:
                self.kill_now.set()
            screen = following

    async def killer(self) -> None:
        await self.kill_now.wait()
        self.server.kill()
        self.up.clear()
        self.acknowledged_at_kill = len(self.acknowledged)
        self.committed_at_kill = len(stored_trials(self.server.db))
        started = time.perf_counter()
        self.server = await asyncio.to_thread(self.restart)
        self.restart_s = time.perf_counter() - started
        self.up.set()

    async def run(self) -> None:
        self.up.set()
        limits = httpx.Limits(max_connections=4 * self.listeners + 8, max_keepalive_connections=4 * self.listeners)
        async with httpx.AsyncClient(base_url=self.server.url, timeout=120, limits=limits) as http:
            client = ListenerClient(http)
            screens = await asyncio.gather(*(self.begin(client, f"load-{i}") for i in range(self.listeners)))
            with sqlite3.connect(f"file:{self.server.db}?mode=ro", uri=True) as conn:
                planned = conn.execute("SELECT COUNT(*) FROM trials WHERE listener = 'L001'").fetchone()[0]
            total = self.listeners * (planned if self.trials is None else min(planned, self.trials))
            killer = asyncio.create_task(self.killer()) if self.kill_at is not None else None
            await asyncio.gather(*(self.listener(client, s, total) for s in screens))
            if killer is not None:
                if not killer.done():
                    killer.cancel()
                await asyncio.gather(killer, return_exceptions=True)


def stored_trials(db: Path) -> dict[tuple[str, int], dict[str, int]]:
    """Every stored trial's ratings, {(listener, trial): {stimulus key: rating}} (read-only)."""
    found: dict[tuple[str, int], dict[str, int]] = {}
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        for listener, trial, key, rating in conn.execute("SELECT listener, trial, stimulus, rating FROM ratings"):
            found.setdefault((listener, trial), {})[key] = rating
    return found


def check(run: LoadRun, wall_s: float) -> LoadResult:
    """Compare the database with what the listeners sent."""
    db = run.server.db
    found = stored_trials(db)
    lost = sum(found.get(key) != ratings for key, ratings in run.sent.items())
    lost += len(run.acknowledged - set(found))
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        rows, distinct = conn.execute("SELECT COUNT(*), COUNT(DISTINCT listener || '|' || trial || '|' || stimulus) "
                                      "FROM ratings").fetchone()
        registered = conn.execute("SELECT COUNT(*) FROM listeners").fetchone()[0]
    duplicated = rows - distinct + max(0, registered - run.listeners)
    return LoadResult(run.listeners, len(run.sent), sum(len(r) for r in run.sent.values()), run.kill_at is not None,
                      run.acknowledged_at_kill, run.committed_at_kill, len(run.resubmitted), lost, duplicated,
                      integrity, wall_s, run.restart_s, run.latencies)


def load_test(test_dir: str | Path, folder: str | Path, listeners: int = 50, trials: int | None = None,
              kill_at: float | None = 0.4) -> LoadResult:
    """Serve `test_dir` on a new database in `folder`, run `listeners` simulated listeners against it
    (killing and restarting the server once `kill_at` of the trials were acknowledged) and check the result."""
    folder = Path(folder)
    db, password, port = folder / "results.sqlite", secrets.token_urlsafe(16), free_port()
    flags = ("--registrations-per-hour", str(10 * listeners + 100))

    def restart() -> ServerProcess:  # the same port: the listeners' pages keep their address
        return start_server(test_dir, db, folder / "server.log", password, flags, port=port)

    run = LoadRun(restart(), restart, listeners, trials, kill_at)
    started = time.perf_counter()
    try:
        asyncio.run(run.run())
    finally:
        run.server.stop()
    return check(run, time.perf_counter() - started)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("test_dir", metavar="TESTDIR", help="a test folder written by `codecbench mushra build`")
    parser.add_argument("--listeners", type=int, default=50)
    parser.add_argument("--trials", type=int, default=None, help="trials per listener (default: all)")
    parser.add_argument("--kill-at", type=float, default=0.4,
                        help="SIGKILL the server once this fraction of all trials was acknowledged (negative: never)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        result = load_test(args.test_dir, folder, args.listeners, args.trials,
                           args.kill_at if args.kill_at >= 0 else None)
    print(result.summary())


if __name__ == "__main__":
    main()

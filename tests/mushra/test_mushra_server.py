"""The served app over HTTP: 50 concurrent listeners, kill -9 mid-session, the admin password, opaque audio."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import httpx
import numpy as np
import pytest
from mushra_helpers import ADMIN_PASSWORD, call, call_async, start_server

from codecbench.listening_test.store import export_ratings
from codecbench.listening_test.testdef import load_test

LISTENERS = 50
TEST_TRIALS = 2
STIMULI = 5
TIME_LIMIT_S = 240


@pytest.fixture(scope="module")
def server(mushra_test_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("server")
    running = start_server(mushra_test_dir, folder / "results.sqlite", folder / "server.log")
    yield running
    running.stop()


async def player(client: httpx.AsyncClient, screen: dict, submission: dict | None = None) -> dict:
    """The player element's event, exactly as the browser sends it."""
    value = dict(screen) if submission is None else {**screen, "submission": submission}
    return (await call_async(client, "player", value))[0]


def ratings_of(screen: dict, seed: int) -> dict[str, int]:
    return {s["key"]: int(v) for s, v in zip(screen["stimuli"], np.random.default_rng(seed).integers(0, 101, 5))}


def stored(db) -> dict[tuple[str, int, str], int]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT listener, trial, stimulus, rating FROM ratings")
        return {(listener, trial, key): rating for listener, trial, key, rating in rows}


async def listeners_at_once(url: str, count: int, test_trials: int) -> dict:
    """`count` listeners register, pass the level check and submit the training and `test_trials` test trials,
    every step sent by all listeners at once; then all of them resend their first test trial (a retry)."""
    sent: dict[tuple[str, int, str], int] = {}
    latencies: list[float] = []

    async def timed(coroutine):
        start = time.perf_counter()
        result = await coroutine
        latencies.append(time.perf_counter() - start)
        return result

    limits = httpx.Limits(max_connections=2 * count + 8, max_keepalive_connections=2 * count + 8)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        started = time.perf_counter()
        starts = await asyncio.gather(*(call_async(client, "start", f"load-{i}") for i in range(count)))
        screens = await asyncio.gather(*(player(client, s[1], {"level": "skipped"}) for s in starts))
        first_test = None
        for step in range(1 + test_trials):
            submissions = []
            for i, screen in enumerate(screens):
                assert screen["screen"] == "trial", screen
                ratings = ratings_of(screen, 1000 * step + i)
                sent.update({(screen["listener"], screen["trial"], k): v for k, v in ratings.items()})
                submissions.append({"trial": screen["trial"], "ratings": ratings, "client_id": f"{i}-{step}",
                                    "events": [{"t": 1.0, "kind": "play", "key": k} for k in ratings]})
            if step == 1:
                first_test = list(zip(screens, submissions))
            screens = await asyncio.gather(*(timed(player(client, s, sub)) for s, sub in zip(screens, submissions)))
        retried = await asyncio.gather(*(timed(player(client, s, sub)) for s, sub in first_test))
        wall = time.perf_counter() - started
    return {"sent": sent, "latencies": latencies, "wall_s": wall, "final": screens, "retried": retried}


def test_50_listeners_submit_at_once(server, mushra_test_dir, tmp_path):
    result = asyncio.run(asyncio.wait_for(listeners_at_once(server.url, LISTENERS, TEST_TRIALS), TIME_LIMIT_S))
    sent, found = result["sent"], stored(server.db)
    trials = LISTENERS * (1 + TEST_TRIALS)
    assert len(sent) == trials * STIMULI
    lost = [k for k in sent if k not in found]
    wrong = [k for k in sent if k in found and found[k] != sent[k]]
    with sqlite3.connect(server.db) as conn:
        duplicated = conn.execute("SELECT COUNT(*) - COUNT(DISTINCT listener || '|' || trial || '|' || stimulus) "
                                  "FROM ratings").fetchone()[0]
        submissions = conn.execute("SELECT COUNT(*) FROM submissions").fetchone()[0]
    ours = {k: v for k, v in found.items() if k[0] in {k2[0] for k2 in sent}}
    assert (lost, wrong, duplicated) == ([], [], 0)
    assert len(ours) == len(sent) and submissions >= trials
    assert all(s["screen"] == "trial" and s["trial"] == 2 + TEST_TRIALS for s in result["final"])
    assert all(r["trial"] == 2 + TEST_TRIALS for r in result["retried"])  # a retry stores nothing, shows where they are
    table = export_ratings(server.db, load_test(mushra_test_dir), tmp_path / "ratings.csv")
    assert len(table[table["listener"].isin({k[0] for k in sent})]) == len(sent)
    latencies = np.array(result["latencies"])
    print(f"\nload test: {LISTENERS} concurrent listeners, {trials} trials ({len(sent)} ratings) + {LISTENERS} "
          f"retried submissions in {result['wall_s']:.1f} s; submit latency median {np.median(latencies):.2f} s, "
          f"p95 {np.percentile(latencies, 95):.2f} s, max {latencies.max():.2f} s; lost 0, duplicated 0")


def test_admin_page_needs_the_password(server):
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert client.get("/admin/config").status_code == 401
        assert client.get("/admin/gradio_api/info").status_code == 401
        assert client.post("/admin/login", data={"username": "admin", "password": "wrong"}).status_code == 400
        assert client.post("/admin/login", data={"username": "admin", "password": ADMIN_PASSWORD}).status_code == 200
        config = client.get("/admin/config")
        assert config.status_code == 200 and "Export ratings.csv" in config.text
        progress = call(client, "progress", app="/admin")[0]
        assert {"listener", "test_done", "screening"} <= set(progress["headers"])
        exported = call(client, "export", app="/admin")[0]
        ratings = client.get(exported[0]["url"]).raise_for_status().text
        assert ratings.splitlines()[0] == "listener,session,trial,item,condition,rating,phase,timestamp"
    with httpx.Client(base_url=server.url, timeout=30) as stranger:
        assert stranger.post("/admin/gradio_api/call/export", json={"data": []}).status_code == 401


def test_audio_urls_are_opaque(server, mushra_test_dir):
    with httpx.Client(base_url=server.url, timeout=30) as client:
        screen = call(client, "start", "opaque")[1]
        screen = call(client, "player", {**screen, "submission": {"level": "skipped"}})[0]
        keys = [s["key"] for s in screen["stimuli"]]
        bodies = {}
        for key in keys + [screen["reference"]]:
            response = client.get(f"/mushra/audio/{key}")
            assert response.status_code == 200 and response.headers["content-type"] == "audio/wav"
            assert response.headers["cache-control"] == "no-store"
            for header in ("etag", "last-modified", "content-disposition"):
                assert header not in response.headers
            bodies[key] = response.content
        assert len({len(b) for b in bodies.values()}) == 1  # equal sizes: the length reveals nothing
        assert screen["reference"] not in keys
        assert client.get("/mushra/audio/unknown-key").status_code == 404
        assert client.get("/mushra/audio/..%2Ftest.yaml").status_code == 404


async def burst_then_kill(server, screens: list[dict]) -> tuple[dict, dict]:
    """All listeners submit their current trial at once; the server is SIGKILLed as soon as the first
    reply arrives. Returns (acknowledged {listener: submission}, sent {listener: submission})."""
    submissions = {s["listener"]: {"trial": s["trial"], "ratings": ratings_of(s, i), "client_id": "burst"}
                   for i, s in enumerate(screens)}
    limits = httpx.Limits(max_connections=2 * len(screens) + 8)
    async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as client:
        tasks = {asyncio.create_task(player(client, s, submissions[s["listener"]])): s["listener"] for s in screens}
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        server.kill()
        await asyncio.gather(*tasks, return_exceptions=True)
    acknowledged = {tasks[t]: submissions[tasks[t]] for t in tasks if not t.cancelled() and t.exception() is None}
    return acknowledged, submissions


def test_kill_9_mid_session_loses_nothing_committed(mushra_test_dir, tmp_path):
    db, count = tmp_path / "results.sqlite", 30
    first = start_server(mushra_test_dir, db, tmp_path / "server.log")
    try:
        with httpx.Client(base_url=first.url, timeout=60) as client:
            screens = []
            for i in range(count):
                screen = call(client, "start", f"crash-{i}")[1]
                screen = call(client, "player", {**screen, "submission": {"level": "skipped"}})[0]
                training = {"trial": 1, "ratings": ratings_of(screen, 5000 + i)}
                screen = call(client, "player", {**screen, "submission": training})[0]
                screens.append(screen)
        before = stored(db)
        acknowledged, sent = asyncio.run(asyncio.wait_for(burst_then_kill(first, screens), 120))
    finally:
        first.kill()
    assert first.process.returncode == -9
    committed = stored(db)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        per_trial = conn.execute("SELECT listener, trial, COUNT(*) FROM ratings GROUP BY listener, trial").fetchall()
    assert all(n == STIMULI for _, _, n in per_trial)  # every trial is all or nothing
    assert all(committed[k] == v for k, v in before.items())  # the training trials survived
    for listener, submission in acknowledged.items():  # every acknowledged trial survived, exactly
        for key, rating in submission["ratings"].items():
            assert committed[(listener, submission["trial"], key)] == rating
    in_db = {listener for listener, trial, _ in per_trial if trial == 2}

    second = start_server(mushra_test_dir, db, tmp_path / "server2.log")
    try:
        with httpx.Client(base_url=second.url, timeout=60) as client:
            for screen in screens:
                resumed = call(client, "player", {"token": screen["token"]})[0]
                if screen["listener"] in in_db:
                    assert resumed["trial"] == 3
                    continue
                assert (resumed["trial"], resumed["stimuli"]) == (2, screen["stimuli"])  # same trial, same keys
                call(client, "player", {**resumed, "submission": sent[screen["listener"]]})
    finally:
        second.stop()
    final = stored(db)
    assert len(final) == count * 2 * STIMULI
    assert all(final[k] == v for k, v in committed.items())
    print(f"\ncrash test: {count} listeners submitted a trial at once, server killed with SIGKILL after the first "
          f"reply; {len(acknowledged)} acknowledged, {len(in_db)} committed before the kill, "
          f"{count - len(in_db)} resubmitted after restart; lost 0, partial trials 0")

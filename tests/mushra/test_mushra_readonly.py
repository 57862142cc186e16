"""Hole 4 of the security review: a database `serve` cannot write, and `export` / `analyze` on read-only media.

A read-only filesystem here is a real one: the folder is bind-mounted read-only in a private mount
namespace (`unshare --user --map-root-user --mount`). Read-only files are chmod'ed and the command runs
without privileges over them (`unshare --user`: even root then gets only the owner's permissions), which
is what an immutable file or a database owned by someone else looks like to SQLite.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from mushra_helpers import ratings

from codecbench.listening_test.client import playback_events
from codecbench.listening_test.harness import free_port
from codecbench.listening_test.store import MushraStore
from codecbench.listening_test.testdef import load_test

CLI = [sys.executable, "-m", "codecbench.cli", "mushra"]
UNPRIVILEGED = ["unshare", "--user"]
TRIALS = 2


def read_only_mount(folder: Path) -> list[str]:
    """A command prefix that runs the command with `folder` mounted read-only."""
    script = 'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" "$1" && shift && exec "$@"'
    return ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh", str(folder)]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """Skip where this machine cannot make user namespaces (the prefixes above need them)."""
    probe = tmp_path_factory.mktemp("probe")
    for prefix in (UNPRIVILEGED, read_only_mount(probe)):
        if not shutil.which("unshare") or subprocess.run([*prefix, "true"], capture_output=True).returncode != 0:
            pytest.skip("needs user namespaces (unshare --user) for read-only media")


def ticking():
    """A store clock that moves 10 s at every reading: every trial is sent long after its audio was served."""
    ticks = (datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=10 * n) for n in itertools.count())
    return ticks.__next__


def fill(store: MushraStore) -> None:
    """One listener with TRIALS stored trials, every stimulus served first, as the server does it."""
    screen = store.register("reader")
    screen = store.submit(screen["token"], 1, {"level": "skipped"})
    for _ in range(TRIALS):
        for key in [s["key"] for s in screen["stimuli"]] + [screen["reference"]]:
            assert store.deliver(key) is not None
        screen = store.submit(screen["token"], 1, {"trial": screen["trial"],
                                                   "ratings": {s["key"]: 33 for s in screen["stimuli"]},
                                                   "events": playback_events(screen)})


@pytest.fixture
def results(mushra_test_dir, tmp_path) -> Path:
    """A folder holding a results database, closed cleanly (no write-ahead log left)."""
    folder = tmp_path / "results"
    fill(MushraStore(folder / "results.sqlite", load_test(mushra_test_dir), clock=ticking()))
    assert not (folder / "results.sqlite-wal").exists()
    return folder


@pytest.fixture
def crashed(mushra_test_dir, tmp_path) -> Path:
    """A folder holding a results database as a killed server leaves it: trials only in the write-ahead log."""
    live, folder = tmp_path / "live", tmp_path / "crashed"
    store = MushraStore(live / "results.sqlite", load_test(mushra_test_dir), clock=ticking())
    holder = sqlite3.connect(live / "results.sqlite")  # an open connection keeps the log from being checkpointed
    holder.execute("SELECT COUNT(*) FROM meta").fetchone()
    fill(store)
    folder.mkdir()
    for path in live.iterdir():
        shutil.copy(path, folder / path.name)
    holder.close()
    assert (folder / "results.sqlite-wal").stat().st_size > 0
    return folder


def lock(folder: Path) -> None:
    for path in folder.iterdir():
        path.chmod(0o444)
    folder.chmod(0o555)


def unlock(folder: Path) -> None:
    folder.chmod(0o755)
    for path in folder.iterdir():
        path.chmod(0o644)


@pytest.mark.parametrize("how", ["read-only file", "read-only folder", "read-only filesystem"])
def test_serve_refuses_a_database_it_cannot_write(how, sandbox, results, mushra_test_dir):
    db = results / "results.sqlite"
    prefix = read_only_mount(results) if how == "read-only filesystem" else UNPRIVILEGED
    if how == "read-only file":
        db.chmod(0o444)
    elif how == "read-only folder":
        results.chmod(0o555)
    try:
        done = subprocess.run([*prefix, *CLI, "serve", str(mushra_test_dir), "--db", str(db), "--port",
                               str(free_port())], capture_output=True, text=True, timeout=120)
    finally:
        unlock(results)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("codecbench mushra: error: cannot write the results database")


@pytest.mark.parametrize("state", ["closed", "crashed"])
@pytest.mark.parametrize("how", ["read-only filesystem", "read-only files"])
def test_export_works_on_read_only_media(how, state, sandbox, request, mushra_test_dir, tmp_path):
    folder = request.getfixturevalue("results" if state == "closed" else "crashed")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    out = tmp_path / "out"
    out.mkdir()
    prefix = read_only_mount(folder) if how == "read-only filesystem" else UNPRIVILEGED
    if how == "read-only files":
        lock(folder)
    try:
        done = subprocess.run([*prefix, *CLI, "export", str(mushra_test_dir), "--db", str(folder / "results.sqlite"),
                               "--out", str(out / "ratings.csv"), "--events", str(out / "events.csv"),
                               "--listening", str(out / "listening.csv")], capture_output=True, text=True, timeout=120)
    finally:
        unlock(folder)
    assert done.returncode == 0, done.stderr
    exported = pd.read_csv(out / "ratings.csv")
    assert len(exported) == TRIALS * 5 and set(exported["rating"]) == {33}
    assert len(pd.read_csv(out / "listening.csv").dropna(subset=["first_served"])) == TRIALS * 6
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # nothing was written beside the database
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in out.iterdir())


def test_analyze_works_on_a_read_only_filesystem(sandbox, tmp_path):
    folder, out = tmp_path / "media", tmp_path / "analysis"
    folder.mkdir()
    ratings(4, 5).to_csv(folder / "ratings.csv", index=False)
    done = subprocess.run([*read_only_mount(folder), *CLI, "analyze", str(folder / "ratings.csv"), "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert len(pd.read_csv(out / "summary.csv")) == 5 and (out / "mean_ci.png").exists()
    assert [p.name for p in folder.iterdir()] == ["ratings.csv"]

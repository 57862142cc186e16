"""Fault injection on `codecbench run --workers 2`: a torn journal tail, kill -9 at random moments, SIGTERM,
a changed input, and the processes a killed run leaves behind; Ctrl-C and SIGTERM of a Ray run's driver. Every
resumed table must equal a clean run's, row for row and value for value (wall-clock columns aside)."""

import json
import os
import random
import select
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from run_helpers import SHORT_UTTERANCES, comparable, copy_utterances, run_command, session_processes

from codecbench.journal import Journal
from codecbench.rundir import JOURNAL, PARQUET

ROWS = 2 * len(SHORT_UTTERANCES)  # opus@6 and codec2@2.4 on each
KILL_CODECS = "opus@6,opus@12,opus@16,codec2@1.2,codec2@2.4,codec2@3.2"
KILL_ROWS = 6 * len(SHORT_UTTERANCES)
GONE_WITHIN_S = 120.0  # bounds the wait for a stopped run's processes to exit (they exit at once, on any load)


@dataclass
class CleanRun:
    out: Path
    table: pd.DataFrame


@pytest.fixture(scope="module")
def data(tmp_path_factory, librispeech_root) -> Path:
    return copy_utterances(librispeech_root, SHORT_UTTERANCES, tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def clean(tmp_path_factory, data) -> CleanRun:
    out = tmp_path_factory.mktemp("clean") / "run"
    done = subprocess.run(run_command(out, data), check=True, capture_output=True, text=True)
    assert "Traceback" not in done.stderr  # e.g. Codec 2's forked decoders end quietly
    table = pd.read_parquet(out / PARQUET)
    assert len(table) == ROWS and (table["error"] == "").all()
    return CleanRun(out, table)


@pytest.fixture(scope="module")
def clean_many(tmp_path_factory, data) -> CleanRun:
    """A clean run of `KILL_CODECS`: what every interrupted and resumed run of them must equal."""
    out = tmp_path_factory.mktemp("clean_many") / "run"
    subprocess.run(run_command(out, data, codecs=KILL_CODECS), check=True, capture_output=True)
    return CleanRun(out, pd.read_parquet(out / PARQUET))


def hears_ctrl_c() -> None:
    """In the child before it runs: SIGINT at its default, as in a terminal. A suite started in the background
    of a non-interactive shell inherits SIGINT ignored, and Python then installs no KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_until_gone(session: int) -> list[int]:
    """The processes of `session` still alive once each has exited (waited on through pidfds), or after
    `GONE_WITHIN_S`."""
    deadline = time.monotonic() + GONE_WITHIN_S
    while (alive := session_processes(session)) and time.monotonic() < deadline:
        descriptors = []
        for pid in alive:
            try:
                descriptors.append(os.pidfd_open(pid))
            except ProcessLookupError:
                continue
        try:
            select.select(descriptors, [], [], max(0.0, deadline - time.monotonic()))  # until one of them exits
        finally:
            for descriptor in descriptors:
                os.close(descriptor)
    return session_processes(session)


def _wait_for_rows(out: Path, rows: int, process: subprocess.Popen, within_s: float = 300.0) -> bool:
    """Until the journal holds `rows` records (True), or the run ended or `within_s` passed (False)."""
    journal = Journal(out / JOURNAL)
    deadline = time.monotonic() + within_s
    while len(journal.records()) < rows:
        if process.poll() is not None or time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_torn_last_record_is_cut_and_coded_again(tmp_path, data, clean):
    out = tmp_path / "run"
    shutil.copytree(clean.out, out)
    journal = out / JOURNAL
    content = journal.read_bytes()
    last = content.rstrip(b"\n").rfind(b"\n") + 1
    journal.write_bytes(content[: last + (len(content) - last) // 2])  # a crash in the middle of the last write
    assert len(Journal(journal).records()) == ROWS - 1

    done = subprocess.run(run_command(out, data, "--resume"), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "cut a torn journal tail" in done.stderr
    assert len(Journal(journal).records()) == ROWS  # the torn row was coded once more, nothing glued or lost
    pd.testing.assert_frame_equal(comparable(pd.read_parquet(out / PARQUET)), comparable(clean.table))
    summary = pd.read_csv(out / "summary.csv")
    assert summary["n"].tolist() == [len(SHORT_UTTERANCES)] * 2


def test_kill_9_at_20_random_moments_then_resume_equals_a_clean_run(tmp_path, data, clean_many):
    """Each attempt resumes the last one and is killed at a random moment: half of them within 1.5 s of the
    start (opening the run folder, cutting a torn tail, writing run.json), half once one more row is stored,
    plus up to 0.3 s (while coding, scoring or writing the next one) but before a second one is, so that every
    attempt of that half leaves rows to do, however fast the machine, and at least 5 are killed midway."""
    out, moments = tmp_path / "run", random.Random(14)
    killed_midway = 0
    for _ in range(20):
        before = len(Journal(out / JOURNAL).records())
        process = subprocess.Popen(run_command(out, data, "--resume", codecs=KILL_CODECS), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        if moments.random() < 0.5:
            time.sleep(moments.uniform(0.0, 1.5))
        else:
            _wait_for_rows(out, before + 1, process)  # (False once every row is done: the run ends by itself)
            _wait_for_rows(out, before + 2, process, within_s=moments.uniform(0.0, 0.3))
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert _wait_until_gone(process.pid) == [], "a child of the killed run is still alive"
        stored = len(Journal(out / JOURNAL).records())
        killed_midway += process.returncode == -signal.SIGKILL and 0 < stored < KILL_ROWS
    done = subprocess.run(run_command(out, data, "--resume", codecs=KILL_CODECS), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert killed_midway >= 5
    assert len(Journal(out / JOURNAL).records()) == KILL_ROWS  # every row was stored exactly once
    pd.testing.assert_frame_equal(comparable(pd.read_parquet(out / PARQUET)), comparable(clean_many.table))


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_no_child_outlives_a_stopped_run(tmp_path, data, sig):
    """Metric workers, their fork server, the resource tracker and Codec 2's forked decoders all exit by
    themselves when the parent dies; SIGTERM ends a run like Ctrl-C (finished rows in the tables, exit 130)."""
    out = tmp_path / "run"
    process = subprocess.Popen(run_command(out, data), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True, preexec_fn=hears_ctrl_c)
    assert _wait_for_rows(out, 1, process), "no row stored"
    assert process.poll() is None and len(session_processes(process.pid)) >= 4  # the run, its resource tracker, fork server and workers
    process.send_signal(sig)
    process.wait(timeout=60)
    assert _wait_until_gone(process.pid) == []
    if sig != signal.SIGKILL:
        assert process.returncode == 130 and b"--resume" in process.stderr.read()
        assert len(pd.read_parquet(out / PARQUET)) == len(Journal(out / JOURNAL).records()) >= 1


def _command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@pytest.mark.parametrize("sig, resume_engine", [pytest.param(signal.SIGINT, "local", id="ctrl-c-then-local"),
                                                pytest.param(signal.SIGTERM, "ray", id="sigterm-then-ray")])
def test_a_stopped_ray_run_keeps_its_rows_stops_ray_and_resumes(tmp_path, data, clean_many, sig, resume_engine):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) or SIGTERM of the driver while Ray runs
    the work: exit 130 with one line saying how to finish, every finished row in the journal (no torn record)
    and the tables, none of the Ray processes the run started left; `--resume` on either engine does only the
    missing rows, and the table equals a clean run's. (Cancelling the tasks in flight made Ray abort the driver
    with exit 1 in about one Ctrl-C in six: ray-project/ray#54846.)"""
    pytest.importorskip("ray")
    out = tmp_path / "run"
    process = subprocess.Popen(run_command(out, data, "--engine", "ray", codecs=KILL_CODECS),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
                               preexec_fn=hears_ctrl_c)
    assert _wait_for_rows(out, 1, process), "no row stored"
    started = session_processes(process.pid)
    assert process.poll() is None and any(b"/raylet" in _command_line(pid) for pid in started)
    (os.killpg if sig == signal.SIGINT else os.kill)(process.pid, sig)
    process.wait(timeout=120)
    assert _wait_until_gone(process.pid) == []  # gcs_server, raylet, agents, actors, metric workers
    stderr = process.stderr.read().decode()
    assert process.returncode == 130, stderr
    assert [line for line in stderr.splitlines() if line.strip()] == [
        f"interrupted: {len(Journal(out / JOURNAL).records())} rows are stored in {out}; rerun with --resume to "
        "finish the rest"], stderr
    records, torn = Journal(out / JOURNAL).scan()
    assert torn is None and 0 < len(records) < KILL_ROWS
    assert len(pd.read_parquet(out / PARQUET)) == len(records)

    done = subprocess.run(run_command(out, data, "--resume", "--engine", resume_engine, codecs=KILL_CODECS),
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "run.json").read_text())["invocations"][-1]["todo"] == KILL_ROWS - len(records)
    keys = [(r["utterance"], r["spec"]) for r in Journal(out / JOURNAL).records()]
    assert len(keys) == len(set(keys)) == KILL_ROWS
    pd.testing.assert_frame_equal(comparable(pd.read_parquet(out / PARQUET)), comparable(clean_many.table))


def test_a_changed_input_is_refused_and_nothing_is_written(tmp_path, librispeech_root):
    data, out = copy_utterances(librispeech_root, SHORT_UTTERANCES[:2], tmp_path / "data"), tmp_path / "run"
    subprocess.run(run_command(out, data, codecs="opus@6", workers=1), check=True, capture_output=True)
    replacement = next(Path(librispeech_root).rglob("1688-142285-0003.flac"))
    shutil.copyfile(replacement, data / f"{SHORT_UTTERANCES[0]}.flac")  # same name, another signal
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    done = subprocess.run(run_command(out, data, "--resume", codecs="opus@6,opus@12", workers=1),
                          capture_output=True, text=True)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"input {SHORT_UTTERANCES[0]}" in lines[0] and "changed since the run" in lines[0]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before

"""Every CLI error is one line on stderr with exit status 2, never a traceback; `--debug` shows the traceback."""

import resource
import subprocess
import sys

import pandas as pd
import pytest

from codecbench.cli import main
from codecbench.datasets import librispeech
from codecbench.journal import Journal
from codecbench.rundir import JOURNAL


def one_error_line(capsys, command: str) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(f"codecbench {command}: error: ")
    return err


def test_limit_zero(tmp_path, capsys):
    assert main(["run", "--limit", "0", "--codecs", "opus@6", "--out", str(tmp_path / "run")]) == 2
    assert "--limit must be at least 1" in one_error_line(capsys, "run")


def test_missing_or_unreadable_root(tmp_path, capsys):
    assert main(["run", "--root", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run")]) == 2
    assert "nowhere is not a readable directory" in one_error_line(capsys, "run")
    a_file = tmp_path / "root.txt"
    a_file.write_text("not a folder")
    assert main(["run", "--root", str(a_file), "--out", str(tmp_path / "run")]) == 2
    assert "root.txt is not a readable directory" in one_error_line(capsys, "run")
    assert main(["run", "--dataset", "folder", "--root", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r")]) == 2
    one_error_line(capsys, "run")


def test_download_without_network(tmp_path, monkeypatch, capsys):
    url = "http://127.0.0.1:9/test-clean.tar.gz"  # nothing listens on the discard port: as if offline
    monkeypatch.setitem(librispeech.PARTS, "test-clean", (url, "sha256", "0" * 64))
    monkeypatch.setenv("CODECBENCH_CACHE", str(tmp_path / "cache"))
    code = main(["run", "--download", "--split", "test-clean", "--codecs", "opus@6", "--out", str(tmp_path / "run")])
    assert code == 2
    err = one_error_line(capsys, "run")
    assert url in err and "--root" in err and "--split sample" in err


def test_debug_shows_the_traceback(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="--limit"):
        main(["--debug", "run", "--limit", "0", "--out", str(tmp_path / "run")])
    monkeypatch.setenv("CODECBENCH_DEBUG", "1")
    with pytest.raises(ValueError, match="--limit"):
        main(["run", "--limit", "0", "--out", str(tmp_path / "run")])


def _file_size_limit(limit_bytes: int):
    def apply() -> None:  # in the child: files may not grow beyond the limit, as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return apply


def test_full_disk_during_a_run(tmp_path):
    """The journal cannot grow past 6 kB (RLIMIT_FSIZE: writes fail with EFBIG, as ENOSPC on a full disk):
    one line naming the problem and the way out, exit 2, and the rows written before are kept."""
    out = tmp_path / "run"
    command = [sys.executable, "-m", "codecbench.cli", "run", "--codecs", "opus@6,opus@12", "--metrics", "stoi",
               "--workers", "1", "--no-progress", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, preexec_fn=_file_size_limit(6000), timeout=300)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "disk is full" in lines[0] and "--resume" in lines[0] and JOURNAL in lines[0]
    stored = pd.DataFrame(Journal(out / JOURNAL).records())
    assert len(stored) >= 3 and set(stored["spec"]) <= {"opus@6", "opus@12"}

"""Helpers of the tests that drive `codecbench run` as a user does: a folder of real utterances, the command in
a subprocess, and the processes it left behind."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pandas as pd

SHORT_UTTERANCES = ("1688-142285-0002", "2414-128291-0003", "2609-156975-0003", "3005-163389-0002")  # 2.7-3.6 s
TIMING_COLUMNS = ["encode_s", "decode_s", "metrics_s"]  # wall clock: the only columns two runs may differ in


def copy_utterances(librispeech_root: Path, ids: tuple[str, ...], folder: Path) -> Path:
    """`folder/<id>.flac` for every LibriSpeech utterance id (a `--dataset folder` input)."""
    folder.mkdir(parents=True, exist_ok=True)
    for utterance in ids:
        shutil.copyfile(next(Path(librispeech_root).rglob(f"{utterance}.flac")), folder / f"{utterance}.flac")
    return folder


def run_command(out: Path, data: Path, *extra: str, codecs: str = "opus@6,codec2@2.4", workers: int = 2) -> list[str]:
    """`codecbench run` on a folder of utterances, as a command line."""
    return [sys.executable, "-m", "codecbench.cli", "run", "--dataset", "folder", "--root", str(data),
            "--codecs", codecs, "--metrics", "pesq_wb", "--workers", str(workers), "--no-progress",
            "--out", str(out), *extra]


def comparable(table: pd.DataFrame) -> pd.DataFrame:
    """A run's table without its wall-clock columns."""
    return table.drop(columns=TIMING_COLUMNS).reset_index(drop=True)


def session_processes(session: int) -> list[int]:
    """Live (not zombie) processes of a session: a command started with `start_new_session=True` and every
    process it started, even those whose parent died."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found

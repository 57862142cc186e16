"""The decoded audio a run keeps (`--keep-audio`): one FLAC file per row in `OUT/audio/`, its SHA-256 in the row.

    OUT/audio/<spec>[/<channel>][/<input>]/<utterance>.flac      (each part percent-encoded, see `relative_path`)

What is kept is the row's first decode (the row's `seed`) as the codec returned it, at the codec's output rate
(`Coded.output`), before the pipeline resampled it to the working rate; a pair scored by `codecbench score`
keeps the decoded file as it was scored (at its reference's rate). FLAC holds 24-bit PCM: the float decode is
rounded to the nearest 2^-23 of full scale (about -138 dBFS; a decode of 16-bit samples is held exactly) and
clipped at full scale; `quantize` is that rounding, and `read` returns exactly `quantize(decode)`.

Resume safety: the process that builds the row writes the file under a temporary name, fsyncs it and renames it
into place before it returns the row, and the row reaches the journal only after that, so a journalled row's
file is complete. A file whose row never reached the journal (a killed run) does not count: its task is still
to do, and doing it replaces the file. A journalled row whose file is missing, or whose bytes no longer hash to
the row's `audio_sha256`, is found by `problem` (what `RunDir.completed(audio=True)` uses on `--resume
--keep-audio`, so such a row is coded again; `read` refuses it).
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import threading
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import numpy as np
import soundfile as sf

from codecbench.audio import resample
from codecbench.rows import AUDIO_SHA256, Row

if TYPE_CHECKING:
    from codecbench.pipeline import Coded

FOLDER = "audio"
SUFFIX = ".flac"
SUBTYPE = "PCM_24"
SCALE = 1 << 23  # 24-bit full scale
TEMPORARY = ".tmp"  # a file being written: `.<name>.<pid>-<thread>.tmp`; never counts, removed by `remove_temporaries`
SAFE = "@=,.+-_~"  # kept as they are in a path part; everything else (`/`, `%`, `:`, spaces) is percent-encoded


class KeptAudioError(ValueError):
    """A row's kept audio cannot be used: none was kept, or its file is missing or altered."""


def _part(text: str) -> str:
    """One path component: percent-encoded, never hidden (a leading `.` is encoded too)."""
    part = quote(text, safe=SAFE)
    return "%2E" + part[1:] if part.startswith(".") else part


def relative_path(key: tuple[str, ...]) -> PurePosixPath:
    """Where the audio of the row with `key` (`Row.key`: utterance, spec, then condition values) lies in the run
    folder, e.g. `audio/opus@6/1688-142285-0002.flac`, `audio/opus@6/loss@10%25/clean/1688-142285-0002.flac`."""
    utterance, spec, *conditions = key
    return PurePosixPath(FOLDER, _part(spec), *(_part(c) for c in conditions), _part(utterance) + SUFFIX)


def _levels(signal: np.ndarray) -> np.ndarray:
    """`signal` (float, full scale 1) as 24-bit integer levels, rounded to the nearest and clipped at full scale."""
    return np.clip(np.round(np.asarray(signal, dtype=np.float64) * SCALE), -SCALE, SCALE - 1).astype(np.int32)


def quantize(signal: np.ndarray) -> np.ndarray:
    """[T] float32: `signal` exactly as its kept file holds it (what `read` returns)."""
    return (_levels(signal) / SCALE).astype(np.float32)


def encode(signal: np.ndarray, rate: int) -> bytes:
    """`signal` [T] (float, full scale 1) as the bytes of a 24-bit FLAC file at `rate` (levels `_levels`: the
    conversion is ours, not libsndfile's, whose float scaling does not read back exactly)."""
    buffer = io.BytesIO()
    sf.write(buffer, _levels(signal) * 256, rate, format="FLAC", subtype=SUBTYPE)  # int32: its top 24 bits are kept
    return buffer.getvalue()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def store(run_dir: str | Path, key: tuple[str, ...], signal: np.ndarray, rate: int) -> str:
    """Write the audio of the row with `key` into `run_dir` atomically (temporary file, fsync, rename, fsync of
    the folder); returns the file's SHA-256."""
    path = Path(run_dir) / relative_path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = encode(signal, rate)
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}{TEMPORARY}")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
    return digest(data)


def keep(run_dir: str | None, row: Row, coded: Coded) -> Row:
    """The row with its decoded audio kept in `run_dir` (None: nothing kept, the row as it is).

    The one call the coding path makes: the process that builds a row stores its audio before handing the row
    on to be journalled."""
    if run_dir is None:
        return row
    signal, rate = (coded.output, coded.output_rate) if coded.output is not None else (coded.decodes[0],
                                                                                      coded.sample_rate)
    return replace(row, audio_sha256=store(run_dir, row.key, signal, rate))


def kept_sha256(record: Mapping[str, Any]) -> str:
    """The row's `audio_sha256` ('' where it kept none, or the run predates the column)."""
    value = record.get(AUDIO_SHA256)
    return value if isinstance(value, str) else ""


def problem(run_dir: str | Path, record: Mapping[str, Any], key: tuple[str, ...]) -> str:
    """Why the kept audio of a stored row (`record`, whose `Row.key` is `key`) cannot be used: '' where its file
    is there and hashes to the row's `audio_sha256`."""
    sha = kept_sha256(record)
    if not sha:
        return "no audio kept"
    path = Path(run_dir) / relative_path(key)
    if not path.is_file():
        return f"{path} is missing"
    if digest(path.read_bytes()) != sha:
        return f"{path} was altered (its SHA-256 differs from the row's audio_sha256)"
    return ""


def present(run_dir: str | Path, record: Mapping[str, Any], key: tuple[str, ...]) -> bool:
    """Whether a stored row names kept audio whose file is there (cheap: its bytes are not hashed; `problem` does)."""
    return bool(kept_sha256(record)) and (Path(run_dir) / relative_path(key)).is_file()


def read(run_dir: str | Path, record: Mapping[str, Any], key: tuple[str, ...]) -> tuple[np.ndarray, int]:
    """The kept audio [T] (float32) of a stored row and its rate, checked against the row's SHA-256.

    Raises:
        KeptAudioError: none kept, the file is missing, or its bytes changed.
    """
    reason = problem(run_dir, record, key)
    if reason:
        raise KeptAudioError(f"{' · '.join(key)}: {reason}")
    levels, rate = sf.read(str(Path(run_dir) / relative_path(key)), dtype="int32", always_2d=False)
    return (levels / (SCALE * 256)).astype(np.float32), int(rate)


def decoded_at(run_dir: str | Path, record: Mapping[str, Any], key: tuple[str, ...], rate: int) -> np.ndarray:
    """The kept audio of a stored row resampled to `rate` the way `pipeline.code` resamples a decode (so at the
    working rate it is the signal the row was scored on, up to FLAC's 24-bit rounding).

    Raises:
        KeptAudioError: see `read`.
    """
    samples, kept_rate = read(run_dir, record, key)
    return resample(samples, kept_rate, rate)


def remove_temporaries(run_dir: str | Path) -> int:
    """Remove the half-written files a killed run left (they never count); returns how many."""
    folder = Path(run_dir) / FOLDER
    removed = 0
    for path in folder.rglob(f".*{TEMPORARY}") if folder.is_dir() else ():
        path.unlink(missing_ok=True)
        removed += 1
    return removed


def clear(run_dir: str | Path) -> None:
    """Remove a run's kept audio (`--overwrite`)."""
    shutil.rmtree(Path(run_dir) / FOLDER, ignore_errors=True)


def folder_bytes(run_dir: str | Path) -> int:
    """The size of the kept audio on disk, in bytes."""
    folder = Path(run_dir) / FOLDER
    return sum(p.stat().st_size for p in folder.rglob(f"*{SUFFIX}")) if folder.is_dir() else 0

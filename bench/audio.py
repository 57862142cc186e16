"""Audio I/O and the one resampler used everywhere (soxr)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from codecbench.storage import data_path, is_uri, reading

SILENCE_PEAK = 1e-4  # -80 dBFS: a file whose peak stays below this carries no signal


class AudioError(ValueError):
    """Input audio that cannot be used (unreadable, empty, silent, not finite)."""


@dataclass
class LoadedAudio:
    """A mono float32 signal at the working rate, with the conversions applied to get there."""

    samples: np.ndarray  # [T] float32
    sample_rate: int
    source_rate: int
    conversions: list[str] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample a mono signal with soxr (VHQ, linear phase, delay compensated).

    Args:
        x: [T] signal.
        rate_in: its sample rate in Hz.
        rate_out: the wanted sample rate in Hz.
    """
    x = np.asarray(x, dtype=np.float32)
    if rate_in == rate_out:
        return x
    return soxr.resample(x, rate_in, rate_out, quality="VHQ").astype(np.float32, copy=False)


def check_signal(x: np.ndarray, what: str = "signal") -> None:
    """Raise AudioError if `x` is empty, not finite or silent."""
    if x.size == 0:
        raise AudioError(f"{what} is empty")
    if not np.all(np.isfinite(x)):
        raise AudioError(f"{what} contains NaN or Inf")
    peak = float(np.max(np.abs(x)))
    if peak < SILENCE_PEAK:
        raise AudioError(f"{what} is silent (peak {20 * np.log10(max(peak, 1e-12)):.1f} dBFS)")


def load_audio(path: str | Path, sample_rate: int, check: bool = True) -> LoadedAudio:
    """Read a file as mono float32 at `sample_rate`, recording any downmix or resampling.

    Args:
        path: a local file, or a URI (or `UPath`) that fsspec opens (`codecbench.storage`).
        check: refuse silent or non-finite audio too (unreadable or empty files always raise).

    Raises:
        AudioError: the file cannot be decoded or is empty, or (with `check`) is silent or not finite.
    """
    try:
        if is_uri(path):
            with reading(path), data_path(path).open("rb") as handle:
                data, source_rate = sf.read(handle, dtype="float32", always_2d=True)
        else:
            data, source_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioError(f"cannot read audio: {exc}") from exc
    conversions: list[str] = []
    if data.shape[1] > 1:
        conversions.append(f"downmixed {data.shape[1]}->1 channels")
        data = data.mean(axis=1, keepdims=True)
    samples = data[:, 0]
    if source_rate != sample_rate:
        conversions.append(f"resampled {source_rate}->{sample_rate} Hz")
        samples = resample(samples, source_rate, sample_rate)
    if check:
        check_signal(samples, "input audio")
    elif samples.size == 0:
        raise AudioError("input audio is empty")
    return LoadedAudio(samples, sample_rate, source_rate, conversions)


def to_pcm16(x: np.ndarray) -> np.ndarray:
    """Float [-1, 1] to int16 with clipping."""
    return (np.clip(x, -1.0, 1.0) * 32767.0).round().astype(np.int16)


def from_pcm16(x: np.ndarray) -> np.ndarray:
    """int16 to float32 in [-1, 1]."""
    return (np.asarray(x, dtype=np.float32) / 32767.0).astype(np.float32)


def fit_length(x: np.ndarray, length: int) -> np.ndarray:
    """Zero-pad or cut `x` at the end to exactly `length` samples."""
    if len(x) >= length:
        return x[:length]
    return np.pad(x, (0, length - len(x)))

"""The files a samples page links: each shown cell's audio copied from the run (FLAC, byte for byte the kept file,
so its SHA-256 is the row's `audio_sha256`), each reference input as FLAC, a spectrogram thumbnail per cell, and
each file's BS.1770 loudness for loudness-matched playback."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from codecbench import kept_audio
from codecbench.audio import load_audio, resample
from codecbench.resources import file_digest

SPECTROGRAM_RATE = 16000  # every thumbnail at the working rate: one frequency axis (0-8 kHz) for every cell
THUMB_PX = (210, 80)  # width, height of a thumbnail (and of a cell's player)
THUMB_DPI = 100
DYNAMIC_RANGE_DB = 80.0  # each utterance's thumbnails share one colour scale: its reference's peak down to -80 dB
N_FFT, HOP = 512, 128


@dataclass(frozen=True)
class Asset:
    """One cell's files, relative to the page, and what playback needs.

    Args:
        audio: the FLAC file.
        spectrogram: the PNG thumbnail.
        rate: the audio's sample rate.
        loudness_lufs: BS.1770 integrated loudness (NaN below the gate or under 400 ms).
        sha256: the audio file's SHA-256.
    """

    audio: str
    spectrogram: str
    rate: int
    loudness_lufs: float
    sha256: str


def _loudness(samples: np.ndarray, rate: int) -> float:
    import pyloudnorm

    if len(samples) < int(0.4 * rate):
        return float("nan")
    value = float(pyloudnorm.Meter(rate).integrated_loudness(np.asarray(samples, dtype=np.float64)))
    return value if np.isfinite(value) else float("nan")


def power_db(samples: np.ndarray) -> np.ndarray:
    """[F, frames] power spectrogram in dB (Hann window, `N_FFT`, `HOP`) of a signal at `SPECTROGRAM_RATE`."""
    x = np.asarray(samples, dtype=np.float64)
    x = np.pad(x, (0, max(0, N_FFT - len(x))))
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP] * np.hanning(N_FFT)
    spectrum = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    return 10 * np.log10(spectrum.T + 1e-12)


def write_spectrogram(samples: np.ndarray, rate: int, top_db: float, path: Path) -> None:
    """A thumbnail of `samples` (resampled to `SPECTROGRAM_RATE`) on the colour scale [top_db - range, top_db]."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    image = power_db(resample(samples, rate, SPECTROGRAM_RATE))
    figure = plt.figure(figsize=(THUMB_PX[0] / THUMB_DPI, THUMB_PX[1] / THUMB_DPI), dpi=THUMB_DPI)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.imshow(image, origin="lower", aspect="auto", cmap="magma", vmin=top_db - DYNAMIC_RANGE_DB, vmax=top_db,
                interpolation="nearest")
    axes.set_axis_off()
    figure.savefig(path, dpi=THUMB_DPI)
    plt.close(figure)


def reference_top_db(samples: np.ndarray, rate: int) -> float:
    """The colour scale's top for an utterance: its reference's spectrogram peak."""
    return float(power_db(resample(samples, rate, SPECTROGRAM_RATE)).max())


def copy_reference(path: Path, expected_sha256: str | None, target: Path) -> tuple[np.ndarray, int]:
    """The reference input as FLAC at its own rate: a mono FLAC copied as it is, anything else as the run read it
    (mono, 24-bit FLAC); returns its samples.

    Raises:
        ValueError: the input changed since the run (its SHA-256 differs from the manifest's).
    """
    if expected_sha256 and file_digest(path) != expected_sha256:
        raise ValueError(f"{path} changed since the run (its SHA-256 differs from the run's manifest.csv)")
    info = sf.info(str(path))
    samples = load_audio(path, info.samplerate, check=False).samples
    if info.format == "FLAC" and info.channels == 1:
        shutil.copyfile(path, target)  # as it is: the page's file hashes to the manifest's SHA-256
    else:
        target.write_bytes(kept_audio.encode(samples, info.samplerate))
    return samples, info.samplerate


def copy_cell(cell_file: Path, target: Path) -> tuple[np.ndarray, int]:
    """A kept file copied as it is (the caller checked it against the row's SHA-256: `kept_audio.problem`);
    returns its samples."""
    shutil.copyfile(cell_file, target)
    samples, rate = sf.read(str(target), dtype="float32", always_2d=False)
    return samples, int(rate)


def asset(out: Path, audio: Path, samples: np.ndarray, rate: int, top_db: float) -> Asset:
    """The thumbnail of a copied file (beside it, `.png`) and the cell's description."""
    png = audio.with_suffix(".png")
    write_spectrogram(samples, rate, top_db, png)
    return Asset(audio.relative_to(out).as_posix(), png.relative_to(out).as_posix(), rate,
                 _loudness(samples, rate), file_digest(audio))

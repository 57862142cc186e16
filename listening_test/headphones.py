"""The headphone screen: Huggins pitch (Milne et al. 2021, Behav. Res. Methods 53:1551-1562), and the check tone's level.

Huggins pitch: white noise goes to the left ear, and the same noise to the right ear with a narrow band
(centre frequency +-6 %) phase-inverted. Each ear alone gets plain noise; only when the two ears are
combined, as over headphones, a faint tone at the centre frequency is heard. Over loudspeakers the two
channels mix in the air before they reach the ears and the tone is (nearly) gone.

Each round is one stimulus of three 1000 ms noise intervals, 500 ms apart, two diotic (the same noise
in both ears) and one dichotic (the Huggins pitch), in a random position; the listener says which
interval holds the tone (three-alternative forced choice). `ROUNDS` rounds; the screen is passed with at
least `MIN_CORRECT` correct (a guesser passes with p = 13/729 = 1.8 %; `analyze --headphone-min-correct 6`
asks for all). The centre frequency is 600 Hz as in Milne et al.; the noise is set to the test's speech
loudness (BS.1770), never louder.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import soundfile as sf

RATE = 44100  # Milne et al.'s sampling rate
ROUNDS = 6
MIN_CORRECT = 5
INTERVALS = 3
INTERVAL_S = 1.0
GAP_S = 0.5
CENTRE_HZ = 600.0
HALF_BAND = 0.06  # the inverted band spans centre x (1 -+ 6 %)
RAMP_S = 0.02  # raised-cosine on- and offset of every interval
TONE_HZ = 500.0  # the left/right check tone (played by the page)
PEAK_LIMIT = 10 ** (-1 / 20)  # -1 dBFS: no stimulus of the screen peaks above it


@dataclass(frozen=True)
class HugginsRound:
    """One round of the screen.

    Args:
        target: the interval (1..3) that holds the Huggins pitch.
        seed: the noise seed.
    """

    target: int
    seed: int


def plan_rounds(rng: np.random.Generator, rounds: int = ROUNDS) -> list[int]:
    """The target interval of each round, uniformly random."""
    return [int(t) for t in rng.integers(1, INTERVALS + 1, rounds)]


def huggins_noise(seed: int, dichotic: bool, rate: int = RATE, seconds: float = INTERVAL_S,
                  centre_hz: float = CENTRE_HZ) -> np.ndarray:
    """One interval [T, 2] of Gaussian white noise: the right channel equals the left, except (if `dichotic`)
    in the band centre x (1 -+ `HALF_BAND`), whose phase it inverts (a sign flip of those FFT bins)."""
    rng = np.random.default_rng(seed)
    left = rng.standard_normal(int(round(seconds * rate)))
    spectrum = np.fft.rfft(left)
    if dichotic:
        freqs = np.fft.rfftfreq(len(left), 1 / rate)
        band = (freqs >= centre_hz * (1 - HALF_BAND)) & (freqs <= centre_hz * (1 + HALF_BAND))
        spectrum[band] *= -1
    right = np.fft.irfft(spectrum, len(left))
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(int(RAMP_S * rate)) + 0.5) / int(RAMP_S * rate))
    both = np.stack([left, right], axis=1)
    both[: len(ramp)] *= ramp[:, None]
    both[-len(ramp):] *= ramp[::-1, None]
    return both


def huggins_stimulus(round_: HugginsRound, loudness_lufs: float, rate: int = RATE) -> np.ndarray:
    """The round's three intervals with their gaps [T, 2], float, at `loudness_lufs` (BS.1770)."""
    rng = np.random.default_rng(round_.seed)
    gap = np.zeros((int(round(GAP_S * rate)), 2))
    parts = []
    for interval in range(1, INTERVALS + 1):
        if parts:
            parts.append(gap)
        parts.append(huggins_noise(int(rng.integers(2 ** 31)), interval == round_.target, rate))
    signal = np.concatenate(parts)
    return signal * _gain_to(signal, rate, loudness_lufs)


def huggins_wav(round_: HugginsRound, loudness_lufs: float) -> bytes:
    """The round's stimulus as 16-bit stereo WAV bytes."""
    buffer = io.BytesIO()
    sf.write(buffer, huggins_stimulus(round_, loudness_lufs), RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def tone_amplitude(loudness_lufs: float, rate: int = 48000) -> float:
    """Peak amplitude (full scale 1) of the `TONE_HZ` check tone in one ear that has the BS.1770 loudness
    `loudness_lufs`, the level the test's speech was aligned to."""
    t = np.arange(rate) / rate
    tone = np.zeros((rate, 2))
    tone[:, 0] = np.sin(2 * np.pi * TONE_HZ * t)
    return float(min(1.0, _gain_to(tone, rate, loudness_lufs)))


def passed(correct: int, min_correct: int = MIN_CORRECT) -> bool:
    return correct >= min_correct


def _gain_to(signal: np.ndarray, rate: int, loudness_lufs: float) -> float:
    import pyloudnorm

    measured = pyloudnorm.Meter(rate).integrated_loudness(signal)
    gain = 10 ** ((loudness_lufs - measured) / 20)
    peak = float(np.max(np.abs(signal))) * gain
    return gain if peak <= PEAK_LIMIT else PEAK_LIMIT * gain / peak

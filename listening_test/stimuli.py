"""Stimulus preparation: excerpts cut on pauses, raised-cosine edges, BS.1770 loudness alignment.

Signals are float arrays [T, C] (samples, channels). Loudness is ITU-R BS.1770 integrated loudness
measured with `pyloudnorm` (K-weighting, 400 ms gated blocks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_EXCERPT_S = 12.0
EDGE_FADE_S = 0.01  # raised-cosine fade at both ends of every excerpt
FRAME_S = 0.02  # activity analysis frame
SILENCE_DB = -40.0  # a frame this far below the loudest frame is silent
MIN_PAUSE_S = 0.15  # a silent run at least this long is a pause a cut may land in
MARGIN_S = 0.2  # silence kept before the first and after the last active frame
PEAK_LIMIT_DBFS = -1.0  # headroom kept by loudness alignment (the gate correction may add hundredths of a dB)


@dataclass(frozen=True)
class Excerpt:
    """Where an excerpt lies in its source, in samples, and how its end was chosen.

    Args:
        start: first sample.
        end: one past the last sample.
        cut: `whole` (the source fits), `pause` (cut in a pause), `low-energy` (no pause long enough
            was found; cut at the quietest frame of the second half) or `exact` (an exact length was asked).
    """

    start: int
    end: int
    cut: str

    def seconds(self, rate: int) -> tuple[float, float]:
        return self.start / rate, self.end / rate


def as_2d(x: np.ndarray) -> np.ndarray:
    """A signal as float64 [T, C]."""
    x = np.asarray(x, dtype=np.float64)
    return x[:, None] if x.ndim == 1 else x


def frame_levels_db(x: np.ndarray, rate: int) -> np.ndarray:
    """RMS level (dB) of consecutive `FRAME_S` frames of the channel mean of `x` [T, C]."""
    mono = as_2d(x).mean(axis=1)
    hop = max(1, int(round(FRAME_S * rate)))
    frames = len(mono) // hop
    if frames == 0:
        raise ValueError(f"signal of {len(mono)} samples is shorter than one {FRAME_S * 1000:.0f} ms frame")
    power = (mono[: frames * hop].reshape(frames, hop) ** 2).mean(axis=1)
    return 10 * np.log10(power + 1e-20)


def excerpt_bounds(x: np.ndarray, rate: int, max_s: float = MAX_EXCERPT_S) -> Excerpt:
    """An excerpt of at most `max_s` seconds that starts and ends in silence.

    Leading and trailing silence is trimmed to `MARGIN_S`; a longer signal is cut in the middle of the
    latest pause (a silent run of at least `MIN_PAUSE_S`) that keeps the excerpt within `max_s` and
    at least a quarter of it long.
    """
    levels = frame_levels_db(x, rate)
    hop = int(round(FRAME_S * rate))
    active = levels > levels.max() + SILENCE_DB
    first, last = np.flatnonzero(active)[[0, -1]]
    margin = int(round(MARGIN_S / FRAME_S))
    start_frame = max(0, first - margin)
    end_frame = min(len(levels), last + 1 + margin)
    limit = int(max_s / FRAME_S)
    if end_frame - start_frame <= limit:
        end = len(as_2d(x)) if end_frame == len(levels) else end_frame * hop
        return Excerpt(start_frame * hop, min(end, start_frame * hop + int(max_s * rate)), "whole")
    window = ~active[start_frame: start_frame + limit]
    min_run, shortest = int(round(MIN_PAUSE_S / FRAME_S)), limit // 4
    best, run = None, 0
    for index, silent in enumerate(window):
        run = run + 1 if silent else 0
        if run >= min_run and index - run // 2 >= shortest:
            best = index - run // 2  # the middle of the latest pause seen so far
    if best is not None:
        return Excerpt(start_frame * hop, (start_frame + best) * hop, "pause")
    half = limit // 2
    quietest = half + int(np.argmin(levels[start_frame + half: start_frame + limit]))
    return Excerpt(start_frame * hop, (start_frame + quietest) * hop, "low-energy")


def exact_excerpt(x: np.ndarray, rate: int, length_s: float) -> Excerpt:
    """An excerpt of exactly `length_s` seconds: of the windows that start at the speech onset (less
    `MARGIN_S`) or in a silent frame after it, the one whose last frame is quietest (the earliest of equals).

    Raises:
        ValueError: the signal is shorter than `length_s`.
    """
    levels = frame_levels_db(x, rate)
    hop, total, length = int(round(FRAME_S * rate)), len(as_2d(x)), int(round(length_s * rate))
    if total < length:
        raise ValueError(f"a {total / rate:.2f} s signal is shorter than the {length_s:g} s excerpt asked for")
    active = levels > levels.max() + SILENCE_DB
    onset = max(0, int(np.flatnonzero(active)[0]) - int(round(MARGIN_S / FRAME_S)))
    starts = [onset] + [f for f in range(onset + 1, len(levels)) if not active[f]]
    starts = [f * hop for f in starts if f * hop + length <= total] or [total - length]
    best = min(starts, key=lambda s: (levels[min(len(levels) - 1, (s + length) // hop - 1)], s))
    return Excerpt(best, best + length, "exact")


def cut_excerpt(x: np.ndarray, excerpt: Excerpt, rate: int) -> np.ndarray:
    """The excerpt of `x` [T, C] with `EDGE_FADE_S` raised-cosine fade-in and fade-out."""
    y = as_2d(x)[excerpt.start: excerpt.end].copy()
    n = min(int(round(EDGE_FADE_S * rate)), len(y) // 2)
    if n > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)
        y[:n] *= ramp[:, None]
        y[-n:] *= ramp[::-1, None]
    return y


def integrated_loudness(x: np.ndarray, rate: int) -> float:
    """BS.1770 integrated loudness (LUFS) of `x` [T, C]; -inf for a signal below the gate."""
    import pyloudnorm

    y = as_2d(x)
    if len(y) < int(0.4 * rate):
        raise ValueError(f"BS.1770 needs at least 400 ms of signal, got {len(y) / rate * 1000:.0f} ms")
    return float(pyloudnorm.Meter(rate).integrated_loudness(y if y.shape[1] > 1 else y[:, 0]))


def peak_dbfs(x: np.ndarray) -> float:
    peak = float(np.max(np.abs(x)))
    return 20 * np.log10(peak) if peak > 0 else float("-inf")


def alignment_target(loudness: list[float], peaks_dbfs: list[float], target_lufs: float) -> float:
    """The common loudness every stimulus is set to: `target_lufs`, lowered as far as needed so that no
    stimulus' sample peak exceeds `PEAK_LIMIT_DBFS` after its gain."""
    overshoot = max(peak + (target_lufs - level) - PEAK_LIMIT_DBFS for level, peak in zip(loudness, peaks_dbfs))
    return target_lufs - max(0.0, overshoot)


def set_loudness(x: np.ndarray, rate: int, target_lufs: float, measured_lufs: float,
                 tolerance_lu: float = 0.01) -> tuple[np.ndarray, float, float]:
    """Scale `x` [T, C] to `target_lufs` and quantise it to 16-bit PCM.

    A gain moves quiet blocks across BS.1770's absolute gate, so the loudness of the result is measured
    again and the gain corrected (up to three times) until it is within `tolerance_lu`.

    Returns:
        The int16 signal [T, C], the gain in dB and the loudness of the int16 signal.
    """
    from codecbench.audio import to_pcm16

    gain_db = target_lufs - measured_lufs
    for _ in range(3):
        pcm = to_pcm16(as_2d(x) * 10 ** (gain_db / 20))
        achieved = integrated_loudness(pcm / 32767.0, rate)
        if not np.isfinite(achieved) or abs(achieved - target_lufs) <= tolerance_lu:
            break
        gain_db += target_lufs - achieved
    return pcm, gain_db, achieved

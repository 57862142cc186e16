"""Delay estimation and alignment before intrusive metrics.

Two estimators and one rule (`delay_rule`):

- `estimate_delay`: the lag of the largest raw-waveform cross-correlation. Exact for waveform codecs, wrong for
  decoders whose phase does not follow the input (GAN and diffusion vocoders): their cross-correlation peaks are
  spurious, anywhere in the search range.
- `estimate_envelope_delay`: phase-blind. Log-mel band energies on a 1 ms hop are cross-correlated (each band's
  mean removed, normalised over the frames that overlap at each lag); the peak is interpolated to a fraction of a
  frame, then refined to the sample by waveform cross-correlation within ±`REFINE_S` of it, used only where the
  waveform correlates there (normalised peak >= `WAVEFORM_MIN`). Its confidence is the peak's prominence: the
  normalised envelope correlation at the peak minus the largest one more than `PROMINENCE_GAP_S` away from it.

The rule (`--align`): `auto` takes the codec's declared delay where it declares one, else the envelope estimate;
an estimate whose confidence is below `CONFIDENCE_MIN` is not applied: the delay falls back to the declared one, or
0, and the row is flagged; an envelope-only estimate within `AGREEMENT_S` of that fallback confirms it. So the suite's alignment never moves a pair it cannot place; it leaves it as it came.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal

ALIGN_MODES = ("auto", "declared", "none", "xcorr", "envelope")
DEFAULT_ALIGN = "auto"
ALIGN_HELP = ("the delay removed before intrusive metrics: auto (the codec's declared delay, else the phase-blind "
              "envelope estimate, 0 where it is not confident), declared (0 where none is declared), none, "
              "xcorr (raw-waveform cross-correlation), envelope (the estimate even where a delay is declared)")
HOP_S = 0.001  # envelope frame hop
WINDOW_S = 0.016  # envelope analysis window
N_BANDS = 40  # mel bands of the envelope
FLOOR_DB = 60.0  # band energies below the loudest frame-band minus this are clipped (silence carries no timing)
REFINE_S = 0.0015  # the waveform refinement searches this far either side of the envelope lag
WAVEFORM_MIN = 0.5  # normalised waveform cross-correlation needed to trust the waveform's lag
PROMINENCE_GAP_S = 0.05  # the competing peak is searched at least this far from the chosen one
CONFIDENCE_MIN = 0.1  # below this prominence the estimate is not applied
AGREEMENT_S = 0.001  # a declared delay and a confident waveform-refined estimate further apart flag the row
ENVELOPE_AGREEMENT_S = 0.005  # the same for an envelope-only estimate (it scatters +-2.5 ms on phase-free decodes)


@dataclass(frozen=True)
class Estimate:
    """A delay estimate.

    Args:
        samples: lag by which the degraded signal trails the reference (degraded[n] ~ reference[n - lag]).
        method: `xcorr` (raw waveform), `envelope` (log-mel envelope, interpolated) or `envelope+waveform`
            (envelope lag refined by the waveform cross-correlation).
        confidence: the envelope peak's prominence (0..2; NaN for `xcorr`, which has none).
        peak: the normalised correlation at the chosen lag (envelope, or waveform after refinement).
    """

    samples: int
    method: str
    confidence: float
    peak: float


@dataclass(frozen=True)
class Delay:
    """What the delay rule removed before intrusive metrics, and why (the row's `delay_*` columns).

    Args:
        samples: the delay removed (`align`), at the signals' rate.
        method: `declared`, `none`, `xcorr`, `envelope`, `envelope+waveform`, or `fallback` (a low-confidence
            estimate not applied: the declared delay, or 0, was kept).
        confidence: of the estimate (NaN where none was made or the estimator has none).
        flag: '' when nothing is doubtful; else why (`low confidence ...`, `declared ... disagrees ...`).
    """

    samples: int
    method: str
    confidence: float = math.nan
    flag: str = ""


def estimate_delay(reference: np.ndarray, degraded: np.ndarray, max_lag: int) -> int:
    """Lag (samples) by which `degraded` trails `reference`: degraded[n] ~ reference[n - lag].

    The lag maximises the raw-waveform cross-correlation within [-max_lag, max_lag].

    Args:
        reference: [T] signal.
        degraded: [T'] signal.
        max_lag: largest absolute lag searched, in samples.
    """
    corr = signal.correlate(degraded, reference, mode="full", method="fft")
    lags = signal.correlation_lags(len(degraded), len(reference), mode="full")
    window = np.abs(lags) <= max_lag
    return int(lags[window][np.argmax(corr[window])])


def _mel_bank(sample_rate: int, n_fft: int, n_bands: int) -> np.ndarray:
    """[n_bands, n_fft // 2 + 1] triangular mel filters from 50 Hz to min(Nyquist, 8 kHz)."""
    def mel(f: np.ndarray | float) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    edges_mel = np.linspace(mel(50.0), mel(min(sample_rate / 2, 8000.0)), n_bands + 2)
    edges = 700.0 * (10 ** (edges_mel / 2595.0) - 1.0)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    rising = (freqs[None, :] - edges[:-2, None]) / (edges[1:-1, None] - edges[:-2, None])
    falling = (edges[2:, None] - freqs[None, :]) / (edges[2:, None] - edges[1:-1, None])
    return np.maximum(0.0, np.minimum(rising, falling))


def log_mel_envelope(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """[frames, N_BANDS] log-mel band energies (dB, floored FLOOR_DB below the loudest) on a HOP_S hop; frame k
    is centred on sample k * hop."""
    hop = max(1, round(HOP_S * sample_rate))
    win = max(8, round(WINDOW_S * sample_rate))
    n_fft = 1 << (win - 1).bit_length()
    padded = np.pad(np.asarray(x, dtype=np.float64), (win // 2, win // 2 + hop))
    frames = np.lib.stride_tricks.sliding_window_view(padded, win)[::hop][: len(x) // hop + 1]
    power = np.abs(np.fft.rfft(frames * np.hanning(win), n=n_fft, axis=1)) ** 2
    energy = power @ _mel_bank(sample_rate, n_fft, N_BANDS).T
    db = 10.0 * np.log10(energy + 1e-20)
    return np.maximum(db, db.max() - FLOOR_DB)


def _normalised_xcorr(x: np.ndarray, y: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """Normalised cross-correlation of [T, B] `x` and [T', B] `y` at `lags` (y[n] ~ x[n - lag]), each lag
    normalised by the energies of the frames that overlap there; summed over the B columns."""
    corr = sum(signal.correlate(y[:, b], x[:, b], mode="full", method="fft") for b in range(x.shape[1]))
    all_lags = signal.correlation_lags(len(y), len(x), mode="full")
    corr = corr[np.searchsorted(all_lags, lags)]
    ex = np.concatenate([[0.0], np.cumsum((x ** 2).sum(axis=1))])
    ey = np.concatenate([[0.0], np.cumsum((y ** 2).sum(axis=1))])
    # At lag l, x[n] meets y[n + l] for n in [max(0, -l), min(len(x), len(y) - l)).
    lo_x = np.clip(-lags, 0, len(x))
    hi_x = np.clip(np.minimum(len(x), len(y) - lags), 0, len(x))
    lo_y, hi_y = np.clip(lo_x + lags, 0, len(y)), np.clip(hi_x + lags, 0, len(y))
    energy = np.sqrt(np.maximum(ex[hi_x] - ex[lo_x], 0) * np.maximum(ey[hi_y] - ey[lo_y], 0))
    return np.where(energy > 0, corr / np.where(energy > 0, energy, 1.0), 0.0)


def estimate_envelope_delay(reference: np.ndarray, degraded: np.ndarray, max_lag: int,
                            sample_rate: int) -> Estimate:
    """Phase-blind delay estimate with confidence (see the module docstring).

    Args:
        reference: [T] signal.
        degraded: [T'] signal, same rate.
        max_lag: largest absolute lag searched, in samples.
        sample_rate: of both signals.
    """
    hop = max(1, round(HOP_S * sample_rate))
    ref_env, deg_env = log_mel_envelope(reference, sample_rate), log_mel_envelope(degraded, sample_rate)
    ref_env = ref_env - ref_env.mean(axis=0)
    deg_env = deg_env - deg_env.mean(axis=0)
    frame_lags = np.arange(max(-(max_lag // hop), 1 - len(ref_env)), min(max_lag // hop, len(deg_env) - 1) + 1)
    corr = _normalised_xcorr(ref_env, deg_env, frame_lags)
    best = int(np.argmax(corr))
    gap = max(1, round(PROMINENCE_GAP_S * sample_rate / hop))
    far = np.abs(frame_lags - frame_lags[best]) > gap
    rival = float(corr[far].max()) if far.any() else -1.0
    confidence = float(corr[best] - rival)
    offset = 0.0
    if 0 < best < len(corr) - 1:  # parabolic interpolation of the peak
        left, mid, right = corr[best - 1], corr[best], corr[best + 1]
        curvature = left - 2 * mid + right
        offset = float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5)) if curvature < 0 else 0.0
    lag = int(round((frame_lags[best] + offset) * hop))
    lag = int(np.clip(lag, -max_lag, max_lag))
    refined, peak = _refine(reference, degraded, lag, max(1, round(REFINE_S * sample_rate)), max_lag)
    if peak >= WAVEFORM_MIN:
        return Estimate(refined, "envelope+waveform", confidence, peak)
    return Estimate(lag, "envelope", confidence, float(corr[best]))


def _refine(reference: np.ndarray, degraded: np.ndarray, lag: int, radius: int, max_lag: int) -> tuple[int, float]:
    """The waveform lag within `lag` ± `radius` (bounded by ±max_lag) with the largest normalised
    cross-correlation, and that correlation."""
    lags = np.arange(max(-max_lag, lag - radius, 1 - len(reference)), min(max_lag, lag + radius, len(degraded) - 1) + 1)
    if lags.size == 0:
        return lag, 0.0
    corr = _normalised_xcorr(np.asarray(reference, np.float64)[:, None], np.asarray(degraded, np.float64)[:, None],
                             lags)
    best = int(np.argmax(corr))
    return int(lags[best]), float(corr[best])


def delay_rule(reference: np.ndarray, degraded: np.ndarray, mode: str, declared: int | None, max_lag: int,
               sample_rate: int) -> Delay:
    """The delay removed before intrusive metrics under `--align MODE`.

    - `none`: 0.
    - `declared`: the codec's declared delay; a codec that declares none keeps 0 (flagged).
    - `xcorr`: the raw-waveform cross-correlation peak (the suite's rule before `--align`, without the
      declared delay; right for waveform codecs only).
    - `envelope`: the envelope estimate; below `CONFIDENCE_MIN` the declared delay, or 0, is kept (flagged).
      An estimate from envelopes alone (the waveform does not correlate: a generative decoder) within
      `AGREEMENT_S` of the declared delay, or 0, confirms it and that is kept: the envelope resolves no finer,
      and a sub-millisecond move of a phase-free signal only adds noise to PESQ.
    - `auto`: the declared delay where the codec declares one (the envelope estimate is still made and the row
      flagged where it is confident and disagrees by more than `AGREEMENT_S`, or `ENVELOPE_AGREEMENT_S` for an
      estimate the waveform could not refine), else as `envelope`.

    Args:
        reference, degraded: [T], [T'] signals at `sample_rate`.
        mode: one of `ALIGN_MODES`.
        declared: the codec's declared delay at `sample_rate` (None: it declares none, e.g. a file pair).
        max_lag: largest absolute lag the estimators search, in samples.
        sample_rate: of both signals.

    Raises:
        ValueError: an unknown mode.
    """
    if mode not in ALIGN_MODES:
        raise ValueError(f"unknown alignment {mode!r}; select one of {list(ALIGN_MODES)}")
    if mode == "none":
        return Delay(0, "none")
    if mode == "declared":
        return Delay(0, "declared", flag="no declared delay: kept 0") if declared is None else Delay(declared, "declared")
    if mode == "xcorr":
        return Delay(estimate_delay(reference, degraded, max_lag), "xcorr")
    estimate = estimate_envelope_delay(reference, degraded, max_lag, sample_rate)
    confident = estimate.confidence >= CONFIDENCE_MIN
    if mode == "auto" and declared is not None:
        tolerance = AGREEMENT_S if estimate.method == "envelope+waveform" else ENVELOPE_AGREEMENT_S
        apart = abs(estimate.samples - declared) > tolerance * sample_rate
        flag = (f"declared {declared} disagrees with the {estimate.method} estimate {estimate.samples}"
                if confident and apart else "")
        return Delay(declared, "declared", estimate.confidence, flag)
    kept = 0 if declared is None else declared
    if not confident:
        return Delay(kept, "fallback", estimate.confidence,
                     f"low confidence {estimate.confidence:.3f} < {CONFIDENCE_MIN}: estimate {estimate.samples} not "
                     f"applied, kept {kept}")
    if estimate.method == "envelope" and abs(estimate.samples - kept) <= AGREEMENT_S * sample_rate:
        return Delay(kept, "envelope", estimate.confidence)  # within the envelope's resolution: it confirms `kept`
    return Delay(estimate.samples, estimate.method, estimate.confidence)


def align(reference: np.ndarray, degraded: np.ndarray, delay: int) -> tuple[np.ndarray, np.ndarray]:
    """Undo `delay` (see estimate_delay) and trim both signals to their common length."""
    if delay > 0:
        degraded = degraded[delay:]
    elif delay < 0:
        reference = reference[-delay:]
    n = min(len(reference), len(degraded))
    return reference[:n], degraded[:n]


def on_reference_timeline(degraded: np.ndarray, delay: int, length: int) -> np.ndarray:
    """Undo `delay` as `align` does (a delayed signal loses its first samples, an early one is padded with
    zeros) and fit `length` samples: a decode placed on the reference's timeline (MUSHRA stimuli)."""
    from codecbench.audio import fit_length

    if delay > 0:
        degraded = degraded[delay:]
    elif delay < 0:
        degraded = np.concatenate([np.zeros(-delay, dtype=degraded.dtype), degraded])
    return fit_length(degraded, length)


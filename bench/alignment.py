"""Delay estimation by bounded cross-correlation, and alignment before intrusive metrics."""

from __future__ import annotations

import numpy as np
from scipy import signal


def estimate_delay(reference: np.ndarray, degraded: np.ndarray, max_lag: int) -> int:
    """Lag (samples) by which `degraded` trails `reference`: degraded[n] ~ reference[n - lag].

    The lag maximises the cross-correlation within [-max_lag, max_lag].

    Args:
        reference: [T] signal.
        degraded: [T'] signal.
        max_lag: largest absolute lag searched, in samples.
    """
    corr = signal.correlate(degraded, reference, mode="full", method="fft")
    lags = signal.correlation_lags(len(degraded), len(reference), mode="full")
    window = np.abs(lags) <= max_lag
    return int(lags[window][np.argmax(corr[window])])


def align(reference: np.ndarray, degraded: np.ndarray, delay: int) -> tuple[np.ndarray, np.ndarray]:
    """Undo `delay` (see estimate_delay) and trim both signals to their common length."""
    if delay > 0:
        degraded = degraded[delay:]
    elif delay < 0:
        reference = reference[-delay:]
    n = min(len(reference), len(degraded))
    return reference[:n], degraded[:n]

"""Scale-invariant signal-to-distortion ratio (Le Roux et al. 2019), via `auraloss`."""

from __future__ import annotations

import numpy as np

from codecbench.metrics.base import Metric
from codecbench.metrics.torch_input import TORCH_AURALOSS, as_batch, one_thread


def si_sdr(reference: np.ndarray, degraded: np.ndarray) -> float:
    """SI-SDR in dB of `degraded` [T] against `reference` [T] (zero-mean, auraloss' eps 1e-8)."""
    from auraloss.time import SISDRLoss

    with one_thread():
        return -float(SISDRLoss()(as_batch(degraded), as_batch(reference)))


class SiSdr(Metric):
    """SI-SDR (dB), higher is better. A waveform-matching metric: meaningless for generative decoders."""

    name = "si_sdr"
    sample_rate = 16000
    best_range = (60.0, float("inf"))  # x against x: 93-110 dB on the sample (float32 precision and eps)
    min_duration_s = 0.25
    requires = TORCH_AURALOSS
    notes = "waveform match: meaningless for generative decoders (reports flag it)"

    def compute(self, reference: np.ndarray, degraded: np.ndarray) -> dict[str, float]:
        return {self.name: si_sdr(reference, degraded)}

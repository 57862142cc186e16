"""Log-spectral distance on torch.stft power spectra."""

from __future__ import annotations

import numpy as np

from codecbench.metrics.base import Metric
from codecbench.metrics.torch_input import TORCH, one_thread

N_FFT, HOP = 512, 128  # 32 ms Hann window, 8 ms hop at 16 kHz
EPS = 1e-8  # power floor: keeps silent bins finite


def log_spectral_distance(reference: np.ndarray, degraded: np.ndarray) -> float:
    """LSD = mean over frames of sqrt(mean over bins of (log10 P_ref - log10 P_deg)^2) (e.g. NU-Wave 2).

    Args:
        reference: [T] signal.
        degraded: [T] signal, same rate.
    """
    import torch

    def log_power(x: np.ndarray):
        spec = torch.stft(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), N_FFT, HOP,
                          window=torch.hann_window(N_FFT), return_complex=True)
        return torch.log10(spec.abs().square() + EPS)

    with one_thread():
        difference = log_power(reference) - log_power(degraded)  # [bins, frames]
        return float(difference.square().mean(dim=0).sqrt().mean())


class LogSpectralDistance(Metric):
    """Log-spectral distance (log10 power, 512-point STFT), lower is better."""

    name = "lsd"
    sample_rate = 16000
    higher_is_better = False
    value_range = (0.0, float("inf"))
    best_range = (0.0, 0.0)
    min_duration_s = 0.25
    requires = TORCH

    def compute(self, reference: np.ndarray, degraded: np.ndarray) -> dict[str, float]:
        return {self.name: log_spectral_distance(reference, degraded)}

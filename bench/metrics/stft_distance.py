"""Spectral distances from `auraloss`: log-mel L1 distance and the multi-resolution STFT distance."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from codecbench.metrics.base import Metric
from codecbench.metrics.torch_input import TORCH_AURALOSS, as_batch, one_thread

SAMPLE_RATE = 16000


@lru_cache(maxsize=None)
def _losses():
    """The distance modules, built once per process (the mel filterbank is precomputed)."""
    from auraloss.freq import MelSTFTLoss, MultiResolutionSTFTLoss

    mel = MelSTFTLoss(sample_rate=SAMPLE_RATE, fft_size=1024, hop_size=256, win_length=1024, n_mels=80,
                      w_sc=0.0, w_log_mag=1.0, w_lin_mag=0.0)
    return {"mel_distance": mel, "mrstft": MultiResolutionSTFTLoss()}


def stft_distance(kind: str, reference: np.ndarray, degraded: np.ndarray) -> float:
    """`mel_distance` or `mrstft` between `degraded` [T] and `reference` [T] at 16 kHz."""
    with one_thread():
        return float(_losses()[kind](as_batch(degraded), as_batch(reference)))


class MelDistance(Metric):
    """Mean absolute difference of natural-log 80-band mel magnitude spectra (1024-point STFT, hop 256)."""

    name = "mel_distance"
    sample_rate = SAMPLE_RATE
    higher_is_better = False
    value_range = (0.0, float("inf"))
    best_range = (0.0, 0.0)
    min_duration_s = 0.25
    requires = TORCH_AURALOSS

    def compute(self, reference: np.ndarray, degraded: np.ndarray) -> dict[str, float]:
        return {self.name: stft_distance(self.name, reference, degraded)}


class MultiResolutionStftDistance(MelDistance):
    """Multi-resolution STFT distance (Yamamoto et al. 2020): spectral convergence + log-magnitude L1,
    averaged over FFT sizes 512, 1024, 2048 (auraloss defaults)."""

    name = "mrstft"

"""STOI and extended STOI (`pystoi`), computed at their native 10 kHz."""

from __future__ import annotations

import warnings

import numpy as np

from codecbench.metrics.base import Metric, MetricError


def stoi_score(reference: np.ndarray, degraded: np.ndarray, sample_rate: int, extended: bool) -> float:
    """pystoi's score; its 1e-5 placeholder for too few speech frames becomes MetricError."""
    from pystoi import stoi

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = float(stoi(reference, degraded, sample_rate, extended=extended))
    for warning in caught:
        if "Not enough STFT frames" in str(warning.message):
            raise MetricError("STOI: fewer than 30 speech frames (384 ms) after removing silence")
    return value


class Stoi(Metric):
    """Short-Time Objective Intelligibility (Taal et al. 2011), 0-1."""

    name = "stoi"
    sample_rate = 10000
    value_range = (-1.0, 1.0)  # a mean correlation; 0-1 in practice
    best_range = (1.0 - 1e-9, 1.0)

    def compute(self, reference: np.ndarray, degraded: np.ndarray) -> dict[str, float]:
        return {self.name: stoi_score(reference, degraded, self.sample_rate, extended=False)}


class Estoi(Metric):
    """Extended STOI (Jensen & Taal 2016), for modulated maskers; about 0-1."""

    name = "estoi"
    sample_rate = 10000
    value_range = (-1.0, 1.0)  # a mean correlation; 0-1 in practice
    best_range = (1.0 - 1e-9, 1.0)

    def compute(self, reference: np.ndarray, degraded: np.ndarray) -> dict[str, float]:
        return {self.name: stoi_score(reference, degraded, self.sample_rate, extended=True)}

"""PESQ (ITU-T P.862 reference C code via the `pesq` package): wide band (P.862.2) and narrow band."""

from __future__ import annotations

import numpy as np

from codecbench.metrics.base import Metric, MetricError


def pesq_score(reference: np.ndarray, degraded: np.ndarray, sample_rate: int, mode: str) -> float:
    """MOS-LQO from the `pesq` package; its errors (e.g. no utterance detected) become MetricError."""
    import pesq

    try:
        return float(pesq.pesq(sample_rate, reference, degraded, mode, on_error=pesq.PesqError.RAISE_EXCEPTION))
    except pesq.PesqError as exc:
        raise MetricError(f"PESQ failed: {type(exc).__name__}: {exc}") from exc


class PesqWB(Metric):
    """Wide-band PESQ (P.862.2) at 16 kHz, MOS-LQO 1.04-4.644."""

    name = "pesq_wb"
    sample_rate = 16000
    value_range = (1.04, 4.644)  # P.862.2 mapping of raw 4.5: 4.6439
    best_range = (4.6438, 4.644)
    min_duration_s = 0.25

    def compute(self, reference: np.ndarray, degraded: np.ndarray) -> dict[str, float]:
        return {self.name: pesq_score(reference, degraded, self.sample_rate, "wb")}


class PesqNB(Metric):
    """Narrow-band PESQ (P.862 + P.862.1 mapping) on 16 kHz input, MOS-LQO 1.02-4.55."""

    name = "pesq_nb"
    sample_rate = 16000
    value_range = (1.02, 4.55)  # P.862.1 mapping of raw 4.5: 4.5486
    best_range = (4.5486, 4.55)
    min_duration_s = 0.25

    def compute(self, reference: np.ndarray, degraded: np.ndarray) -> dict[str, float]:
        return {self.name: pesq_score(reference, degraded, self.sample_rate, "nb")}

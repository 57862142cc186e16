"""F0 RMSE and voicing decision error from probabilistic YIN (`librosa.pyin`): low-bitrate codecs break pitch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codecbench.metrics.base import Metric, MetricError
from codecbench.metrics.cache import SignalCache
from codecbench.resources import Dependencies

FMIN, FMAX = 50.0, 550.0  # Hz: covers adult and child speech
FRAME, HOP = 1024, 160  # 64 ms analysis frames every 10 ms at 16 kHz


@dataclass
class PitchTrack:
    """F0 per frame (Hz, NaN where unvoiced) and the voicing decision."""

    f0: np.ndarray  # [frames]
    voiced: np.ndarray  # [frames] bool


def pitch_track(x: np.ndarray, sample_rate: int) -> PitchTrack:
    """pYIN pitch track of `x` [T]."""
    import librosa

    f0, voiced, _ = librosa.pyin(x.astype(np.float32), fmin=FMIN, fmax=FMAX, sr=sample_rate,
                                 frame_length=FRAME, hop_length=HOP)
    return PitchTrack(f0, voiced.astype(bool))


def compare_pitch(reference: PitchTrack, degraded: PitchTrack) -> dict[str, float]:
    """F0 RMSE (Hz) over frames voiced in both, and the fraction of frames whose voicing differs.

    Raises:
        MetricError: the reference has no voiced frame, or no frame is voiced in both.
    """
    n = min(len(reference.voiced), len(degraded.voiced))
    ref_voiced, deg_voiced = reference.voiced[:n], degraded.voiced[:n]
    if not ref_voiced.any():
        raise MetricError("F0: the reference has no voiced frame")
    both = ref_voiced & deg_voiced
    if not both.any():
        raise MetricError("F0: no frame is voiced in both signals")
    error = reference.f0[:n][both] - degraded.f0[:n][both]
    return {"f0_rmse": float(np.sqrt(np.mean(error**2))), "vde": float(np.mean(ref_voiced != deg_voiced))}


class F0(Metric):
    """F0 RMSE (Hz, frames voiced in both) and voicing decision error (0-1), pYIN at 16 kHz; lower is better."""

    name = "f0"
    columns = ("f0_rmse", "vde")
    sample_rate = 16000
    higher_is_better = False
    value_range = (0.0, float("inf"))  # vde: 0-1
    best_range = (0.0, 0.0)
    min_duration_s = 0.25
    default = False  # pYIN costs about 0.1 s per second of each signal: opt-in
    requires = Dependencies(("librosa",), extra="metrics")
    notes = "opt-in (pYIN is slow); f0_rmse in Hz; vde is a fraction of frames (0-1)"

    def __init__(self) -> None:
        self._reference_tracks: SignalCache[PitchTrack] = SignalCache()  # once per utterance, not per codec

    def compute(self, reference: np.ndarray, degraded: np.ndarray) -> dict[str, float]:
        ref_track = self._reference_tracks.get(reference, self.sample_rate,
                                               lambda: pitch_track(reference, self.sample_rate))
        return compare_pitch(ref_track, pitch_track(degraded, self.sample_rate))

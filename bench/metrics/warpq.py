"""WARP-Q (Jassim et al., ICASSP 2021): an intrusive quality metric made for generative (waveform-free) speech
codecs: MFCC patches of the decoded speech aligned to the reference by subsequence DTW; the raw score is the
median alignment cost (lower is better; identical signals cost 0.5-0.7, not 0: docs/metrics.md). Pure DSP from
the `warpq` package, no learned weights.

The package's own VAD comes from `pyvad`, which cannot run here (it imports `webrtcvad`, which needs
`pkg_resources`, gone from setuptools 81, and calls `np.lib.pad`, gone from numpy 2). So the package runs with
`apply_vad=False` and the same VAD is applied first by codecbench: pyvad's algorithm (WebRTC VAD, mode 0, 30 ms
frames, a 3-frame smoothing) on pocketsphinx's port of the WebRTC VAD. Its feature normalisation (`cmvnw`)
calls `np.lib.pad` too, so that step is the package's code with `np.pad` (`cmvnw` below); the MFCCs, patches and
subsequence DTW are the package's. `warpq` imports pyvad at module level: it is imported beside a placeholder
where pyvad fails (`guarded_import`), which it never calls. Values equal the package's own where its VAD runs
(docs/metrics.md).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from codecbench.metrics.base import Metric, MetricError
from codecbench.metrics.guarded_import import import_beside
from codecbench.resources import Availability, Dependencies

SAMPLE_RATE = 16000
VAD_HOP_MS = 30  # pyvad.vad's hop_length as WARP-Q calls it
VAD_MODE = 0  # pyvad.vad's default aggressiveness (WebRTC "quality" mode)
INSTALL = "'codecbench[metrics]' (or pip install warpq==1.5.2)"


def voice_activity(x: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """pyvad.vad(x, sample_rate, hop_length=30) on pocketsphinx's WebRTC VAD: a per-sample 0/1 mask [T].

    The signal is cut into 30 ms frames (the last zero-padded, plus one whole frame of zeros as pyvad
    pads), each frame judged by the VAD, the decisions smoothed by a 3-frame moving average (> 0 is speech).
    """
    from pocketsphinx import Vad

    hop = sample_rate * VAD_HOP_MS // 1000
    pcm = (np.clip(x, -1.0, 1.0).astype(np.float32) * 2.0**15).astype(np.int16)  # pyvad's conversion
    n_frames = pcm.size // hop + 1
    padded = np.zeros(n_frames * hop, np.int16)
    padded[: pcm.size] = pcm
    vad = Vad(VAD_MODE, sample_rate, VAD_HOP_MS / 1000)
    decisions = np.array([vad.is_speech(padded[i * hop:(i + 1) * hop].tobytes()) for i in range(n_frames)], float)
    speech = np.convolve(decisions, np.ones(3) / 3, mode="same") > 0
    return np.repeat(speech, hop)[: x.size].astype(float)


@lru_cache(maxsize=1)
def _scorer():
    """The package's scorer at 16 kHz with its published defaults, VAD off (applied here), one job."""
    core = import_beside("warpq.core", ("pyvad",))
    return core.warpqMetric(sr=SAMPLE_RATE, apply_vad=False, n_jobs=1)


def cmvnw(features: np.ndarray, win_size: int) -> np.ndarray:
    """Sliding-window cepstral mean and variance normalisation of `features` [frames, coefficients]: the
    package's `warpq.utils.cmvnw(..., variance_normalization=True)` (from speechpy), line for line, with
    `np.pad` for the `np.lib.pad` that numpy 2 removed."""
    eps = 2**-30
    pad = (win_size - 1) // 2
    padded = np.pad(features, ((pad, pad), (0, 0)), "symmetric")
    centred = np.zeros(features.shape, dtype=np.float32)
    for i in range(features.shape[0]):
        centred[i, :] = features[i, :] - np.mean(padded[i:i + win_size, :], axis=0)
    padded = np.pad(centred, ((pad, pad), (0, 0)), "symmetric")
    normalised = np.zeros(features.shape, dtype=np.float32)
    for i in range(features.shape[0]):
        normalised[i, :] = centred[i, :] / (np.std(padded[i:i + win_size, :], axis=0) + eps)
    return normalised


def warpq_raw(reference: np.ndarray, degraded: np.ndarray) -> float:
    """Raw WARP-Q score (median DTW alignment cost of 0.4 s MFCC patches) of `degraded` [T] against
    `reference` [T] at 16 kHz, after removing what the VAD calls silence.

    The steps of `warpqMetric.evaluate` with the package's parameters: MFCCs (librosa), `cmvnw`, then the
    package's own patching and subsequence DTW (`align_mfcc_patches`); the median cost rounded to 3 decimals.

    Raises:
        MetricError: less than one 0.4 s patch of speech is left in either signal.
    """
    import librosa

    scorer = _scorer()
    features, times = [], []
    for what, x in (("reference", reference), ("degraded", degraded)):
        speech = x[voice_activity(x) == 1].astype(np.float32)
        if speech.size < scorer.patch_size * SAMPLE_RATE:
            raise MetricError(f"WARP-Q: {speech.size / SAMPLE_RATE:.2f} s of speech in the {what} signal after "
                              f"VAD, need one {scorer.patch_size} s patch")
        mfcc = librosa.feature.mfcc(y=speech, sr=SAMPLE_RATE, n_mfcc=scorer.n_mfcc, fmax=scorer.fmax,
                                    n_fft=scorer.n_fft, win_length=scorer.win_length,
                                    hop_length=scorer.hop_length, lifter=scorer.lifter)
        times.append(librosa.frames_to_time(range(mfcc.shape[1]), sr=SAMPLE_RATE, hop_length=scorer.hop_length,
                                            n_fft=scorer.n_fft))
        features.append(cmvnw(mfcc.T, scorer.cmvnw_win_size).T)
    costs = scorer.align_mfcc_patches(features[1], features[0], times[1], times[0])[0]
    return round(float(np.median(costs)), 3)


class Warpq(Metric):
    """WARP-Q raw score (median subsequence-DTW cost of MFCC patches), lower is better."""

    name = "warpq"
    sample_rate = SAMPLE_RATE
    higher_is_better = False
    value_range = (0.0, float("inf"))  # the package's normalised score is clip(1 - warpq / 3.5, 0, 1)
    # no best_range: x against x costs 0.51-0.70 on the sample, not 0 (the DTW steps (1,0), (0,3), (1,3) cannot
    # follow the diagonal); see docs/metrics.md
    min_duration_s = 0.4
    default = False  # opt-in until its agreement with listeners is measured (docs/metrics.md)
    # warpq itself is imported behind a guard (`_scorer`), so it is recorded, not import-checked here
    requires = Dependencies(("librosa", "numba", "joblib", "pocketsphinx"), install=INSTALL, records=("warpq",))
    notes = ("for generative codecs (no waveform match); f(x, x) is 0.5-0.7, not 0; warpq 1.5.2 with "
             "apply_vad=False after codecbench's copy of its pyvad VAD (pocketsphinx WebRTC VAD, mode 0, 30 ms)")

    @classmethod
    def availability(cls) -> Availability:
        status = cls.requires.check()
        if not status.available:
            return status
        try:
            _scorer()
        except ImportError as exc:
            return Availability(False, f"warpq cannot be imported ({exc}); pip install {INSTALL}")
        return status

    def compute(self, reference: np.ndarray, degraded: np.ndarray) -> dict[str, float]:
        return {self.name: warpq_raw(reference, degraded)}

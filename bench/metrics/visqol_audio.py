"""ViSQOL v3 in audio mode (`visqol-python` with Google's bundled SVR model): the fullband ViSQOL.

Audio mode compares 32 gammatone bands from 50 Hz up to 24 kHz at 48 kHz (Google's audio-mode rate) and maps
similarity to MOS-LQO with a support-vector regression trained on music and speech listening tests. Unlike
speech mode (50 Hz-8 kHz, `codecbench.metrics.visqol`) it sees what a codec does above 8 kHz, so it can tell a
fullband decoder from a wideband one when the pair is read at a fullband rate (`codecbench score` pairs are
read at the reference's rate: 24 kHz stimuli give content up to 12 kHz; 16 kHz input none above 8 kHz).
"""

from __future__ import annotations

import numpy as np

from codecbench.metrics.base import Metric
from codecbench.metrics.visqol import VISQOL, visqol_moslqo


class VisqolAudio(Metric):
    """ViSQOL v3 audio mode (SVR mapping), MOS-LQO, at 48 kHz: the fullband ViSQOL."""

    name = "visqol_audio"
    sample_rate = 48000
    value_range = (1.0, 5.0)
    min_duration_s = 0.5
    default = False  # opt-in: about as slow as speech mode
    requires = VISQOL
    best_range = (4.732, 4.733)  # the SVR's output for identical signals (4.7321 on every sample utterance), not 5
    notes = ("audio mode (32 bands, 50 Hz-24 kHz, Google's SVR model) at 48 kHz: sees content above 8 kHz if the "
             "input has it")

    def compute(self, reference: np.ndarray, degraded: np.ndarray) -> dict[str, float]:
        score = visqol_moslqo(reference, degraded, self.sample_rate, mode="audio")
        # its double-precision path moves by a few ulps (4.7321012530423445 ... 4.732101253042357 for one input) with
        # the heap's alignment of its buffers: float32 precision, as speech mode returns, gives one value per input
        return {self.name: float(np.float32(score))}

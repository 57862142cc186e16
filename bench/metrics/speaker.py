"""Speaker similarity: cosine similarity of speaker embeddings of the reference and the decoded speech.

One column per encoder, so two encoders never share a column: `speaker_sim` uses the GE2E encoder whose
weights ship inside Resemblyzer's wheel (offline, no download), `speaker_sim_wavlm` WavLM-SV x-vectors
(weights needed). The reference's embedding is computed once per reference segment and process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import numpy as np

from codecbench.resources import Availability, Dependencies
from codecbench.metrics import ge2e, wavlm_sv
from codecbench.metrics.base import Metric
from codecbench.metrics.cache import SignalCache


class SpeakerSimilarity(Metric):
    """Cosine similarity of GE2E (Resemblyzer) speaker embeddings of decoded and reference speech, -1..1."""

    name = "speaker_sim"
    sample_rate = 16000
    value_range = (-1.0, 1.0)
    best_range = (1.0 - 1e-6, 1.0)  # unit embeddings in float32
    min_duration_s = 0.5
    default = False  # opt-in: a neural encoder, and meaningful only where the speaker can change
    requires = Dependencies(("torch", "librosa", "pocketsphinx"), extra="metrics", records=("resemblyzer",))
    notes = "GE2E encoder with the weights in Resemblyzer's wheel (offline); long silences cut by the WebRTC VAD"
    embed: ClassVar[Callable[[np.ndarray], np.ndarray]] = staticmethod(ge2e.speaker_embedding)

    def __init__(self) -> None:
        self._reference_embeddings: SignalCache[np.ndarray] = SignalCache()

    @classmethod
    def availability(cls) -> Availability:
        status = cls.requires.check()
        if status.available and ge2e.weights_path() is None:
            return Availability(False, "resemblyzer (its wheel holds the GE2E weights) is not installed: "
                                       f"pip install {cls.requires.pip}")
        return status

    def compute(self, reference: np.ndarray, degraded: np.ndarray) -> dict[str, float]:
        ref = self._reference_embeddings.get(reference, self.sample_rate, lambda: self.embed(reference))
        return {self.name: float(np.dot(ref, self.embed(degraded)))}


class SpeakerSimilarityWavLM(SpeakerSimilarity):
    """Cosine similarity of WavLM-SV x-vectors of decoded and reference speech, -1..1."""

    name = "speaker_sim_wavlm"
    notes = f"WavLM-SV x-vectors; weights: ${wavlm_sv.WEIGHTS_ENV}, ../shared/models, the HF cache, or download"
    embed = staticmethod(wavlm_sv.speaker_embedding)
    requires = wavlm_sv.REQUIRES

    @classmethod
    def availability(cls) -> Availability:
        return wavlm_sv.availability()

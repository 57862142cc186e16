"""Speaker similarity: cosine similarity of WavLM-SV x-vectors (`microsoft/wavlm-base-plus-sv`, transformers)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from codecbench.codecs.base import Availability
from codecbench.metrics.base import Metric, MetricError
from codecbench.metrics.cache import SignalCache
from codecbench.metrics.torch_input import one_thread
from codecbench.metrics.weights import locate_weights, weights_availability

REPO_ID = "microsoft/wavlm-base-plus-sv"
WEIGHTS_ENV = "CODECBENCH_WAVLM_SV"


@lru_cache(maxsize=1)
def _model():
    """Feature extractor and x-vector model, loaded once per process."""
    from transformers import AutoFeatureExtractor, WavLMForXVector

    location = locate_weights(WEIGHTS_ENV, REPO_ID)
    if location.source is None:
        raise MetricError(location.reason)
    return AutoFeatureExtractor.from_pretrained(location.source), WavLMForXVector.from_pretrained(location.source).eval()


def speaker_embedding(x: np.ndarray, sample_rate: int = 16000) -> np.ndarray:
    """Unit-norm x-vector [D] of `x` [T] at 16 kHz."""
    import torch

    extractor, model = _model()
    inputs = extractor(x.astype(np.float32), sampling_rate=sample_rate, return_tensors="pt")
    with one_thread():
        embedding = model(**inputs).embeddings[0]
    return torch.nn.functional.normalize(embedding, dim=-1).numpy()


class SpeakerSimilarity(Metric):
    """Cosine similarity of WavLM-SV speaker embeddings of decoded and reference speech, -1..1."""

    name = "speaker_sim"
    sample_rate = 16000
    value_range = (-1.0, 1.0)
    min_duration_s = 0.5
    default = False  # needs model weights
    extra = "metrics"
    notes = f"weights: ${WEIGHTS_ENV}, ../shared/models, the HF cache, or hub download"

    def __init__(self) -> None:
        self._reference_embeddings: SignalCache[np.ndarray] = SignalCache()

    @classmethod
    def availability(cls) -> Availability:
        return weights_availability(WEIGHTS_ENV, REPO_ID, ("torch", "transformers"))

    def compute(self, reference: np.ndarray, degraded: np.ndarray) -> dict[str, float]:
        ref = self._reference_embeddings.get(reference, self.sample_rate, lambda: speaker_embedding(reference))
        return {self.name: float(np.dot(ref, speaker_embedding(degraded)))}

"""WavLM-SV speaker embeddings (`microsoft/wavlm-base-plus-sv`, transformers); needs its weights."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from codecbench.resources import Availability, Dependencies
from codecbench.metrics.base import MetricError
from codecbench.metrics.torch_input import one_thread
from codecbench.metrics.weights import locate_weights, weights_availability

REPO_ID = "microsoft/wavlm-base-plus-sv"
WEIGHTS_ENV = "CODECBENCH_WAVLM_SV"
SAMPLE_RATE = 16000
REQUIRES = Dependencies(("torch", "transformers", "huggingface_hub"), extra="metrics")


def availability() -> Availability:
    return weights_availability(REQUIRES, WEIGHTS_ENV, REPO_ID)


@lru_cache(maxsize=1)
def _model():
    """Feature extractor and x-vector model, loaded once per process."""
    from transformers import AutoFeatureExtractor, WavLMForXVector

    location = locate_weights(WEIGHTS_ENV, REPO_ID)
    if location.source is None:
        raise MetricError(location.reason)
    return AutoFeatureExtractor.from_pretrained(location.source), WavLMForXVector.from_pretrained(location.source).eval()


def speaker_embedding(x: np.ndarray) -> np.ndarray:
    """Unit-norm x-vector [D] of `x` [T] at 16 kHz."""
    import torch

    extractor, model = _model()
    inputs = extractor(x.astype(np.float32), sampling_rate=SAMPLE_RATE, return_tensors="pt")
    with one_thread():
        embedding = model(**inputs).embeddings[0]
    return torch.nn.functional.normalize(embedding, dim=-1).numpy()

"""English speech recognition with Whisper (`openai/whisper-small.en`, transformers); needs its weights."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from codecbench.resources import Availability, Dependencies
from codecbench.metrics.base import MetricError
from codecbench.metrics.torch_input import one_thread
from codecbench.metrics.weights import locate_weights, weights_availability

REPO_ID = "openai/whisper-small.en"
WEIGHTS_ENV = "CODECBENCH_WHISPER"
SAMPLE_RATE = 16000
REQUIRES = Dependencies(("torch", "transformers", "jiwer", "huggingface_hub"), extra="metrics")
WHISPER_WINDOW_FRAMES = 3000  # 30 s of 10 ms log-mel frames: longer input is transcribed long-form


def availability() -> Availability:
    return weights_availability(REQUIRES, WEIGHTS_ENV, REPO_ID)


@lru_cache(maxsize=1)
def _model():
    """Whisper processor and model, loaded once per process."""
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    location = locate_weights(WEIGHTS_ENV, REPO_ID)
    if location.source is None:
        raise MetricError(location.reason)
    processor = WhisperProcessor.from_pretrained(location.source)
    return processor, WhisperForConditionalGeneration.from_pretrained(location.source).eval()


def normalise_text(text: str) -> str:
    """Whisper's English text normaliser."""
    processor, _ = _model()
    return processor.tokenizer.normalize(text)


def transcribe(x: np.ndarray) -> str:
    """Whisper's normalised English transcript of `x` [T] at 16 kHz (long-form past 30 s)."""
    processor, model = _model()
    inputs = processor(x.astype(np.float32), sampling_rate=SAMPLE_RATE, return_tensors="pt", truncation=False,
                       padding="longest", return_attention_mask=True)
    long_form = inputs.input_features.shape[-1] > WHISPER_WINDOW_FRAMES
    if not long_form:
        inputs = processor(x.astype(np.float32), sampling_rate=SAMPLE_RATE, return_tensors="pt",
                           return_attention_mask=True)
    # English-only checkpoints refuse `language`/`task`; multilingual ones are told to transcribe English.
    english = {"language": "en", "task": "transcribe"} if getattr(model.generation_config, "is_multilingual", False) else {}
    with one_thread():
        tokens = model.generate(**inputs, return_timestamps=long_form, **english)
    return normalise_text(processor.batch_decode(tokens, skip_special_tokens=True)[0])

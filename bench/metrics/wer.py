"""Word error rate of Whisper's transcript of the decoded speech against its transcript of the reference.

The bundled LibriSpeech sample has no transcripts, so the reference text is Whisper's own transcript of
the reference (a common choice for codecs: it isolates the errors the codec adds). Transcripts are
normalised with Whisper's English normaliser and scored with `jiwer`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from codecbench.codecs.base import Availability
from codecbench.metrics.base import Metric, MetricError
from codecbench.metrics.cache import SignalCache
from codecbench.metrics.torch_input import one_thread
from codecbench.metrics.weights import locate_weights, weights_availability

REPO_ID = "openai/whisper-small.en"
WEIGHTS_ENV = "CODECBENCH_WHISPER"
WHISPER_WINDOW_FRAMES = 3000  # 30 s of 10 ms log-mel frames: longer input is transcribed long-form


@lru_cache(maxsize=1)
def _model():
    """Whisper processor and model, loaded once per process."""
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    location = locate_weights(WEIGHTS_ENV, REPO_ID)
    if location.source is None:
        raise MetricError(location.reason)
    processor = WhisperProcessor.from_pretrained(location.source)
    return processor, WhisperForConditionalGeneration.from_pretrained(location.source).eval()


def transcribe(x: np.ndarray, sample_rate: int = 16000) -> str:
    """Whisper's normalised English transcript of `x` [T] at 16 kHz (long-form past 30 s)."""
    processor, model = _model()
    inputs = processor(x.astype(np.float32), sampling_rate=sample_rate, return_tensors="pt", truncation=False,
                       padding="longest", return_attention_mask=True)
    long_form = inputs.input_features.shape[-1] > WHISPER_WINDOW_FRAMES
    if not long_form:
        inputs = processor(x.astype(np.float32), sampling_rate=sample_rate, return_tensors="pt",
                           return_attention_mask=True)
    # English-only checkpoints refuse `language`/`task`; multilingual ones are told to transcribe English.
    english = {"language": "en", "task": "transcribe"} if getattr(model.generation_config, "is_multilingual", False) else {}
    with one_thread():
        tokens = model.generate(**inputs, return_timestamps=long_form, **english)
    text = processor.batch_decode(tokens, skip_special_tokens=True)[0]
    return processor.tokenizer.normalize(text)


def word_error_rate(reference_text: str, hypothesis_text: str) -> float:
    """jiwer's WER; an empty reference cannot be scored."""
    import jiwer

    if not reference_text.split():
        raise MetricError("WER: the reference transcript is empty")
    return float(jiwer.wer(reference_text, hypothesis_text))


class WordErrorRate(Metric):
    """WER (0 = same words; can exceed 1) of Whisper transcripts, decoded vs reference; lower is better."""

    name = "wer"
    sample_rate = 16000
    higher_is_better = False
    value_range = (0.0, float("inf"))
    min_duration_s = 0.5
    default = False  # needs model weights, slow on CPU
    extra = "metrics"
    notes = f"vs Whisper's transcript of the reference; weights: ${WEIGHTS_ENV}, HF cache or download"

    def __init__(self) -> None:
        self._reference_texts: SignalCache[str] = SignalCache()

    @classmethod
    def availability(cls) -> Availability:
        return weights_availability(WEIGHTS_ENV, REPO_ID, ("torch", "transformers", "jiwer"))

    def compute(self, reference: np.ndarray, degraded: np.ndarray) -> dict[str, float]:
        reference_text = self._reference_texts.get(reference, self.sample_rate, lambda: transcribe(reference))
        return {self.name: word_error_rate(reference_text, transcribe(degraded))}

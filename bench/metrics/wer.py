"""Word error rates of a speech recogniser's transcripts, one column per recogniser and reference text.

- `dwer` (differential WER): the transcript of the decoded speech scored against the transcript of the
  reference speech by the same recogniser. It needs no transcripts and isolates the errors the codec adds.
- `wer`: the decoded speech's transcript scored against the corpus transcript (LibriSpeech's
  `*.trans.txt`), with `ref_wer`, the reference speech's own WER, beside it. NaN plus a reason where the
  split has no transcripts (the bundled sample has none).

Recognisers: pocketsphinx's bundled en-us models (offline; `dwer`, `wer`) and Whisper small.en
(weights needed; `dwer_whisper`, `wer_whisper`). Texts are normalised by the recogniser's normaliser and
scored with `jiwer`; reference transcripts are computed once per reference segment and process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from codecbench.resources import Availability, Dependencies
from codecbench.metrics import sphinx, whisper_asr
from codecbench.metrics.base import Metric, MetricError
from codecbench.metrics.cache import SignalCache


@dataclass(frozen=True)
class Recogniser:
    """A speech recogniser as the WER metrics use it.

    Args:
        transcribe: [T] speech at 16 kHz -> normalised transcript.
        normalise: a corpus transcript -> the same normal form.
        requires: its libraries.
        availability: whether its libraries (and weights) are here.
        notes: what it is, for `codecbench metrics`.
    """

    transcribe: Callable[[np.ndarray], str]
    normalise: Callable[[str], str]
    requires: Dependencies
    availability: Callable[[], Availability]
    notes: str

    def with_jiwer(self) -> Dependencies:
        """What a WER metric on this recogniser needs: jiwer, then the recogniser's libraries."""
        return Dependencies(("jiwer",), extra="metrics", then=self.requires)


POCKETSPHINX = Recogniser(sphinx.transcribe, sphinx.normalise_text, sphinx.REQUIRES, sphinx.availability,
                          "pocketsphinx en-us models bundled in its wheel (offline)")
WHISPER = Recogniser(whisper_asr.transcribe, whisper_asr.normalise_text, whisper_asr.REQUIRES,
                     whisper_asr.availability,
                     f"Whisper {whisper_asr.REPO_ID}; weights: ${whisper_asr.WEIGHTS_ENV}, HF cache or download")


def word_error_rate(reference_text: str, hypothesis_text: str) -> float:
    """jiwer's WER; an empty reference cannot be scored."""
    import jiwer

    if not reference_text.split():
        raise MetricError("WER: the reference transcript is empty")
    return float(jiwer.wer(reference_text, hypothesis_text))


class _RecogniserMetric(Metric):
    """What the WER metrics share: direction, range, rate and their recogniser."""

    sample_rate = 16000
    higher_is_better = False
    value_range = (0.0, float("inf"))
    best_range = (0.0, 0.0)
    min_duration_s = 0.5
    default = False  # opt-in: a recogniser costs about real time on one core
    recogniser: ClassVar[Recogniser] = POCKETSPHINX
    requires = POCKETSPHINX.with_jiwer()  # a subclass with another recogniser declares its own

    @classmethod
    def availability(cls) -> Availability:
        status = cls.requires.check()
        return cls.recogniser.availability() if status.available else status


class DifferentialWer(_RecogniserMetric):
    """Differential WER (0 = same words; can exceed 1): decoded speech's transcript against the reference
    speech's, by pocketsphinx; lower is better."""

    name = "dwer"
    notes = f"vs the recogniser's transcript of the reference; {POCKETSPHINX.notes}"

    def __init__(self) -> None:
        self._reference_texts: SignalCache[str] = SignalCache()

    def compute(self, reference: np.ndarray, degraded: np.ndarray) -> dict[str, float]:
        transcribe = self.recogniser.transcribe
        reference_text = self._reference_texts.get(reference, self.sample_rate, lambda: transcribe(reference))
        return {self.name: word_error_rate(reference_text, transcribe(degraded))}


class DifferentialWerWhisper(DifferentialWer):
    """Differential WER by Whisper small.en."""

    name = "dwer_whisper"
    recogniser = WHISPER
    requires = WHISPER.with_jiwer()
    notes = f"vs the recogniser's transcript of the reference; {WHISPER.notes}"


class TranscriptWer(_RecogniserMetric):
    """WER of pocketsphinx's transcript against the corpus transcript, of the decoded speech and (`ref_wer`)
    of the reference; lower is better."""

    name = "wer"
    intrusive = False
    scores_reference = True
    needs_transcript = True
    notes = f"vs the corpus transcript (NaN where the split has none: use dwer); {POCKETSPHINX.notes}"

    def compute(self, reference: None, degraded: np.ndarray, transcript: str | None = None) -> dict[str, float]:
        if not transcript:
            raise MetricError("no transcript for this utterance (the split has none); dwer needs none")
        return {self.name: word_error_rate(self.recogniser.normalise(transcript), self.recogniser.transcribe(degraded))}


class TranscriptWerWhisper(TranscriptWer):
    """WER of Whisper small.en's transcript against the corpus transcript."""

    name = "wer_whisper"
    recogniser = WHISPER
    requires = WHISPER.with_jiwer()
    notes = f"vs the corpus transcript (NaN where the split has none); {WHISPER.notes}"

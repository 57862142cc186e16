"""Offline English speech recognition: pocketsphinx with the US-English acoustic model, language model and
dictionary bundled in its wheel (CMU Sphinx; no download, no weights to find)."""

from __future__ import annotations

import re
import warnings
from functools import lru_cache

import numpy as np

from codecbench.resources import Availability, Dependencies

SAMPLE_RATE = 16000
REQUIRES = Dependencies(("pocketsphinx",), extra="metrics")


def availability() -> Availability:
    return REQUIRES.check()


@lru_cache(maxsize=1)
def _decoder():
    """A decoder with pocketsphinx's default (bundled en-us) models, built once per process (~1 s)."""
    from pocketsphinx import Decoder

    return Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")


def normalise_text(text: str) -> str:
    """Lower case, words of letters, digits and inner apostrophes, single spaces: how pocketsphinx writes,
    and what LibriSpeech's upper-case transcripts become."""
    words = re.sub(r"[^a-z0-9']+", " ", text.lower()).split()
    return " ".join(w.strip("'") for w in words if w.strip("'"))


def transcribe(x: np.ndarray) -> str:
    """pocketsphinx's normalised transcript of `x` [T] at 16 kHz ('' when it hears no words).

    Every call is a new stream: the front end's noise statistics (spectral subtraction, `remove_noise`) are
    reset first. `start_utt` keeps them (cmusphinx/pocketsphinx#498), so without the reset a transcript
    depended on what the process had transcribed before (a tone before an utterance changed its words).
    """
    pcm = np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16).tobytes()
    decoder = _decoder()
    with warnings.catch_warnings():  # the binding calls the reset "unnecessary": it is, for one stream only
        warnings.simplefilter("ignore", DeprecationWarning)
        decoder.start_stream()
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    hypothesis = decoder.hyp()
    return normalise_text(hypothesis.hypstr) if hypothesis is not None else ""

"""The real speech a latency run codes: 3 s excerpts of LibriSpeech utterances."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codecbench.audio import load_audio
from codecbench.datasets import Utterance, select
from codecbench.pipeline import WORKING_RATE
from codecbench.resources import file_digest

DEFAULT_UTTERANCE = "1688-142285-0003"  # test-other (also in the embedded sample), 5 s, speech from 0.2 s


@dataclass
class Clips:
    """Excerpts of equal length at 16 kHz.

    Args:
        first: the batch-1 and streaming clip [T].
        batch: the throughput batch, B distinct utterances when the split has them (the first is `first`).
        sources: utterance id -> SHA-256 of its file.
        seconds: excerpt length.
        root: the LibriSpeech root they were read from.
    """

    first: np.ndarray
    batch: list[np.ndarray]
    sources: dict[str, str]
    seconds: float
    root: Path


def load_clips(root: str | Path | None = None, split: str | None = None, utterance: str = DEFAULT_UTTERANCE,
               seconds: float = 3.0, batch: int = 1) -> Clips:
    """Read `utterance` and `batch - 1` further utterances of the split (default as in
    `codecbench.datasets.select`: the embedded sample without a root; sorted order, those at least
    `seconds` long, repeated cyclically if the split has too few) and cut the first `seconds` of each.

    Raises:
        ValueError: the utterance is not in the split, or no utterance is long enough.
    """
    if batch < 1:
        raise ValueError(f"batch must be at least 1, not {batch}")
    selection = select("librispeech", root, split)
    by_id = {u.id: u for u in selection.utterances}
    if utterance not in by_id:
        raise ValueError(f"utterance {utterance} is not in {selection.root / selection.split}")
    length = int(round(seconds * WORKING_RATE))
    ordered = [by_id[utterance]] + [u for u in selection.utterances if u.id != utterance]
    excerpts: list[np.ndarray] = []
    sources: dict[str, str] = {}
    for utt in ordered:
        if len(excerpts) == batch:
            break
        samples = _excerpt(utt, length)
        if samples is None:
            if utt.id == utterance:
                raise ValueError(f"utterance {utterance} is shorter than {seconds:g} s")
            continue
        excerpts.append(samples)
        sources[utt.id] = file_digest(utt.path)
    batch_clips = [excerpts[i % len(excerpts)] for i in range(batch)]
    return Clips(excerpts[0], batch_clips, sources, seconds, selection.root)


def _excerpt(utt: Utterance, length: int) -> np.ndarray | None:
    samples = load_audio(utt.path, WORKING_RATE).samples
    return samples[:length] if len(samples) >= length else None

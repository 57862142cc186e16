"""Training data: the waveforms of a LibriSpeech split, cached once as int16, split by speaker into
training and validation, served as random aligned (waveform, log-mel) segments."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from codecbench.codecs.diffusion.representation import LogMel


@dataclass
class Batch:
    """Aligned segments: wav [B, frames * hop] and its log-mel [B, M, frames]."""

    wav: torch.Tensor
    mel: torch.Tensor

    def to(self, device: str | torch.device) -> "Batch":
        return Batch(self.wav.to(device), self.mel.to(device))


class SpeechCorpus:
    """Utterances held in memory as int16.

    Args:
        ids: utterance ids.
        speakers: speaker of each utterance.
        waveforms: one int16 array per utterance (16 kHz).
    """

    def __init__(self, ids: list[str], speakers: list[str], waveforms: list[np.ndarray]) -> None:
        self.ids, self.speakers, self.waveforms = ids, speakers, waveforms

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def hours(self) -> float:
        return sum(len(w) for w in self.waveforms) / 16000 / 3600

    @classmethod
    def load(cls, root: str | Path | None, split: str, cache_dir: str | Path) -> "SpeechCorpus":
        """Read a split (through `codecbench.datasets.select`), cached in `cache_dir` by manifest digest."""
        from codecbench.audio import load_audio, to_pcm16
        from codecbench.datasets import select
        from codecbench.provenance import manifest, table_digest

        selection = select("librispeech", root, split, None)
        digest = table_digest(manifest(selection))[:16]
        cache = Path(cache_dir) / f"{split}-{digest}.pt"
        if cache.exists():
            stored = torch.load(cache, weights_only=False)
            return cls(stored["ids"], stored["speakers"], [w.numpy() for w in stored["waveforms"]])
        waveforms = [to_pcm16(load_audio(u.path, 16000).samples)
                     for u in tqdm(selection.utterances, desc=f"reading {split}", unit="utt")]
        ids = [u.id for u in selection.utterances]
        speakers = [u.speaker for u in selection.utterances]
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        torch.save({"ids": ids, "speakers": speakers, "waveforms": [torch.from_numpy(w) for w in waveforms]}, tmp)
        tmp.replace(cache)
        return cls(ids, speakers, waveforms)

    def split_speakers(self, num_validation: int) -> tuple["SpeechCorpus", "SpeechCorpus"]:
        """(training, validation): the last `num_validation` speakers in sorted order are held back."""
        speakers = sorted(set(self.speakers), key=lambda s: (len(s), s))
        held = set(speakers[len(speakers) - num_validation:]) if num_validation else set()
        parts = ([i for i, s in enumerate(self.speakers) if s not in held],
                 [i for i, s in enumerate(self.speakers) if s in held])
        return tuple(SpeechCorpus([self.ids[i] for i in idx], [self.speakers[i] for i in idx],
                                  [self.waveforms[i] for i in idx]) for idx in parts)


class SegmentSampler:
    """Random segments of `frames` mel frames from a corpus (long utterances drawn more often).

    Args:
        corpus: the utterances.
        representation: the mel front-end (log-mels are computed from the cut waveform).
        frames: frames per segment.
        transform: applied to each whole utterance (float32 [T]) before cutting, e.g. level normalisation.
    """

    def __init__(self, corpus: SpeechCorpus, representation: LogMel, frames: int, transform=None) -> None:
        self.representation, self.frames = representation, frames
        self.hop = representation.config.hop_length
        self.length = frames * self.hop
        waves = [w.astype(np.float32) / 32768.0 for w in corpus.waveforms]
        if transform is not None:
            waves = [transform(w) for w in waves]
        self.waveforms = [np.pad(w, (0, max(0, self.length - len(w)))) for w in waves]
        lengths = np.array([len(w) for w in self.waveforms], dtype=np.float64)
        self.weights = torch.from_numpy(lengths / lengths.sum())

    def _batch(self, pieces: list[np.ndarray]) -> Batch:
        wav = torch.from_numpy(np.stack(pieces))
        with torch.no_grad():
            mel = self.representation(wav)[..., : self.frames]
        return Batch(wav, mel)

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        """A random batch, reproducible from the generator's state."""
        picks = torch.multinomial(self.weights, batch_size, replacement=True, generator=generator)
        pieces = []
        for index in picks.tolist():
            wave = self.waveforms[index]
            start = int(torch.randint(0, len(wave) - self.length + 1, (1,), generator=generator))
            pieces.append(wave[start: start + self.length])
        return self._batch(pieces)

    def fixed(self, batch_size: int) -> Batch:
        """A deterministic batch for validation: evenly spaced segments across the utterances."""
        pieces = []
        for k in range(batch_size):
            wave = self.waveforms[k % len(self.waveforms)]
            slots = max(1, (len(wave) - self.length) // self.length + 1)
            start = ((k // len(self.waveforms)) % slots) * self.length
            pieces.append(wave[start: start + self.length])
        return self._batch(pieces)

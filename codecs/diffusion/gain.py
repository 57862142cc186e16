"""Per-utterance level normalisation with the gain sent as side information (melvq-ddpm)."""

from __future__ import annotations

import math

import torch

TARGET_RMS = 0.05  # -26 dBFS: the level every utterance is normalised to before analysis


class GainCoder:
    """Quantises 20 log10(RMS) uniformly in [min_db, max_db] with `bits` bits.

    Args:
        bits: side-information bits per utterance (8: 0.3 dB steps over 76.5 dB).
        min_db, max_db: the coded range of the utterance RMS in dBFS.
    """

    def __init__(self, bits: int = 8, min_db: float = -70.0, max_db: float = 6.5) -> None:
        self.bits, self.min_db, self.max_db = bits, min_db, max_db
        self.step_db = (max_db - min_db) / ((1 << bits) - 1)

    def encode(self, wav: torch.Tensor) -> int:
        """The gain index of a waveform [T]."""
        rms = float(wav.float().pow(2).mean().sqrt())
        level = 20 * math.log10(max(rms, 1e-12))
        return int(round((min(max(level, self.min_db), self.max_db) - self.min_db) / self.step_db))

    def rms(self, index: int) -> float:
        """The dequantised RMS of a gain index."""
        return 10 ** ((self.min_db + index * self.step_db) / 20)

    def normalize(self, wav: torch.Tensor, index: int) -> torch.Tensor:
        return wav * (TARGET_RMS / self.rms(index))

    def restore(self, wav: torch.Tensor, index: int) -> torch.Tensor:
        return wav * (self.rms(index) / TARGET_RMS)

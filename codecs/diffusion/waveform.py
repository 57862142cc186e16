"""The identity representation: a waveform as the features a waveform tokenizer encodes."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class WaveformConfig:
    """Args:
        sample_rate: Hz (a "frame" is one sample).
    """

    sample_rate: int = 16000

    @property
    def frame_rate(self) -> float:
        return float(self.sample_rate)

    def num_frames(self, num_samples: int) -> int:
        return num_samples


class Waveform(nn.Module):
    """Waveform [B, T] -> [B, 1, T]; normalisation is the identity and silence is 0.

    Args:
        config: the sample rate.
    """

    silence = 0.0  # what padding samples hold

    def __init__(self, config: WaveformConfig = WaveformConfig()) -> None:
        super().__init__()
        self.config = config

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        return wav.float()[:, None]

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        return x

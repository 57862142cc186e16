"""Waveform representations: the identity (what a waveform tokenizer encodes) and polyphase frames (the
output domain of the waveform diffusion decoders)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

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


@dataclass(frozen=True)
class PolyphaseConfig:
    """Args:
        sample_rate: Hz.
        phases: samples per frame (16: 1 ms frames at 16 kHz).
        scale: waveform amplitude that maps to 1 in the diffusion domain (speech RMS is about 0.05-0.1, so
            0.1 puts it near unit variance, where the diffusion noise levels are calibrated).
    """

    sample_rate: int = 16000
    phases: int = 16
    scale: float = 0.1

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.phases

    def num_frames(self, num_samples: int) -> int:
        return -(-num_samples // self.phases)

    def to_dict(self) -> dict:
        return asdict(self)


class PolyphaseWaveform(nn.Module):
    """The waveform as the output domain of a diffusion decoder: waveform [B, T] <-> [B, P, ceil(T / P)],
    frame n holding samples nP ... nP + P - 1 (a lossless reshape; zero-padded to whole frames), scaled by
    1 / `scale` in the diffusion domain. A sample-rate denoiser would spend its work 16000 times a second;
    over 1 ms frames it runs 1000 times, each step seeing 16 samples (as subband diffusion vocoders do).

    Args:
        config: sample rate, phases, scale.
    """

    silence = 0.0

    def __init__(self, config: PolyphaseConfig = PolyphaseConfig()) -> None:
        super().__init__()
        self.config = config

    @property
    def channels(self) -> int:
        return self.config.phases

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        phases = self.config.phases
        wav = nn.functional.pad(wav.float(), (0, -wav.shape[-1] % phases))
        return wav.reshape(wav.shape[0], -1, phases).transpose(1, 2)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return x / self.config.scale

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.config.scale


class PolyphaseSynthesis(nn.Module):
    """The vocoder of a waveform decoder: polyphase frames [B, P, N] -> waveform [B, P N] (the inverse
    reshape of `PolyphaseWaveform`; no parameters)."""

    def forward(self, frames: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """`generator` is accepted for the vocoder interface; the reshape is deterministic."""
        return frames.transpose(1, 2).reshape(frames.shape[0], -1)

"""A HiFi-GAN generator (Kong et al. 2020) with the inverse-STFT output of iSTFTNet (Kaneko et al. 2022).

Transposed-convolution upsampling stages, each followed by a multi-receptive-field fusion (MRF) of
residual blocks (HiFi-GAN's ResBlock1), then a convolution predicting the magnitude and phase of a
small STFT that `torch.istft` turns into the waveform (iSTFTNet "C8C8I": two x8 stages, n_fft 16, hop 4),
which removes the most expensive last upsampling stages.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

LRELU_SLOPE = 0.1


@dataclass(frozen=True)
class HiFiGANConfig:
    """Args:
        n_mels: input mel bins.
        upsample_rates: the transposed-convolution strides; their product times `istft_hop` is the
            mel hop (8 * 8 * 4 = 256).
        upsample_channels: channels after the input convolution, halved by every stage.
        resblock_kernels: kernel sizes of the MRF's residual blocks.
        resblock_dilations: dilations inside each residual block.
        istft_n_fft, istft_hop: the output STFT.
    """

    n_mels: int = 80
    upsample_rates: tuple[int, ...] = (8, 8)
    upsample_channels: int = 128
    resblock_kernels: tuple[int, ...] = (3, 7, 11)
    resblock_dilations: tuple[int, ...] = (1, 3, 5)
    istft_n_fft: int = 16
    istft_hop: int = 4

    @property
    def hop_length(self) -> int:
        return math.prod(self.upsample_rates) * self.istft_hop

    def to_dict(self) -> dict:
        return asdict(self)


class ResBlock(nn.Module):
    """HiFi-GAN ResBlock1: per dilation, x + conv1(lrelu(conv_d(lrelu(x))))."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.dilated = nn.ModuleList(
            weight_norm(nn.Conv1d(channels, channels, kernel_size, dilation=d, padding=d * (kernel_size - 1) // 2))
            for d in dilations)
        self.plain = nn.ModuleList(
            weight_norm(nn.Conv1d(channels, channels, kernel_size, padding=(kernel_size - 1) // 2))
            for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for dilated, plain in zip(self.dilated, self.plain):
            x = x + plain(F.leaky_relu(dilated(F.leaky_relu(x, LRELU_SLOPE)), LRELU_SLOPE))
        return x


class HiFiGANGenerator(nn.Module):
    """Log-mel [B, M, N] -> waveform [B, N * hop].

    Args:
        config: sizes.
    """

    def __init__(self, config: HiFiGANConfig = HiFiGANConfig()) -> None:
        super().__init__()
        self.config = config
        channels = config.upsample_channels
        self.pre = weight_norm(nn.Conv1d(config.n_mels, channels, 7, padding=3))
        self.ups = nn.ModuleList()
        self.mrfs = nn.ModuleList()
        for rate in config.upsample_rates:
            self.ups.append(weight_norm(nn.ConvTranspose1d(channels, channels // 2, 2 * rate, stride=rate,
                                                           padding=rate // 2)))
            channels //= 2
            self.mrfs.append(nn.ModuleList(ResBlock(channels, k, config.resblock_dilations)
                                           for k in config.resblock_kernels))
        self.bins = config.istft_n_fft // 2 + 1
        self.post = weight_norm(nn.Conv1d(channels, 2 * self.bins, 7, padding=3))
        self.register_buffer("window", torch.hann_window(config.istft_n_fft), persistent=False)

    def forward(self, log_mel: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """`generator` is accepted for the vocoder interface; this vocoder is deterministic."""
        x = self.pre(log_mel)
        for up, mrf in zip(self.ups, self.mrfs):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            x = sum(block(x) for block in mrf) / len(mrf)
        x = self.post(F.leaky_relu(x))
        magnitude = torch.exp(x[:, : self.bins].float().clamp(max=10.0))
        phase = math.pi * torch.sin(x[:, self.bins:].float())
        spec = torch.polar(magnitude, phase)
        frames = spec.shape[-1]
        wav = torch.istft(spec, self.config.istft_n_fft, self.config.istft_hop, window=self.window,
                          length=frames * self.config.istft_hop, center=True)
        return wav

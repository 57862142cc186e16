"""A HiFi-GAN generator (Kong et al. 2020) with the inverse-STFT output of iSTFTNet (Kaneko et al. 2022).

An input convolution, transposed-convolution upsampling stages each followed by a multi-receptive-field
fusion (MRF) of residual blocks (HiFi-GAN's ResBlock1), then a convolution predicting the log-magnitude
and phase of an STFT that `torch.istft` turns into the waveform. iSTFTNet's "C8C8I" is
`upsample_rates=(8, 8), istft_n_fft=16, istft_hop=4`. The shipped configuration uses no upsampling
stage: the MRF runs at the mel frame rate and the iSTFT (n_fft 1024, hop 256) does all the upsampling, as
in Vocos (Siuzdak 2023): on the CPU it reached the clean-mel STOI/PESQ of a C8C8I generator trained
for 1179 s in under 150 s (same data and losses).
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
            mel hop (none: 1 * 256; iSTFTNet C8C8I: 8 * 8 * 4).
        upsample_channels: channels after the input convolution, halved by every upsampling stage.
        resblock_kernels: kernel sizes of the MRF's residual blocks.
        resblock_dilations: dilations inside each residual block.
        istft_n_fft, istft_hop: the output STFT.
    """

    n_mels: int = 80
    upsample_rates: tuple[int, ...] = ()
    upsample_channels: int = 128
    resblock_kernels: tuple[int, ...] = (3, 7, 11)
    resblock_dilations: tuple[int, ...] = (1, 3, 5)
    istft_n_fft: int = 1024
    istft_hop: int = 256

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
    """Log-mel [B, M, N] -> waveform [B, N * hop] (hop = prod(upsample_rates) * istft_hop).

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
        if not config.upsample_rates:  # the MRF works at the frame rate
            self.mrfs.append(nn.ModuleList(ResBlock(channels, k, config.resblock_dilations)
                                           for k in config.resblock_kernels))
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
        ups = list(self.ups) or [nn.Identity()]
        for up, mrf in zip(ups, self.mrfs):
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

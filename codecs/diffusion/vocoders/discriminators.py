"""HiFi-GAN's discriminators (Kong et al. 2020, Sec. 2.2-2.3): multi-period (MPD) and multi-scale (MSD).

Channel widths are a parameter: the defaults are scaled down from the paper's (MPD 32 ... 1024, MSD
16 ... 1024) so that adversarial training fits a CPU budget (MPD 16 ... 128, MSD 8 ... 64).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

LRELU_SLOPE = 0.1


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Args:
        periods: MPD periods (2, 3, 5, 7, 11 in the paper).
        period_channels: MPD convolution channels.
        scales: MSD scales (1 = raw, then x2 and x4 average-pooled).
        scale_channels: MSD convolution channels.
    """

    periods: tuple[int, ...] = (2, 3, 5, 7, 11)
    period_channels: tuple[int, ...] = (16, 32, 64, 128)
    scales: int = 3
    scale_channels: tuple[int, ...] = (8, 16, 32, 64, 64)

    def to_dict(self) -> dict:
        return asdict(self)


FeatureMaps = list[torch.Tensor]


class PeriodDiscriminator(nn.Module):
    """Reshapes the waveform [B, T] to [B, 1, T/p, p] and applies (5, 1) convolutions."""

    def __init__(self, period: int, channels: tuple[int, ...]) -> None:
        super().__init__()
        self.period = period
        widths = [1, *channels]
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv2d(widths[i], widths[i + 1], (5, 1), (3, 1), padding=(2, 0)))
            for i in range(len(channels)))
        self.convs.append(weight_norm(nn.Conv2d(channels[-1], channels[-1], (5, 1), padding=(2, 0))))
        self.out = weight_norm(nn.Conv2d(channels[-1], 1, (3, 1), padding=(1, 0)))

    def forward(self, wav: torch.Tensor) -> tuple[torch.Tensor, FeatureMaps]:
        b, t = wav.shape
        x = F.pad(wav, (0, -t % self.period), mode="reflect").reshape(b, 1, -1, self.period)
        features = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), LRELU_SLOPE)
            features.append(x)
        x = self.out(x)
        features.append(x)
        return x.flatten(1), features


class ScaleDiscriminator(nn.Module):
    """Strided and grouped 1-D convolutions over the (pooled) waveform."""

    def __init__(self, channels: tuple[int, ...]) -> None:
        super().__init__()
        layers = [weight_norm(nn.Conv1d(1, channels[0], 15, padding=7))]
        for c_in, c_out in zip(channels[:-1], channels[1:]):
            layers.append(weight_norm(nn.Conv1d(c_in, c_out, 41, stride=4, groups=min(4, c_in), padding=20)))
        layers.append(weight_norm(nn.Conv1d(channels[-1], channels[-1], 5, padding=2)))
        self.convs = nn.ModuleList(layers)
        self.out = weight_norm(nn.Conv1d(channels[-1], 1, 3, padding=1))

    def forward(self, wav: torch.Tensor) -> tuple[torch.Tensor, FeatureMaps]:
        x = wav[:, None]
        features = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), LRELU_SLOPE)
            features.append(x)
        x = self.out(x)
        features.append(x)
        return x.flatten(1), features


class Discriminators(nn.Module):
    """MPD + MSD: returns one (score, feature maps) pair per sub-discriminator.

    Args:
        config: sizes.
    """

    def __init__(self, config: DiscriminatorConfig = DiscriminatorConfig()) -> None:
        super().__init__()
        self.config = config
        self.period = nn.ModuleList(PeriodDiscriminator(p, config.period_channels) for p in config.periods)
        self.scale = nn.ModuleList(ScaleDiscriminator(config.scale_channels) for _ in range(config.scales))

    def forward(self, wav: torch.Tensor) -> list[tuple[torch.Tensor, FeatureMaps]]:
        outputs = [d(wav) for d in self.period]
        x = wav
        for i, d in enumerate(self.scale):
            if i:
                x = F.avg_pool1d(x[:, None], 4, 2, padding=2)[:, 0]
            outputs.append(d(x))
        return outputs

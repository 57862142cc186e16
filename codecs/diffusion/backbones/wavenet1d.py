"""A 1-D denoiser over frame sequences [B, C, N] (mel frames, or any latent): non-causal dilated
residual blocks with gated activations, per-block conditioning and timestep embedding, after DiffWave
(Kong et al. 2021, Fig. 2). It predicts the noise of `x` and knows nothing of samplers.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from codecbench.codecs.diffusion.backbones.embeddings import TimestepEmbedding


@dataclass(frozen=True)
class WaveNet1dConfig:
    """Args:
        in_channels: channels of x (80 mel bins).
        cond_channels: channels of the conditioning sequence (same frame rate as x).
        channels: residual channels.
        dilations: one residual block per entry.
        kernel_size: temporal kernel of the dilated convolutions.
        time_dim: sinusoidal timestep features.
    """

    in_channels: int = 80
    cond_channels: int = 80
    channels: int = 128
    dilations: tuple[int, ...] = (1, 2, 4, 8, 1, 2, 4, 8, 1, 2, 4, 8)
    kernel_size: int = 3
    time_dim: int = 128

    def to_dict(self) -> dict:
        return asdict(self)


class GatedResidualBlock(nn.Module):
    """DiffWave block: (x + emb) -> dilated conv + cond projection -> tanh * sigmoid -> residual, skip."""

    def __init__(self, channels: int, cond_channels: int, emb_dim: int, kernel_size: int, dilation: int) -> None:
        super().__init__()
        self.emb = nn.Linear(emb_dim, channels)
        self.conv = nn.Conv1d(channels, 2 * channels, kernel_size, dilation=dilation,
                              padding=dilation * (kernel_size - 1) // 2)
        self.cond = nn.Conv1d(cond_channels, 2 * channels, 1)
        self.out = nn.Conv1d(channels, 2 * channels, 1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.conv(x + self.emb(emb)[:, :, None]) + self.cond(cond)
        gate, filt = h.chunk(2, dim=1)
        residual, skip = self.out(torch.sigmoid(gate) * torch.tanh(filt)).chunk(2, dim=1)
        return (x + residual) / math.sqrt(2.0), skip


class WaveNet1d(nn.Module):
    """Predicts the noise in x [B, in_channels, N] at timesteps t [B] given cond [B, cond_channels, N].

    Args:
        config: sizes.
    """

    frame_multiple = 1

    def __init__(self, config: WaveNet1dConfig = WaveNet1dConfig()) -> None:
        super().__init__()
        self.config = config
        emb_dim = 2 * config.time_dim
        self.time = TimestepEmbedding(config.time_dim, emb_dim)
        self.stem = nn.Conv1d(config.in_channels + config.cond_channels, config.channels, 1)
        self.blocks = nn.ModuleList(
            GatedResidualBlock(config.channels, config.cond_channels, emb_dim, config.kernel_size, d)
            for d in config.dilations)
        self.head = nn.Sequential(nn.SiLU(), nn.Conv1d(config.channels, config.channels, 1), nn.SiLU(),
                                  nn.Conv1d(config.channels, config.in_channels, 1))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        emb = self.time(t)
        h = F.silu(self.stem(torch.cat([x, cond], dim=1)))
        skips = torch.zeros_like(h)
        for block in self.blocks:
            h, skip = block(h, emb, cond)
            skips = skips + skip
        return self.head(skips / math.sqrt(len(self.blocks)))

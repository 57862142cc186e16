"""A 1-D U-Net denoiser over latent sequences [B, C, N] (the LaDiffCodec denoiser).

ResNet blocks (GroupNorm + SiLU + Conv1d, timestep embedding as a scale and shift), one level per entry
of `channels` (each further level halves the frame rate), multi-head self-attention at the lowest level,
and an up path with skip connections, after the 1-D U-Net of Ho et al. 2020 that LaDiffCodec uses. The
conditioning is *stacked* with the noisy input (channel concatenation). It predicts the model output for
`x` and knows nothing of samplers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from codecbench.codecs.diffusion.backbones.embeddings import TimestepEmbedding


@dataclass(frozen=True)
class UNet1dConfig:
    """Args:
        in_channels: channels of the noisy input x (the latent dimension).
        cond_channels: channels of the conditioning sequence stacked with x (same frame rate).
        channels: channels of each level; every level after the first halves the frame rate.
        blocks: ResNet blocks per level on the way down (and up).
        time_dim: sinusoidal timestep features.
        heads: attention heads at the lowest level.
    """

    in_channels: int = 16
    cond_channels: int = 16
    channels: tuple[int, ...] = (32, 48, 64, 96, 128)
    blocks: int = 1
    time_dim: int = 64
    heads: int = 4

    def to_dict(self) -> dict:
        return asdict(self)


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, channels), channels)


class ResBlock1d(nn.Module):
    """(GroupNorm, SiLU, Conv k3) twice; the timestep embedding scales and shifts the second norm's output."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = _norm(c_in), nn.Conv1d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * c_out)
        self.norm2, self.conv2 = _norm(c_out), nn.Conv1d(c_out, c_out, 3, padding=1)
        self.shortcut = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(emb)[:, :, None].chunk(2, dim=1)
        h = self.conv2(F.silu(self.norm2(h) * (1 + scale) + shift))
        return h + self.shortcut(x)


class SelfAttention1d(nn.Module):
    """Multi-head self-attention over all frames, residual."""

    def __init__(self, channels: int, heads: int) -> None:
        super().__init__()
        self.norm = _norm(channels)
        self.attn = nn.MultiheadAttention(channels, heads, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.norm(x).transpose(1, 2)
        out, _ = self.attn(tokens, tokens, tokens, need_weights=False)
        return x + out.transpose(1, 2)


class UNet1d(nn.Module):
    """Predicts the model output for x [B, in_channels, N] at timesteps t [B] given cond [B, cond_channels, N].

    N must be a multiple of `frame_multiple` (2 ** (levels - 1)).

    Args:
        config: sizes.
    """

    def __init__(self, config: UNet1dConfig = UNet1dConfig()) -> None:
        super().__init__()
        self.config = config
        self.frame_multiple = 2 ** (len(config.channels) - 1)
        emb_dim = 4 * config.time_dim
        c = config.channels
        self.time = TimestepEmbedding(config.time_dim, emb_dim)
        self.stem = nn.Conv1d(config.in_channels + config.cond_channels, c[0], 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        skips = [c[0]]
        width = c[0]
        for level, channels in enumerate(c):
            for _ in range(config.blocks):
                self.down.append(ResBlock1d(width, channels, emb_dim))
                width = channels
                skips.append(width)
            if level < len(c) - 1:
                self.downsample.append(nn.Conv1d(width, width, 3, stride=2, padding=1))
                skips.append(width)
        self.mid1 = ResBlock1d(width, width, emb_dim)
        self.attn = SelfAttention1d(width, config.heads)
        self.mid2 = ResBlock1d(width, width, emb_dim)
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for level, channels in reversed(list(enumerate(c))):
            for _ in range(config.blocks + 1):
                self.up.append(ResBlock1d(width + skips.pop(), channels, emb_dim))
                width = channels
            if level > 0:
                self.upsample.append(nn.Conv1d(width, width, 3, padding=1))
        self.head = nn.Sequential(_norm(width), nn.SiLU(), nn.Conv1d(width, config.in_channels, 3, padding=1))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        emb = self.time(t)
        h = self.stem(torch.cat([x, cond], dim=1))
        skips = [h]
        blocks = iter(self.down)
        for level in range(len(self.config.channels)):
            for _ in range(self.config.blocks):
                h = next(blocks)(h, emb)
                skips.append(h)
            if level < len(self.downsample):
                h = self.downsample[level](h)
                skips.append(h)
        h = self.mid2(self.attn(self.mid1(h, emb)), emb)
        blocks = iter(self.up)
        for level in range(len(self.config.channels)):
            for _ in range(self.config.blocks + 1):
                h = next(blocks)(torch.cat([h, skips.pop()], dim=1), emb)
            if level < len(self.upsample):
                h = self.upsample[level](F.interpolate(h, scale_factor=2, mode="nearest"))
        return self.head(h)

"""A 2-D U-Net denoiser over the mel image (the melvq-ddpm denoiser).

Four down blocks (Conv2D + GroupNorm + SiLU, timestep embedding added), a self-attention bottleneck,
four up blocks with skip connections; the conditioning is concatenated with the noisy input. It predicts
the noise of `x` and knows nothing of samplers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from codecbench.codecs.diffusion.backbones.embeddings import TimestepEmbedding


@dataclass(frozen=True)
class UNet2dConfig:
    """Args:
        in_channels: channels of the noisy input x (1: one mel image).
        cond_channels: channels of the conditioning image, concatenated with x after a 1x1 projection.
        cond_proj: channels the conditioning is projected to.
        channels: channels of the four levels (each level halves frequency and time).
        time_dim: sinusoidal timestep features (128 in the paper).
        heads: attention heads in the bottleneck.
    """

    in_channels: int = 1
    cond_channels: int = 65
    cond_proj: int = 16
    channels: tuple[int, int, int, int] = (16, 32, 64, 128)
    time_dim: int = 128
    heads: int = 4

    def to_dict(self) -> dict:
        return asdict(self)


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, channels), channels)


class ConvBlock(nn.Module):
    """Two (Conv2D 3x3 + GroupNorm + SiLU) with the timestep embedding added in between, and a
    1x1 shortcut."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int) -> None:
        super().__init__()
        self.conv1, self.norm1 = nn.Conv2d(c_in, c_out, 3, padding=1), _norm(c_out)
        self.emb = nn.Linear(emb_dim, c_out)
        self.conv2, self.norm2 = nn.Conv2d(c_out, c_out, 3, padding=1), _norm(c_out)
        self.shortcut = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = F.silu(self.norm1(self.conv1(x)))
        h = h + self.emb(emb)[:, :, None, None]
        h = F.silu(self.norm2(self.conv2(h)))
        return h + self.shortcut(x)


class SelfAttention2d(nn.Module):
    """Multi-head self-attention over all positions of a feature map, residual."""

    def __init__(self, channels: int, heads: int) -> None:
        super().__init__()
        self.norm = _norm(channels)
        self.attn = nn.MultiheadAttention(channels, heads, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        tokens = self.norm(x).flatten(2).transpose(1, 2)
        out, _ = self.attn(tokens, tokens, tokens, need_weights=False)
        return x + out.transpose(1, 2).reshape(b, c, h, w)


class UNet2d(nn.Module):
    """Predicts the noise in x [B, in_channels, F, N] at timesteps t [B] given cond [B, cond_channels, F, N].

    F and N must be multiples of 16 (`frame_multiple`); 80 mel bins go 80 -> 40 -> 20 -> 10 -> 5.

    Args:
        config: sizes.
    """

    frame_multiple = 16

    def __init__(self, config: UNet2dConfig = UNet2dConfig()) -> None:
        super().__init__()
        self.config = config
        emb_dim = 2 * config.time_dim
        self.time = TimestepEmbedding(config.time_dim, emb_dim)
        self.cond_proj = nn.Conv2d(config.cond_channels, config.cond_proj, 1)
        c = config.channels
        self.stem = nn.Conv2d(config.in_channels + config.cond_proj, c[0], 3, padding=1)
        widths = [c[0], *c]
        self.down = nn.ModuleList(ConvBlock(widths[i], widths[i + 1], emb_dim) for i in range(4))
        self.downsample = nn.ModuleList(nn.Conv2d(w, w, 3, stride=2, padding=1) for w in c)
        self.mid1 = ConvBlock(c[3], c[3], emb_dim)
        self.attn = SelfAttention2d(c[3], config.heads)
        self.mid2 = ConvBlock(c[3], c[3], emb_dim)
        ups = [c[3], c[3], c[2], c[1], c[0]]
        self.up = nn.ModuleList(ConvBlock(ups[i] + c[3 - i], ups[i + 1], emb_dim) for i in range(4))
        self.head = nn.Sequential(_norm(c[0]), nn.SiLU(), nn.Conv2d(c[0], config.in_channels, 3, padding=1))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        emb = self.time(t)
        h = self.stem(torch.cat([x, self.cond_proj(cond)], dim=1))
        skips = []
        for block, down in zip(self.down, self.downsample):
            h = block(h, emb)
            skips.append(h)
            h = down(h)
        h = self.mid2(self.attn(self.mid1(h, emb)), emb)
        for block in self.up:
            skip = skips.pop()
            h = F.interpolate(h, size=skip.shape[-2:], mode="nearest")
            h = block(torch.cat([h, skip], dim=1), emb)
        return self.head(h)

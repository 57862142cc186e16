"""The melvq-ddpm latent: strided 2-D convolutions over the log-mel, one 8192-code VQ per grid cell.

"Neural audio coding using diffusion models for real-time teleconferencing": encoder of strided 2-D
convolutions (kernel 3, dilations 1/2/4, channels 32 -> 64 -> latent), an EMA codebook of 8192 codes,
and a decoder of transposed convolutions that mirrors it for a coarse reconstruction.

Grid arithmetic (80 mel bins, N frames with N a multiple of 8):
    frequency 80 -(k3 d1 s2 p0)-> 39 -(k3 d2 s2 p1)-> 19 -(k3 d4 s1 p2)-> 15
    time      N  -(s2)-> N/2 -(s2)-> N/4 -(s2)-> N/8
so 15 codes per 8 frames (128 ms): 15 x 62.5 / 8 = 117.19 codes/s x 13 bits = 1523.4 bit/s.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from codecbench.codecs.diffusion.quantizers.base import Dequantized
from codecbench.codecs.diffusion.quantizers.vq import QuantizerOutput, VectorQuantizer

N_MELS = 80
GRID_BINS = 15
TIME_STRIDE = 8


@dataclass(frozen=True)
class MelGridConfig:
    """Args:
        channels: encoder channels of the first two convolutions (the paper's 32 -> 64).
        latent_dim: channels of the latent, the dimension of each code vector.
        num_codes: codebook size (8192 = 13 bits per code).
        decay: EMA decay of the codebook (0.99).
    """

    channels: tuple[int, int] = (32, 64)
    latent_dim: int = 64
    num_codes: int = 8192
    decay: float = 0.99

    def to_dict(self) -> dict:
        return asdict(self)


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, channels), channels)


class MelGridQuantizer(nn.Module):
    """Log-mel [B, 80, N] -> indices [B, 15, N/8] -> coarse log-mel and denoiser conditioning.

    Args:
        config: sizes.
    """

    frame_multiple = TIME_STRIDE

    def __init__(self, config: MelGridConfig = MelGridConfig()) -> None:
        super().__init__()
        self.config = config
        c1, c2 = config.channels
        d = config.latent_dim
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c1, 3, stride=2, padding=(0, 1), dilation=1), _norm(c1), nn.SiLU(),
            nn.Conv2d(c1, c2, 3, stride=2, padding=(1, 2), dilation=2), _norm(c2), nn.SiLU(),
            nn.Conv2d(c2, d, 3, stride=(1, 2), padding=(2, 4), dilation=4),
        )
        self.vq = VectorQuantizer(config.num_codes, d, config.decay)
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(d, c2, 3, stride=(1, 2), padding=(2, 4), dilation=4, output_padding=(0, 1)),
            _norm(c2), nn.SiLU(),
            nn.ConvTranspose2d(c2, c1, 3, stride=2, padding=(1, 2), dilation=2, output_padding=(0, 1)),
            _norm(c1), nn.SiLU(),
            nn.ConvTranspose2d(c1, c1, 3, stride=2, padding=(0, 1), dilation=1, output_padding=(1, 1)),
            _norm(c1), nn.SiLU(),
            nn.Conv2d(c1, 1, 3, padding=1),
        )

    @property
    def bits(self) -> int:
        return self.vq.bits

    @property
    def cond_channels(self) -> int:
        return self.config.latent_dim + 1

    def grid_shape(self, num_frames: int) -> tuple[int, int]:
        """Indices per signal of `num_frames` (a multiple of 8) frames."""
        assert num_frames % TIME_STRIDE == 0
        return GRID_BINS, num_frames // TIME_STRIDE

    def _check(self, mel: torch.Tensor) -> None:
        if mel.shape[1] != N_MELS or mel.shape[2] % TIME_STRIDE:
            raise ValueError(f"expected a log-mel [B, {N_MELS}, N] with N a multiple of {TIME_STRIDE}, "
                             f"got {list(mel.shape)}")

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, QuantizerOutput]:
        """Training pass: the coarse reconstruction [B, 80, N] and the VQ output."""
        self._check(mel)
        out = self.vq(self.encoder(mel[:, None]))
        return self.decoder(out.quantized)[:, 0], out

    def condition(self, latent: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        """Denoiser conditioning [B, latent_dim + 1, 80, N]: the latent upsampled (nearest) to the mel
        grid, stacked with the coarse reconstruction."""
        upsampled = F.interpolate(latent, size=coarse.shape[-2:], mode="nearest")
        return torch.cat([upsampled, coarse[:, None]], dim=1)

    def encode(self, mel: torch.Tensor) -> torch.Tensor:
        """Indices [B, 15, N/8] of a normalised log-mel [B, 80, N]."""
        self._check(mel)
        return self.vq.encode(self.encoder(mel[:, None]))

    def dequantize(self, indices: torch.Tensor) -> Dequantized:
        return self.decode_latent(self.vq.decode(indices))

    def latent(self, mel: torch.Tensor) -> torch.Tensor:
        """The encoder's continuous latent [B, latent_dim, 15, N/8], before the VQ (the `quantize=off` ceiling)."""
        self._check(mel)
        return self.encoder(mel[:, None])

    def decode_latent(self, latent: torch.Tensor) -> Dequantized:
        """The receiver's view of a latent grid [B, latent_dim, 15, N/8], quantized or not."""
        coarse = self.decoder(latent)[:, 0]
        return Dequantized(mel=coarse, cond=self.condition(latent, coarse))

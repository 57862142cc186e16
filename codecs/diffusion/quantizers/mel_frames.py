"""The mel2mel / gan-mel transmitted mel: a residual VQ of log-mel frames (one vector per 16 ms frame).

A small non-causal convolutional encoder maps each frame (with +-6 frames of context) to a vector, a
residual VQ of 4096-code (12-bit) codebooks quantises it, and a mirrored decoder returns the quantized
magnitude mel. Bit rate at 62.5 frames/s: Q codebooks x 12 bits x 62.5 = 750 Q bit/s, so
Q = 2 -> 1.5 kbps and Q = 4 -> 3 kbps. One model serves both rates (trained with quantizer dropout).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from codecbench.codecs.diffusion.quantizers.base import Dequantized
from codecbench.codecs.diffusion.quantizers.vq import QuantizerOutput, ResidualVectorQuantizer


@dataclass(frozen=True)
class MelFramesConfig:
    """Args:
        n_mels: mel bins.
        hidden: channels of the encoder/decoder convolutions.
        blocks: residual blocks in each of encoder and decoder.
        kernel_size: temporal kernel of the convolutions.
        latent_dim: code vector dimension.
        num_quantizers: codebooks in the residual stack (the most a bitstream uses).
        num_codes: codebook size (4096 = 12 bits).
        decay: EMA decay.
    """

    n_mels: int = 80
    hidden: int = 192
    blocks: int = 2
    kernel_size: int = 5
    latent_dim: int = 64
    num_quantizers: int = 4
    num_codes: int = 4096
    decay: float = 0.99

    def to_dict(self) -> dict:
        return asdict(self)


class ResidualConv1d(nn.Module):
    """x + conv(silu(conv(silu(x)))), length preserving."""

    def __init__(self, channels: int, kernel_size: int) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.body = nn.Sequential(nn.SiLU(), nn.Conv1d(channels, channels, kernel_size, padding=pad),
                                  nn.SiLU(), nn.Conv1d(channels, channels, kernel_size, padding=pad))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _stack(c_in: int, c_out: int, config: MelFramesConfig) -> nn.Sequential:
    pad = config.kernel_size // 2
    return nn.Sequential(
        nn.Conv1d(c_in, config.hidden, config.kernel_size, padding=pad),
        *[ResidualConv1d(config.hidden, config.kernel_size) for _ in range(config.blocks)],
        nn.SiLU(), nn.Conv1d(config.hidden, c_out, 1),
    )


class MelFramesQuantizer(nn.Module):
    """Normalised log-mel [B, M, N] -> indices [Q, B, N] -> quantized log-mel [B, M, N].

    Args:
        config: sizes.
    """

    frame_multiple = 1

    def __init__(self, config: MelFramesConfig = MelFramesConfig()) -> None:
        super().__init__()
        self.config = config
        self.encoder = _stack(config.n_mels, config.latent_dim, config)
        self.rvq = ResidualVectorQuantizer(config.num_quantizers, config.num_codes, config.latent_dim,
                                           config.decay)
        self.decoder = _stack(config.latent_dim, config.n_mels, config)
        self.num_quantizers = config.num_quantizers  # codebooks `encode` uses (the operating point)

    @property
    def bits(self) -> int:
        return self.rvq.bits

    @property
    def cond_channels(self) -> int:
        return self.config.n_mels

    def use_quantizers(self, num_quantizers: int) -> "MelFramesQuantizer":
        """Select how many codebooks `encode` transmits (750 bit/s each); returns self."""
        if not 1 <= num_quantizers <= self.config.num_quantizers:
            raise ValueError(f"num_quantizers must be 1-{self.config.num_quantizers}, not {num_quantizers}")
        self.num_quantizers = num_quantizers
        return self

    def grid_shape(self, num_frames: int) -> tuple[int, int]:
        return self.num_quantizers, num_frames

    def forward(self, mel: torch.Tensor, num_quantizers: int | None = None) -> tuple[torch.Tensor, QuantizerOutput]:
        """Training pass: the reconstruction [B, M, N] with `num_quantizers` codebooks, and the RVQ output."""
        out = self.rvq(self.encoder(mel), num_quantizers)
        return self.decoder(out.quantized), out

    def encode(self, mel: torch.Tensor) -> torch.Tensor:
        """Indices [B, Q, N] (Q = `num_quantizers`) of a normalised log-mel [B, M, N]."""
        return self.rvq.encode(self.encoder(mel), self.num_quantizers).transpose(0, 1)

    def dequantize(self, indices: torch.Tensor) -> Dequantized:
        return self.decode_latent(self.rvq.decode(indices.transpose(0, 1)))

    def latent(self, mel: torch.Tensor) -> torch.Tensor:
        """The encoder's continuous latent [B, latent_dim, N], before the RVQ (the `quantize=off` ceiling)."""
        return self.encoder(mel)

    def decode_latent(self, latent: torch.Tensor) -> Dequantized:
        """The receiver's view of a latent [B, latent_dim, N], quantized or not."""
        mel = self.decoder(latent)
        return Dequantized(mel=mel, cond=mel)

"""LaDiffCodec's continuous autoencoder: EnCodec-like (SEANet) with a single stride-8 downsampling and a
continuous bottleneck (no quantizer); its decoder produces the waveform. Other strides (the paper's
Table 1 ablation: [1], [4, 8], ...) are a setting.

16 kHz / 8 = 2000 latent frames per second of `latent_dim` channels. The latent is the output domain of
the latent diffusion models: `normalize` standardises each channel with statistics tracked during training,
so the diffusion models see roughly unit-variance data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from codecbench.codecs.diffusion.seanet import SEANetConfig, build_seanet, pad_to_hop


@dataclass(frozen=True)
class LatentAutoencoderConfig:
    """Args:
        num_filters: SEANet channels at the waveform rate (doubled after the stride).
        latent_dim: channels of the continuous latent.
        stride: the downsampling factor (8 in the paper), or the strides as EnCodec lists them (decoder
            order; the paper's Table 1 ablation: (1,), (8,), (4, 8), ...), whose product is the hop.
        stats_decay: EMA decay of the per-channel latent mean and variance tracked in training.
    """

    num_filters: int = 32
    latent_dim: int = 16
    stride: int | tuple[int, ...] = 8
    stats_decay: float = 0.99

    @property
    def ratios(self) -> tuple[int, ...]:
        return (self.stride,) if isinstance(self.stride, int) else tuple(self.stride)

    def seanet(self) -> SEANetConfig:
        return SEANetConfig(num_filters=self.num_filters, hidden_size=self.latent_dim, ratios=self.ratios,
                            num_lstm_layers=0)

    def to_dict(self) -> dict:
        return asdict(self)


class LatentAutoencoder(nn.Module):
    """Waveform [B, T] <-> latent [B, C, T / hop]; also the output representation of latent diffusion codecs
    (`forward` analyses, `normalize` / `denormalize` map to and from the diffusion domain).

    Args:
        config: sizes.
    """

    def __init__(self, config: LatentAutoencoderConfig = LatentAutoencoderConfig()) -> None:
        super().__init__()
        self.config = config
        self.encoder, self.decoder = build_seanet(config.seanet())
        self.hop_length = config.seanet().hop_length
        self.register_buffer("latent_mean", torch.zeros(config.latent_dim))
        self.register_buffer("latent_var", torch.ones(config.latent_dim))

    @property
    def channels(self) -> int:
        return self.config.latent_dim

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """The latent [B, C, ceil(T / hop)] of a waveform [B, T] (zero-padded to a multiple of the hop)."""
        return self.encoder(pad_to_hop(wav.float(), self.hop_length)[:, None])

    encode = forward

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """Waveform [B, hop N] of a latent [B, C, N]."""
        return self.decoder(latent)[:, 0]

    def normalize(self, latent: torch.Tensor) -> torch.Tensor:
        """Per-channel standardisation: the diffusion models' domain."""
        return (latent - self.latent_mean[:, None]) / self.latent_var[:, None].sqrt()

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.latent_var[:, None].sqrt() + self.latent_mean[:, None]

    @torch.no_grad()
    def track_statistics(self, latent: torch.Tensor) -> None:
        """EMA update of the per-channel mean and variance from a training batch [B, C, N]."""
        decay = self.config.stats_decay
        flat = latent.detach().float().transpose(0, 1).reshape(self.channels, -1)
        self.latent_mean.mul_(decay).add_(flat.mean(1), alpha=1 - decay)
        self.latent_var.mul_(decay).add_(flat.var(1), alpha=1 - decay)

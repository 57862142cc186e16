"""Transmitted tokens -> the conditioning of a diffusion model in its output domain (LaDiffCodec Sec. 2.2).

`TokenUpsampler`: dequantized frame features (token embeddings, or a dequantized mel) upsampled by transposed
convolutions to the frame rate of the output domain (x40: 50 Hz tokens -> 2 kHz latent frames; x20 or x16:
tokens or mel frames -> 1 kHz waveform frames; or linearly resampled to the 62.5 Hz mel) and projected to
its channels. Where frames are scaled to [-1, 1] (divided by their largest magnitude) is a setting
(`condition_scaling`): LaDiffCodec scales each *upsampled* frame of the condition (Sec. 2.2); the shipped
`ladiffcodec` and `latent2mel` checkpoints were trained scaling each token frame before upsampling (so
their condition is unbounded), and keep that behaviour through the setting stored in their files.
It is trained together with the diffusion model, whose input it is stacked with. In the shipped
checkpoints it is also trained as a coarse estimate of the output (an auxiliary loss), which is what
midway-infilling starts its infilling branch from: our reading of Algorithm 1 (s_tau <- h), whose branch
is a reverse chain of the model and therefore has to start in the output domain.

`TokenQuantizer`: a transmitting quantizer (frozen: a waveform tokenizer, or the mel RVQ) and a
`TokenUpsampler` in the quantizer slot of a `DiffusionCodec`: it transmits the quantizer's indices and
dequantizes them into the upsampled condition (and estimate).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from codecbench.codecs.diffusion.quantizers.base import Dequantized
from codecbench.codecs.diffusion.quantizers.mel_frames import ResidualConv1d


CONDITION_SCALINGS = ("token_frames", "upsampled_frames", "none")


@dataclass(frozen=True)
class TokenUpsamplerConfig:
    """Args:
        in_dim: dimension of the token embeddings.
        out_dim: channels of the output domain (latent dimension, or mel bins).
        channels: channels after the input convolution (halved by every transposed convolution, to at least 32).
        rates: strides of the transposed convolutions (their product: output frames per token frame).
        input_hop: samples per token frame (320).
        output_hop: samples per output frame (8 for the latent, 256 for the mel).
        centered: output frames of T samples are 1 + T // output_hop (a centred STFT: the mel) instead of
            T // output_hop; the upsampled sequence is linearly resampled to that length where they differ.
        condition_scaling: which frames are scaled to [-1, 1]: `token_frames` (the input frames, before
            upsampling: the shipped checkpoints), `upsampled_frames` (each output frame: LaDiffCodec
            Sec. 2.2) or `none` (a dequantized log-mel, whose level is information).
    """

    in_dim: int = 64
    out_dim: int = 16
    channels: int = 128
    rates: tuple[int, ...] = (5, 4, 2)
    input_hop: int = 320
    output_hop: int = 8
    centered: bool = False
    condition_scaling: str = "token_frames"

    def __post_init__(self) -> None:
        if self.condition_scaling not in CONDITION_SCALINGS:
            raise ValueError(f"condition_scaling must be one of {CONDITION_SCALINGS}, not {self.condition_scaling!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def upsampling_rates(ratio: int) -> tuple[int, ...]:
    """Transposed-convolution strides whose product is `ratio` (largest of 5, 4, 3, 2 first): 40 -> (5, 4, 2),
    320 -> (5, 4, 4, 4).

    Raises:
        ValueError: a ratio with a prime factor above 5.
    """
    rates, rest = [], ratio
    while rest > 1:
        factor = next((f for f in (5, 4, 3, 2) if rest % f == 0), None)
        if factor is None:
            raise ValueError(f"cannot upsample by {ratio}: not a product of 2, 3 and 5")
        rates.append(factor)
        rest //= factor
    return tuple(rates)


def scale_frames(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Each frame (column) of x [B, D, L] divided by its largest magnitude: values in [-1, 1]."""
    return x / x.abs().amax(dim=1, keepdim=True).clamp(min=eps)


class TokenUpsampler(nn.Module):
    """Token embeddings [B, D, L] -> conditioning / coarse estimate [B, out_dim, N] in the output domain.

    Args:
        config: sizes.
    """

    def __init__(self, config: TokenUpsamplerConfig = TokenUpsamplerConfig()) -> None:
        super().__init__()
        self.config = config
        width = config.channels
        self.stem = nn.Conv1d(config.in_dim, width, 3, padding=1)
        self.stages = nn.ModuleList()
        for rate in config.rates:
            narrower = max(32, width // 2)
            self.stages.append(nn.ModuleDict({
                "up": nn.ConvTranspose1d(width, narrower, 2 * rate, stride=rate, padding=rate // 2),
                "block": ResidualConv1d(narrower, 5)}))
            width = narrower
        self.refine = ResidualConv1d(width, 5)
        self.head = nn.Sequential(nn.SiLU(), nn.Conv1d(width, config.out_dim, 3, padding=1))

    def output_frames(self, token_frames: int) -> int:
        """Frames of the output domain for a signal of `token_frames` x `input_hop` samples."""
        samples = token_frames * self.config.input_hop
        return int(self.config.centered) + samples // self.config.output_hop

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        frames = embeddings.shape[-1]
        scaling = self.config.condition_scaling
        h = self.stem(scale_frames(embeddings) if scaling == "token_frames" else embeddings)
        for stage, rate in zip(self.stages, self.config.rates):
            h = stage["up"](F.silu(h))[..., : frames * rate]
            h = stage["block"](h)
            frames *= rate
        target = self.output_frames(embeddings.shape[-1])
        if h.shape[-1] != target:
            h = F.interpolate(h, size=target, mode="linear", align_corners=False)
        out = self.head(self.refine(h))
        return scale_frames(out) if scaling == "upsampled_frames" else out


class TokenQuantizer(nn.Module):
    """Transmits a quantizer's indices; dequantizes them through a `TokenUpsampler`.

    Args:
        tokenizer: the transmitting quantizer (its `num_quantizers` sets the operating point); what it
            dequantizes (`dequantize(indices).mel`: token embeddings, or a dequantized mel) is upsampled.
        upsampler: those frames -> the output domain.
        sample_channels: None when the upsampled condition is also the estimate of the output (the
            latent and mel decoders); else the channels of the sampled output, which then has no estimate
            (a waveform decoder: the condition lives in its own feature space).
    """

    def __init__(self, tokenizer: nn.Module, upsampler: TokenUpsampler, sample_channels: int | None = None) -> None:
        super().__init__()
        self.tokenizer, self.upsampler = tokenizer, upsampler
        self.sample_channels = sample_channels

    @property
    def bits(self) -> int:
        return self.tokenizer.bits

    @property
    def frame_multiple(self) -> int:
        return self.tokenizer.frame_multiple

    def grid_shape(self, num_frames: int) -> tuple[int, int]:
        return self.tokenizer.grid_shape(num_frames)

    def encode(self, features: torch.Tensor) -> torch.Tensor:
        return self.tokenizer.encode(features)

    def dequantize(self, indices: torch.Tensor) -> Dequantized:
        return self._condition(self.tokenizer.dequantize(indices).mel)

    def latent(self, features: torch.Tensor) -> torch.Tensor:
        """The tokenizer's continuous latent, before its quantizer (the `quantize=off` ceiling)."""
        return self.tokenizer.latent(features)

    def decode_latent(self, latent: torch.Tensor) -> Dequantized:
        """The condition of a latent [B, D, L], quantized or not: upsampled as the dequantized tokens are."""
        return self._condition(self.tokenizer.decode_latent(latent).mel)

    def _condition(self, frames: torch.Tensor) -> Dequantized:
        condition = self.upsampler(frames)
        if self.sample_channels is None:
            return Dequantized(mel=condition, cond=condition)
        shape = (condition.shape[0], self.sample_channels, condition.shape[-1])
        return Dequantized(mel=condition.new_zeros(shape), cond=condition, is_estimate=False)

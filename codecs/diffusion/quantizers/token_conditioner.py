"""Transmitted tokens -> the conditioning of a diffusion model in its output domain (LaDiffCodec Sec. 2.2).

`TokenUpsampler`: the dequantized token embeddings, each frame scaled to [-1, 1] (divided by its largest
magnitude), upsampled by transposed convolutions to the frame rate of the output domain (x40: 50 Hz tokens
-> 2 kHz latent frames; or linearly resampled to the 62.5 Hz mel) and projected to its channels. It is trained together with the diffusion model,
whose input it is stacked with. It is also trained as a coarse estimate of the output (an auxiliary loss),
which is what midway-infilling starts from and infills with: our reading of the paper, whose Algorithm 1
mixes the noisy sample with the diffused *condition*, which therefore has to live in the output domain.

`TokenQuantizer`: a waveform tokenizer (frozen) and a `TokenUpsampler` in the quantizer slot of a
`DiffusionCodec`: it transmits the tokenizer's indices and dequantizes them into the upsampled estimate.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from codecbench.codecs.diffusion.quantizers.base import Dequantized
from codecbench.codecs.diffusion.quantizers.encodec_tokens import EncodecTokenizer
from codecbench.codecs.diffusion.quantizers.mel_frames import ResidualConv1d


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
    """

    in_dim: int = 64
    out_dim: int = 16
    channels: int = 128
    rates: tuple[int, ...] = (5, 4, 2)
    input_hop: int = 320
    output_hop: int = 8
    centered: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


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
        h = self.stem(scale_frames(embeddings))
        for stage, rate in zip(self.stages, self.config.rates):
            h = stage["up"](F.silu(h))[..., : frames * rate]
            h = stage["block"](h)
            frames *= rate
        target = self.output_frames(embeddings.shape[-1])
        if h.shape[-1] != target:
            h = F.interpolate(h, size=target, mode="linear", align_corners=False)
        return self.head(self.refine(h))


class TokenQuantizer(nn.Module):
    """Transmits a tokenizer's indices; dequantizes them through a `TokenUpsampler`.

    Args:
        tokenizer: the discrete coder (its `num_quantizers` sets the operating point).
        upsampler: tokens -> the output domain.
    """

    def __init__(self, tokenizer: EncodecTokenizer, upsampler: TokenUpsampler) -> None:
        super().__init__()
        self.tokenizer, self.upsampler = tokenizer, upsampler

    @property
    def bits(self) -> int:
        return self.tokenizer.bits

    @property
    def frame_multiple(self) -> int:
        return self.tokenizer.frame_multiple

    def grid_shape(self, num_samples: int) -> tuple[int, int]:
        return self.tokenizer.grid_shape(num_samples)

    def encode(self, wav: torch.Tensor) -> torch.Tensor:
        return self.tokenizer.encode(wav)

    def dequantize(self, indices: torch.Tensor) -> Dequantized:
        estimate = self.upsampler(self.tokenizer.embed(indices))
        return Dequantized(mel=estimate, cond=estimate)

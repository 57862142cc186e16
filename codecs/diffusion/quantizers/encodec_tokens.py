"""LaDiffCodec's discrete coder: an EnCodec-architecture 16 kHz codec whose RVQ tokens are transmitted.

SEANet encoder/decoder (`transformers`' Encodec modules, strides 2 x 4 x 5 x 8 = 320 samples, so 50 frames
per second) around this package's EMA residual VQ of 1024-code (10-bit) codebooks. One model serves both
operating points: it is trained with the number of codebooks drawn per batch (quantizer dropout).

Bit rate: 50 frames/s x Q codebooks x log2(1024) = 10 bits = 500 Q bit/s, so Q = 3 -> 1500 bit/s
(`@1.5`) and Q = 6 -> 3000 bit/s (`@3`); the last frame covers up to 319 padding samples and the packed
indices end on a byte boundary (a 3 s utterance: 150 frames x 30 bits = 4500 bits = 563 bytes = 1.501 kbps).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from codecbench.codecs.diffusion.quantizers.base import Dequantized
from codecbench.codecs.diffusion.quantizers.vq import QuantizerOutput, ResidualVectorQuantizer
from codecbench.codecs.diffusion.seanet import SEANetConfig, build_seanet

CODEBOOKS = {1.5: 3, 3.0: 6}  # operating point (kbps) -> codebooks transmitted (500 bit/s each)


@dataclass(frozen=True)
class EncodecTokenizerConfig:
    """Args:
        num_filters: SEANet channels at the waveform rate (EnCodec: 32; halved for a CPU budget).
        hidden_size: dimension of the frame embeddings and code vectors (EnCodec: 128).
        ratios: SEANet strides as EnCodec lists them (8, 5, 4, 2): a 320-sample hop at 16 kHz.
        num_lstm_layers: LSTM layers at the frame rate (EnCodec: 2).
        num_quantizers: codebooks in the residual stack (the most a bitstream uses).
        num_codes: codebook size (1024 = 10 bits).
        decay: EMA decay of the codebooks.
    """

    num_filters: int = 16
    hidden_size: int = 64
    ratios: tuple[int, ...] = (8, 5, 4, 2)
    num_lstm_layers: int = 1
    num_quantizers: int = 6
    num_codes: int = 1024
    decay: float = 0.99

    def seanet(self) -> SEANetConfig:
        return SEANetConfig(num_filters=self.num_filters, hidden_size=self.hidden_size, ratios=self.ratios,
                            num_lstm_layers=self.num_lstm_layers)

    def to_dict(self) -> dict:
        return asdict(self)


class EncodecTokenizer(nn.Module):
    """Waveform [B, 1, T] -> indices [B, Q, T / 320] -> frame embeddings [B, D, T / 320] -> waveform.

    Used as the quantizer of a `DiffusionCodec` whose source is the `Waveform` (frames are samples).

    Args:
        config: sizes.
    """

    def __init__(self, config: EncodecTokenizerConfig = EncodecTokenizerConfig()) -> None:
        super().__init__()
        self.config = config
        self.encoder, self.decoder = build_seanet(config.seanet())
        self.rvq = ResidualVectorQuantizer(config.num_quantizers, config.num_codes, config.hidden_size, config.decay)
        self.hop_length = config.seanet().hop_length
        self.num_quantizers = config.num_quantizers  # codebooks `encode` uses (the operating point)

    @property
    def frame_multiple(self) -> int:
        """Samples per transmitted frame: inputs are padded to a multiple of it."""
        return self.hop_length

    @property
    def bits(self) -> int:
        return self.rvq.bits

    @property
    def embedding_dim(self) -> int:
        return self.config.hidden_size

    def use_quantizers(self, num_quantizers: int) -> "EncodecTokenizer":
        """Select how many codebooks `encode` transmits (500 bit/s each); returns self."""
        if not 1 <= num_quantizers <= self.config.num_quantizers:
            raise ValueError(f"num_quantizers must be 1-{self.config.num_quantizers}, not {num_quantizers}")
        self.num_quantizers = num_quantizers
        return self

    def grid_shape(self, num_samples: int) -> tuple[int, int]:
        """(codebooks, frames) of a signal of `num_samples` (a multiple of the hop)."""
        return self.num_quantizers, num_samples // self.hop_length

    def forward(self, wav: torch.Tensor, num_quantizers: int | None = None) -> tuple[torch.Tensor, QuantizerOutput]:
        """Training pass: the reconstruction [B, 1, T] with `num_quantizers` codebooks, and the RVQ output."""
        out = self.rvq(self.encoder(wav), num_quantizers)
        return self.decoder(out.quantized), out

    def encode(self, wav: torch.Tensor) -> torch.Tensor:
        """Indices [B, Q, T / 320] (Q = `num_quantizers`) of a waveform [B, 1, T]."""
        return self.rvq.encode(self.encoder(wav), self.num_quantizers).transpose(0, 1)

    def latent(self, wav: torch.Tensor) -> torch.Tensor:
        """The encoder's continuous frame embeddings [B, D, T / 320] of a waveform [B, 1, T], before the RVQ
        (the `quantize=off` ceiling)."""
        return self.encoder(wav)

    def decode_latent(self, latent: torch.Tensor) -> Dequantized:
        """The receiver's view of frame embeddings [B, D, L], quantized or not (what `dequantize` gives)."""
        return Dequantized(mel=latent, cond=latent)

    def embed(self, indices: torch.Tensor) -> torch.Tensor:
        """The dequantized frame embeddings [B, D, L] (sum of the code vectors) of indices [B, Q, L]."""
        return self.rvq.decode(indices.transpose(0, 1))

    def decode(self, embeddings: torch.Tensor) -> torch.Tensor:
        """EnCodec's own decoder: frame embeddings [B, D, L] -> waveform [B, 320 L]."""
        return self.decoder(embeddings)[:, 0]

    def dequantize(self, indices: torch.Tensor) -> Dequantized:
        """The frame embeddings, for decoding without a diffusion stage (the tokenizer's own decoder)."""
        embeddings = self.embed(indices)
        return Dequantized(mel=embeddings, cond=embeddings)

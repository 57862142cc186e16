"""What every quantizer returns when it dequantizes transmitted indices."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Dequantized:
    """The receiver's view of the transmitted indices.

    Args:
        mel: the quantizer's own reconstruction in the codec's (normalised) output domain, [B, M, N]: the
            log-mel for mel quantizers, the coarse latent or mel estimate of a `TokenQuantizer`, the frame
            embeddings of a tokenizer decoded by its own decoder. Midway-infilling starts from it.
        cond: what a denoiser is conditioned on (its shape is the quantizer's business).
        is_estimate: False where `mel` only gives the shape of the output (zeros: a quantizer conditioning a
            waveform decoder has no estimate of the waveform), so samplers that start from the estimate
            are refused.
    """

    mel: torch.Tensor
    cond: torch.Tensor
    is_estimate: bool = True

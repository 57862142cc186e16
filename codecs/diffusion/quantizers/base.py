"""What every mel quantizer returns when it dequantizes transmitted indices."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Dequantized:
    """The receiver's view of the transmitted indices.

    Args:
        mel: the quantizer's own reconstruction of the normalised log-mel, [B, M, N].
        cond: what a denoiser is conditioned on (its shape is the quantizer's business).
    """

    mel: torch.Tensor
    cond: torch.Tensor

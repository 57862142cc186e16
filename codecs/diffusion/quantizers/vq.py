"""Vector quantisation with EMA codebook updates (van den Oord et al. 2017, App. A.1) and its residual
stack (RVQ, Zeghidour et al. 2021, "SoundStream", Alg. 1)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

TRAINING_ONLY_BUFFERS = ("cluster_size", "embed_sum", "initialized")  # not needed to decode


@dataclass
class QuantizerOutput:
    """Result of quantising a batch.

    Args:
        quantized: the code vectors, straight-through gradient to the input, [B, D, ...].
        indices: code indices, [B, ...] (VQ) or [Q, B, ...] (RVQ).
        commitment_loss: mean ||z - sg(q)||^2 (times nothing: the caller weights it).
    """

    quantized: torch.Tensor
    indices: torch.Tensor
    commitment_loss: torch.Tensor


class VectorQuantizer(nn.Module):
    """A codebook updated by exponential moving averages of its assigned vectors.

    Codes are initialised from the first training batch, and codes unused for a while are re-seeded
    with random vectors of the current batch (dead-code replacement), which keeps large codebooks in use.

    Args:
        num_codes: codebook size (a power of two: each index costs log2(num_codes) bits).
        dim: vector dimension (the channel axis, dim 1 of the input).
        decay: EMA decay of the cluster statistics.
        eps: Laplace smoothing of cluster sizes.
        dead_threshold: a code whose EMA cluster size falls below this (about 460 steps unused at decay
            0.99) is re-seeded.
    """

    def __init__(self, num_codes: int, dim: int, decay: float = 0.99, eps: float = 1e-5,
                 dead_threshold: float = 0.01) -> None:
        super().__init__()
        if num_codes & (num_codes - 1):
            raise ValueError(f"num_codes must be a power of two, not {num_codes}")
        self.num_codes, self.dim, self.decay, self.eps = num_codes, dim, decay, eps
        self.dead_threshold = dead_threshold
        self.register_buffer("codebook", torch.randn(num_codes, dim) * 0.1)
        self.register_buffer("cluster_size", torch.zeros(num_codes))
        self.register_buffer("embed_sum", self.codebook.clone())
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))

    @property
    def bits(self) -> int:
        return self.num_codes.bit_length() - 1

    def _flatten(self, z: torch.Tensor) -> torch.Tensor:
        return z.movedim(1, -1).reshape(-1, self.dim)

    def nearest(self, flat: torch.Tensor) -> torch.Tensor:
        """Index of the nearest code of each row of `flat` [N, D]: argmin of ||c||^2 - 2 z.c (||z||^2 is
        the same for every code)."""
        codebook = self.codebook.to(flat.dtype)
        return torch.addmm(codebook.pow(2).sum(1), flat, codebook.T, alpha=-2.0).argmin(dim=1)

    def encode(self, z: torch.Tensor) -> torch.Tensor:
        """Indices [B, ...] of vectors z [B, D, ...]."""
        shape = (z.shape[0], *z.shape[2:])
        return self.nearest(self._flatten(z.float())).reshape(shape)

    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        """Code vectors [B, D, ...] of indices [B, ...]."""
        return F.embedding(indices, self.codebook).movedim(-1, 1)

    def forward(self, z: torch.Tensor) -> QuantizerOutput:
        flat = self._flatten(z.float())
        if self.training and not bool(self.initialized):
            self._initialize(flat)
        indices = self.nearest(flat)
        if self.training:
            self._update(flat, indices)
        indices = indices.reshape(z.shape[0], *z.shape[2:])
        quantized = self.decode(indices).to(z.dtype)
        commitment = F.mse_loss(z, quantized.detach())
        quantized = z + (quantized - z).detach()  # straight-through estimator
        return QuantizerOutput(quantized, indices, commitment)

    @torch.no_grad()
    def reset_statistics(self) -> None:
        """Restart the EMA statistics from the current codebook (after loading an inference checkpoint,
        which carries no statistics, so that further training continues from the loaded codes)."""
        self.embed_sum.copy_(self.codebook)
        self.cluster_size.fill_(1.0)
        self.initialized.fill_(True)

    @torch.no_grad()
    def _initialize(self, flat: torch.Tensor) -> None:
        picks = flat[torch.randint(0, flat.shape[0], (self.num_codes,), device=flat.device)]
        self.codebook.copy_(picks)
        self.embed_sum.copy_(picks)
        self.cluster_size.fill_(1.0)
        self.initialized.fill_(True)

    @torch.no_grad()
    def _update(self, flat: torch.Tensor, indices: torch.Tensor) -> None:
        """EMA of the cluster sizes and sums of the vectors assigned to each code, then dead-code re-seeding."""
        counts = torch.bincount(indices, minlength=self.num_codes).to(flat.dtype)
        sums = torch.zeros_like(self.embed_sum).index_add_(0, indices, flat)
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.embed_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        total = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.eps) / (total + self.num_codes * self.eps) * total
        self.codebook.copy_(self.embed_sum / smoothed[:, None])
        dead = self.cluster_size < self.dead_threshold
        if bool(dead.any()):
            picks = flat[torch.randint(0, flat.shape[0], (int(dead.sum()),), device=flat.device)]
            self.codebook[dead] = picks
            self.embed_sum[dead] = picks
            self.cluster_size[dead] = 1.0


class ResidualVectorQuantizer(nn.Module):
    """Q codebooks, each quantising the residual left by the previous ones.

    Args:
        num_quantizers: codebooks in the stack (the most a bitstream can use).
        num_codes: size of each codebook.
        dim: vector dimension.
        decay: EMA decay.
    """

    def __init__(self, num_quantizers: int, num_codes: int, dim: int, decay: float = 0.99) -> None:
        super().__init__()
        self.layers = nn.ModuleList(VectorQuantizer(num_codes, dim, decay) for _ in range(num_quantizers))

    @property
    def bits(self) -> int:
        return self.layers[0].bits

    def forward(self, z: torch.Tensor, num_quantizers: int | None = None) -> QuantizerOutput:
        """Quantise with the first `num_quantizers` codebooks (all by default)."""
        residual, quantized = z, torch.zeros_like(z)
        indices, losses = [], []
        for layer in self.layers[: num_quantizers or len(self.layers)]:
            out = layer(residual)
            residual = residual - out.quantized.detach()
            quantized = quantized + out.quantized
            indices.append(out.indices)
            losses.append(out.commitment_loss)
        return QuantizerOutput(quantized, torch.stack(indices), torch.stack(losses).mean())

    def encode(self, z: torch.Tensor, num_quantizers: int) -> torch.Tensor:
        """Indices [Q, B, ...] with the first `num_quantizers` codebooks."""
        if not 1 <= num_quantizers <= len(self.layers):
            raise ValueError(f"num_quantizers must be 1-{len(self.layers)}, not {num_quantizers}")
        residual, indices = z, []
        for layer in self.layers[:num_quantizers]:
            index = layer.encode(residual)
            residual = residual - layer.decode(index).to(residual.dtype)
            indices.append(index)
        return torch.stack(indices)

    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        """Sum of the code vectors [B, D, ...] of indices [Q, B, ...]."""
        return sum(layer.decode(index) for layer, index in zip(self.layers, indices))

"""Griffin-Lim phase reconstruction (Griffin & Lim 1984) with the momentum of Perraudin et al. 2013
("A fast Griffin-Lim algorithm"), on torch.stft/istft; the log-mel is first inverted to a linear
magnitude by non-negative least squares."""

from __future__ import annotations

import math

import torch
from torch import nn

from codecbench.codecs.diffusion.representation import LogMel


class GriffinLim(nn.Module):
    """Log-mel [B, M, N] -> waveform [B, N * hop].

    Args:
        representation: the mel front-end whose filterbank and STFT are inverted.
        iterations: Griffin-Lim iterations (32 in the melvq-ddpm paper).
        momentum: fast Griffin-Lim momentum (0.99, torchaudio's default; 0 is plain Griffin-Lim).
    """

    def __init__(self, representation: LogMel, iterations: int = 32, momentum: float = 0.99) -> None:
        super().__init__()
        self.representation, self.iterations, self.momentum = representation, iterations, momentum

    def forward(self, log_mel: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        cfg = self.representation.config
        window = self.representation.window
        magnitude = self.representation.linear_magnitude(log_mel.float())
        length = (magnitude.shape[-1] - 1) * cfg.hop_length
        phase = torch.rand(magnitude.shape, generator=generator, device=magnitude.device) * (2 * math.pi)
        angles = torch.polar(torch.ones_like(magnitude), phase)
        previous = torch.zeros_like(angles)

        def istft(spec: torch.Tensor) -> torch.Tensor:
            return torch.istft(spec, cfg.n_fft, cfg.hop_length, window=window, length=length)

        for _ in range(self.iterations):
            rebuilt = torch.stft(istft(magnitude * angles), cfg.n_fft, cfg.hop_length, window=window,
                                 return_complex=True)
            angles = rebuilt - (self.momentum / (1 + self.momentum)) * previous
            angles = angles / angles.abs().clamp(min=1e-16)
            previous = rebuilt
        wav = istft(magnitude * angles)
        return torch.nn.functional.pad(wav, (0, cfg.hop_length))  # N * hop samples, like the neural vocoders

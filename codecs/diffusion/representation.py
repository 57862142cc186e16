"""The shared mel front-end: waveform <-> log-mel (16 kHz, 80 bins, n_fft 1024, hop 256, fmax 8 kHz)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

LOG_FLOOR = 1e-4  # mel magnitudes below this are clamped before the log: LibriSpeech leaves bands empty,
# and a lower floor makes every model (and loss) spend its effort on the noise floor of empty bands


@dataclass(frozen=True)
class MelConfig:
    """Mel analysis parameters (the same for every codec in this package).

    Args:
        sample_rate: Hz.
        n_fft: FFT size (and Hann window length).
        hop_length: samples between frames.
        n_mels: mel bins.
        f_min, f_max: band edges in Hz.
        norm_mean, norm_std: affine normalisation of the log-mel used by diffusion models
            (the mean and std of all log-mel values of train-clean-100, 51 min).
    """

    sample_rate: int = 16000
    n_fft: int = 1024
    hop_length: int = 256
    n_mels: int = 80
    f_min: float = 0.0
    f_max: float = 8000.0
    norm_mean: float = -5.5
    norm_std: float = 2.05

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    def num_frames(self, num_samples: int) -> int:
        """Frames of a centred STFT of `num_samples` samples."""
        return 1 + num_samples // self.hop_length


class LogMel(nn.Module):
    """Magnitude STFT -> Slaney mel filterbank (librosa) -> natural log.

    Args:
        config: analysis parameters.
    """

    def __init__(self, config: MelConfig = MelConfig()) -> None:
        super().__init__()
        import librosa

        self.config = config
        basis = librosa.filters.mel(sr=config.sample_rate, n_fft=config.n_fft, n_mels=config.n_mels,
                                    fmin=config.f_min, fmax=config.f_max)
        self.register_buffer("mel_basis", torch.from_numpy(basis).float(), persistent=False)  # [M, F]
        self.register_buffer("window", torch.hann_window(config.n_fft), persistent=False)

    def magnitude(self, wav: torch.Tensor) -> torch.Tensor:
        """|STFT| [B, F, N] of a waveform [B, T] (centred, reflect padding)."""
        spec = torch.stft(wav.float(), self.config.n_fft, self.config.hop_length, window=self.window,
                          center=True, pad_mode="reflect", return_complex=True)
        return spec.abs()

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """Log-mel [B, M, N] of a waveform [B, T]; N = 1 + T // hop."""
        mel = torch.matmul(self.mel_basis, self.magnitude(wav))
        return torch.log(torch.clamp(mel, min=LOG_FLOOR))

    def normalize(self, log_mel: torch.Tensor) -> torch.Tensor:
        """Log-mel -> roughly zero-mean unit-variance values (the diffusion models' domain)."""
        return (log_mel - self.config.norm_mean) / self.config.norm_std

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.config.norm_std + self.config.norm_mean

    def linear_magnitude(self, log_mel: torch.Tensor, iterations: int = 64) -> torch.Tensor:
        """Non-negative least-squares estimate of |STFT| [B, F, N] from a log-mel [B, M, N].

        Projected gradient descent on ||basis @ S - mel||^2 with S >= 0, started from the pseudo-inverse
        (what librosa's `mel_to_stft` solves with L-BFGS-B, here batched in torch).
        """
        mel = torch.exp(log_mel)
        basis = self.mel_basis
        estimate = torch.clamp(torch.matmul(torch.linalg.pinv(basis), mel), min=0.0)
        gram = basis.T @ basis
        step = 1.0 / torch.linalg.matrix_norm(gram, ord=2)
        target = basis.T @ mel
        for _ in range(iterations):
            estimate = torch.clamp(estimate - step * (gram @ estimate - target), min=0.0)
        return estimate

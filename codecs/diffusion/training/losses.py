"""Training losses: spectral reconstruction (mel, multi-resolution STFT, multi-scale mel) and the
HiFi-GAN adversarial losses (least-squares GAN + feature matching)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from codecbench.codecs.diffusion.representation import LogMel

STFT_RESOLUTIONS = ((512, 128), (1024, 256), (2048, 512))  # (n_fft, hop), Parallel WaveGAN's set
STFT_LOSS_FLOOR = 1e-3  # |STFT| floor of the log-magnitude loss (about the representation's mel floor):
# below it, the empty bands of LibriSpeech recordings would dominate the loss


def mel_loss(representation: LogMel, generated: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 between log-mels of two waveforms [B, T] (HiFi-GAN Eq. 3)."""
    return F.l1_loss(representation(generated.float()), representation(target.float()))


def multi_resolution_stft_loss(generated: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Spectral convergence + log-magnitude L1, averaged over three STFT resolutions
    (Yamamoto et al. 2020, "Parallel WaveGAN", Eqs. 2-4)."""
    total = generated.new_zeros((), dtype=torch.float32)
    for n_fft, hop in STFT_RESOLUTIONS:
        window = torch.hann_window(n_fft, device=generated.device)
        spectra = [torch.stft(x.float(), n_fft, hop, window=window, return_complex=True).abs().clamp(min=STFT_LOSS_FLOOR)
                   for x in (generated, target)]
        convergence = torch.linalg.norm(spectra[1] - spectra[0]) / torch.linalg.norm(spectra[1])
        total = total + convergence + F.l1_loss(spectra[0].log(), spectra[1].log())
    return total / len(STFT_RESOLUTIONS)


def multiscale_mel_loss(predicted: torch.Tensor, target: torch.Tensor, scales: tuple[int, ...] = (1, 2, 4, 8)) -> torch.Tensor:
    """Multi-scale spectral loss between log-mels [B, M, N]: at each scale (average pooling over frequency
    and time) the spectral convergence of the magnitudes plus the L1 of the log-magnitudes."""
    total = predicted.new_zeros((), dtype=torch.float32)
    for scale in scales:
        p = F.avg_pool2d(predicted.float().exp()[:, None], scale)
        t = F.avg_pool2d(target.float().exp()[:, None], scale)
        total = total + torch.linalg.norm(t - p) / torch.linalg.norm(t).clamp(min=1e-7)
        total = total + F.l1_loss(p.log(), t.log())
    return total / len(scales)


def discriminator_loss(real: list, fake: list) -> torch.Tensor:
    """LSGAN discriminator loss: sum over sub-discriminators of E[(D(x) - 1)^2] + E[D(G(s))^2]."""
    return sum(torch.mean((1 - r) ** 2) + torch.mean(f ** 2) for (r, _), (f, _) in zip(real, fake))


def generator_adversarial_loss(fake: list) -> torch.Tensor:
    """LSGAN generator loss: sum of E[(D(G(s)) - 1)^2]."""
    return sum(torch.mean((1 - f) ** 2) for f, _ in fake)


def feature_matching_loss(real: list, fake: list) -> torch.Tensor:
    """L1 between discriminator feature maps of real and generated audio (HiFi-GAN Eq. 4)."""
    return sum(F.l1_loss(f, r.detach()) for (_, rs), (_, fs) in zip(real, fake) for r, f in zip(rs, fs))

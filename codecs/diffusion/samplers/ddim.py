"""DDIM sampling: Song, Meng & Ermon 2021, "Denoising Diffusion Implicit Models"."""

from __future__ import annotations

import torch

from codecbench.codecs.diffusion.samplers.base import Sampler


class DDIMSampler(Sampler):
    """The non-Markovian reverse process of Song et al. 2021; deterministic with eta = 0.

    Args:
        eta: 0 for DDIM, 1 for the DDPM-like stochastic variant.
        num_train_timesteps, beta_start, beta_end, prediction_type: as for every `Sampler`.
    """

    name = "ddim"

    def __init__(self, eta: float = 0.0, num_train_timesteps: int = 1000, beta_start: float = 1e-4,
                 beta_end: float = 0.02, prediction_type: str = "epsilon") -> None:
        super().__init__(num_train_timesteps, beta_start, beta_end, prediction_type)
        self.eta = eta

    def step(self, model_output: torch.Tensor, t: torch.Tensor | int, sample: torch.Tensor,
             generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One reverse step x_t -> x_s (s the previous sampled timestep).

        Args:
            model_output: the model's prediction (noise or velocity, see `prediction_type`), shape of `sample`.
            t: the current timestep (an element of `timesteps`).
            sample: x_t.
            generator: the only source of randomness (used when eta > 0).

        Returns:
            (x_s, predicted x_0).
        """
        abar_t, abar_prev = self._coefficients(t)
        # (1) predicted x_0 and eps from the model output                          [Eq. 12, first term]
        x0, eps = self.split_output(model_output, sample, abar_t)
        # (2) sigma_t = eta sqrt((1 - abar_s) / (1 - abar_t)) sqrt(1 - abar_t / abar_s)  [Eq. 16]
        sigma = self.eta * ((1 - abar_prev) / (1 - abar_t) * (1 - abar_t / abar_prev)).sqrt()
        # (3) x_s = sqrt(abar_s) x_0 + sqrt(1 - abar_s - sigma^2) eps + sigma z            [Eq. 12]
        direction = (1 - abar_prev - sigma**2).clamp(min=0).sqrt() * eps
        prev = abar_prev.sqrt() * x0 + direction
        if self.eta > 0:
            noise = torch.randn(sample.shape, generator=generator, device=sample.device, dtype=sample.dtype)
            prev = prev + sigma * noise
        return prev.to(sample.dtype), x0.to(sample.dtype)

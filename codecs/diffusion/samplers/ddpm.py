"""Ancestral DDPM sampling: Ho, Jain & Abbeel 2020, "Denoising Diffusion Probabilistic Models".

With fewer steps than T the chain is respaced (Nichol & Dhariwal 2021, Sec. 4): the step from t to the
previous sampled timestep s uses beta' = 1 - abar_t / abar_s.

The step's variance is a choice Ho et al. leave open (Sec. 3.2: both gave similar results): `posterior`
(default) is beta~_t = (1 - abar_s) / (1 - abar_t) beta'_t, the variance of q(x_s | x_t, x_0); `beta` is
sigma^2 = beta'_t, LaDiffCodec's G (Yang et al. 2024, Sec. 2.1), with no noise at the last step (Alg. 2, z = 0).
"""

from __future__ import annotations

import torch

from codecbench.codecs.diffusion.samplers.base import Sampler


class DDPMSampler(Sampler):
    """x_t -> x_s with the posterior mean of q(x_s | x_t, x_0) of Ho et al. 2020, x_0 from the model output.

    Args:
        variance: `posterior` (beta~_t, default) or `beta` (sigma^2 = beta_t, LaDiffCodec's G).
        num_train_timesteps, beta_start, beta_end, prediction_type: as for every `Sampler`.
    """

    name = "ddpm"
    VARIANCES = ("posterior", "beta")

    def __init__(self, num_train_timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02,
                 prediction_type: str = "epsilon", variance: str = "posterior") -> None:
        super().__init__(num_train_timesteps, beta_start, beta_end, prediction_type)
        if variance not in self.VARIANCES:
            raise ValueError(f"variance must be one of {list(self.VARIANCES)}, not {variance!r}")
        self.variance = variance

    def step(self, model_output: torch.Tensor, t: torch.Tensor | int, sample: torch.Tensor,
             generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One reverse step.

        Args:
            model_output: the model's prediction (noise or velocity, see `prediction_type`), shape of `sample`.
            t: the current timestep (an element of `timesteps`).
            sample: x_t.
            generator: the only source of randomness.

        Returns:
            (x_s, predicted x_0).
        """
        abar_t, abar_prev = self._coefficients(t)
        beta = 1 - abar_t / abar_prev  # respaced beta'_t
        # (1) x_0 from the model output                                  [Eq. 15, or Salimans & Ho for v]
        x0, _ = self.split_output(model_output, sample, abar_t)
        # (2) posterior mean mu = sqrt(abar_s) beta / (1 - abar_t) x_0
        #                       + sqrt(1 - beta) (1 - abar_s) / (1 - abar_t) x_t   [Eq. 7]
        mean = (abar_prev.sqrt() * beta / (1 - abar_t)) * x0 + ((1 - beta).sqrt() * (1 - abar_prev) / (1 - abar_t)) * sample
        # (3) posterior variance beta~ = (1 - abar_s) / (1 - abar_t) beta      [Eq. 7]; zero at the last step
        #     or sigma^2 = beta (Sec. 3.2), zero at the last step (Alg. 2: z = 0 at t = 1)
        variance = (1 - abar_prev) / (1 - abar_t) * beta
        if self.variance == "beta":
            variance = beta * (abar_prev < 1)
        noise = torch.randn(sample.shape, generator=generator, device=sample.device, dtype=sample.dtype)
        prev = mean + variance.sqrt() * noise
        return prev.to(sample.dtype), x0.to(sample.dtype)

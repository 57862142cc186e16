"""Midway-infilling: Yang, Jang & Kim 2024, "Generative de-quantization for neural speech codec via latent
diffusion" (ICASSP), Sec. 2.3, Algorithm 1.

The reverse process starts midway, at step tau, from the condition diffused to tau, and at every step runs
two branches: the sampling branch (an ancestral DDPM step of the model) and the infilling branch (the
condition diffused to the same step by the forward process); their interpolation with ratio gamma is the
next sample. Less noise to remove and a stronger pull towards the condition: with tau = 100 a decode calls
the denoiser 100 times instead of DDPM's 1000.

Our reading where the paper leaves room:
- the condition c is the receiver's coarse estimate of x_0 in the output domain (the token upsampler's
  output, see `quantizers.token_conditioner`), passed as `estimate`;
- the infilling branch diffuses c with a single noise draw for the whole trajectory (a consistent forward
  trajectory; the start x_tau is its value at tau);
- "step tau" is the tau-th training timestep (index tau - 1, noise level abar_{tau-1}); with fewer steps
  than tau the chain is respaced like DDPM (Nichol & Dhariwal 2021, Sec. 4).
"""

from __future__ import annotations

import torch

from codecbench.codecs.diffusion.samplers.ddpm import DDPMSampler
from codecbench.codecs.diffusion.samplers.schedules import trailing_timesteps


class MidwayInfillingSampler(DDPMSampler):
    """Algorithm 1 of Yang et al. 2024 over the DDPM posterior. Stateful per trajectory: `initial_sample`
    stores the condition and its noise, `step` continues that trajectory.

    Args:
        tau: the step the reverse process starts at (1..T); default steps = tau.
        gamma: interpolation ratio towards the infilling branch (0: sampling branch only, i.e. DDPM from the
            diffused condition; 1: the condition itself).
        num_train_timesteps, beta_start, beta_end, prediction_type: as for every `Sampler`.
    """

    name = "midway"

    def __init__(self, tau: int = 100, gamma: float = 0.3, num_train_timesteps: int = 1000,
                 beta_start: float = 1e-4, beta_end: float = 0.02, prediction_type: str = "epsilon") -> None:
        super().__init__(num_train_timesteps, beta_start, beta_end, prediction_type)
        if not 1 <= tau <= num_train_timesteps:
            raise ValueError(f"tau must be 1-{num_train_timesteps}, not {tau}")
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma must lie in [0, 1], not {gamma}")
        self.tau, self.gamma = int(tau), float(gamma)
        self._condition: torch.Tensor | None = None
        self._condition_noise: torch.Tensor | None = None

    def sampled_timesteps(self, num_steps: int) -> torch.Tensor:
        """`num_steps` timesteps descending from tau - 1 (all of tau - 1 ... 0 when num_steps == tau)."""
        return trailing_timesteps(self.tau, num_steps)

    def initial_sample(self, shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device,
                       dtype: torch.dtype, estimate: torch.Tensor | None = None) -> torch.Tensor:
        """x_tau: the condition diffused to the first sampled timestep.

        Raises:
            ValueError: no condition (`estimate`) was given.
            RuntimeError: `set_timesteps` was not called.
        """
        if estimate is None:
            raise ValueError("midway-infilling starts from the condition: pass the codec's estimate")
        if self.timesteps is None:
            raise RuntimeError(f"{type(self).__name__}: run set_timesteps(num_steps, device) first")
        # (1) the condition c and one noise draw eps_c for the infilling branch
        self._condition = estimate.to(device=device, dtype=dtype).expand(shape)
        self._condition_noise = torch.randn(shape, generator=generator, device=device, dtype=dtype)
        # (2) x_tau = sqrt(abar_tau) c + sqrt(1 - abar_tau) eps_c            [Alg. 1 line 1; Ho et al. Eq. 4]
        return self.add_noise(self._condition, self._condition_noise, self.timesteps[:1].expand(shape[0]))

    def step(self, model_output: torch.Tensor, t: torch.Tensor | int, sample: torch.Tensor,
             generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One step x_t -> x_s of both branches and their interpolation.

        Returns:
            (x_s, predicted x_0 of the sampling branch).
        """
        if self._condition is None:
            raise RuntimeError(f"{type(self).__name__}: call initial_sample(..., estimate=...) first")
        # (1) sampling branch: x~_s ~ p_theta(x_s | x_t)                         [Alg. 1; Ho et al. Eq. 7]
        sampled, x0 = super().step(model_output, t, sample, generator)
        # (2) infilling branch: c_s = sqrt(abar_s) c + sqrt(1 - abar_s) eps_c     [Alg. 1; Ho et al. Eq. 4]
        _, abar_prev = self._coefficients(t)
        infilled = abar_prev.sqrt() * self._condition + (1 - abar_prev).sqrt() * self._condition_noise
        # (3) x_s = (1 - gamma) x~_s + gamma c_s                                  [Alg. 1, interpolation]
        return ((1 - self.gamma) * sampled + self.gamma * infilled).to(sample.dtype), x0

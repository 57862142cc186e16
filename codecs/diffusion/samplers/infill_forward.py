"""Forward-diffusion infilling started midway (`sampler=infill-forward`): the infilling of Mittal et al.
2021, "Symbolic music generation with diffusion models", Sec. 4.3, started at step tau: the variant that
LaDiffCodec's Algorithm 1 replaces (Yang et al. 2024, Sec. 2.3; see `samplers.midway`), and this package's
`midway` sampler before it followed the paper.

    c_tau = sqrt(abar_tau) h + sqrt(1 - abar_tau) eps_c;  x_tau = c_tau                (h diffused to tau)
    for t = tau ... 1:
        x~_{t-1} ~ p_theta(x_{t-1} | x_t, h)            sampling branch (one DDPM step)
        c_{t-1} = sqrt(abar_{t-1}) h + sqrt(1 - abar_{t-1}) eps_c    infilling branch: forward diffusion s_t = F(s_0, t)
        x_{t-1} = (1 - gamma) x~_{t-1} + gamma c_{t-1}
One denoiser call per step (the branch needs no model); gamma = 1 returns h itself, gamma = 0 is DDPM from
the diffused condition. One noise draw eps_c serves the whole trajectory (a consistent forward trajectory;
the start is its value at tau).
"""

from __future__ import annotations

import torch

from codecbench.codecs.diffusion.samplers.midway import MidwayStart


class ForwardInfillingSampler(MidwayStart):
    """Mittal-style infilling from step tau over the DDPM posterior. Stateful per trajectory:
    `initial_sample` stores the condition and its noise, `step` continues that trajectory.

    Args:
        tau: the step the reverse process starts at (1..T); default steps = tau.
        gamma: interpolation ratio towards the forward-diffused condition (0: DDPM from the diffused
            condition; 1: the condition itself).
        variance: the sampling branch's step variance (see `MidwayStart`).
        num_train_timesteps, beta_start, beta_end, prediction_type: as for every `Sampler`.
    """

    name = "infill-forward"

    def __init__(self, tau: int = 100, gamma: float = 0.3, num_train_timesteps: int = 1000,
                 beta_start: float = 1e-4, beta_end: float = 0.02, prediction_type: str = "epsilon",
                 variance: str = "posterior") -> None:
        super().__init__(tau, gamma, num_train_timesteps, beta_start, beta_end, prediction_type, variance)
        self._condition_value: torch.Tensor | None = None
        self._condition_noise: torch.Tensor | None = None

    def initial_sample(self, shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device,
                       dtype: torch.dtype, estimate: torch.Tensor | None = None) -> torch.Tensor:
        """x_tau: the condition diffused to the first sampled timestep.

        Raises:
            ValueError: no condition (`estimate`) was given.
            RuntimeError: `set_timesteps` was not called.
        """
        condition = self._condition(estimate)
        if self.timesteps is None:
            raise RuntimeError(f"{type(self).__name__}: run set_timesteps(num_steps, device) first")
        # (1) the condition h and one noise draw eps_c for the infilling branch
        self._condition_value = condition.to(device=device, dtype=dtype).expand(shape)
        self._condition_noise = torch.randn(shape, generator=generator, device=device, dtype=dtype)
        # (2) x_tau = sqrt(abar_tau) h + sqrt(1 - abar_tau) eps_c                       [Ho et al. Eq. 4]
        return self.add_noise(self._condition_value, self._condition_noise, self.timesteps[:1].expand(shape[0]))

    def step(self, model_output: torch.Tensor, t: torch.Tensor | int, sample: torch.Tensor,
             generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One step x_t -> x_s of both branches and their interpolation.

        Returns:
            (x_s, predicted x_0 of the sampling branch).
        """
        if self._condition_value is None:
            raise RuntimeError(f"{type(self).__name__}: call initial_sample(..., estimate=...) first")
        # (1) sampling branch: x~_s ~ p_theta(x_s | x_t)                                 [Ho et al. Eq. 7]
        sampled, x0 = super().step(model_output, t, sample, generator)
        # (2) infilling branch: c_s = sqrt(abar_s) h + sqrt(1 - abar_s) eps_c               [Ho et al. Eq. 4]
        _, abar_prev = self._coefficients(t)
        infilled = abar_prev.sqrt() * self._condition_value + (1 - abar_prev).sqrt() * self._condition_noise
        # (3) x_s = (1 - gamma) x~_s + gamma c_s
        return self._mix(sampled, infilled).to(sample.dtype), x0

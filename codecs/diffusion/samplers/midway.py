"""Midway-infilling: Yang, Jang & Kim 2024, "Generative de-quantization for neural speech codec via latent
diffusion" (ICASSP), Sec. 2.3, Algorithm 1.

The reverse process starts midway, at step tau, and runs two chains of the same model G:
    s_tau <- h;  x_tau ~ N(0, I);  x_tau = (1 - gamma) x_tau + gamma s_tau                     [lines 1-3]
    for t = tau ... 1:
        s_{t-1} = G(s_t, t, h)      infilling branch: the model's reverse step, started from h  [line 5]
        x_{t-1} = G(x_t, t, h)      sampling branch                                              [line 6]
        x_{t-1} = (1 - gamma) x_{t-1} + gamma s_{t-1}                                            [line 7]
    return x_0
The paper replaces the infilling of Mittal et al. 2021, where the branch is the forward diffusion
s_t = F(s_0, t) (kept as `infill-forward`, see `samplers.infill_forward`). G costs two network evaluations
per step (2 tau for a decode); here both branches travel as one state of twice the batch, so the loop
makes one denoiser call per step on [x; s] (`branches = 2`).

Our reading where the paper leaves room:
- h, the condition, is the receiver's estimate of x_0 in the output domain (the token upsampler's output,
  see `quantizers.token_conditioner`), passed as `estimate`; the authors' code (haiciyang/LaDiffCodec,
  `infilling`) likewise starts the infilling chain from the upsampled condition;
- G(., t, h) is one ancestral DDPM step of the model (Ho et al. 2020, Alg. 2), each branch with its own
  noise drawn from the seeded generator; "step tau" is the tau-th training timestep (index tau - 1);
  with fewer steps than tau the chain is respaced (Nichol & Dhariwal 2021, Sec. 4).
Endpoints: gamma = 0 is DDPM from pure noise over the tau steps; gamma = 1 returns the infilling chain.
"""

from __future__ import annotations

import torch

from codecbench.codecs.diffusion.samplers.ddpm import DDPMSampler
from codecbench.codecs.diffusion.samplers.schedules import trailing_timesteps


class MidwayStart(DDPMSampler):
    """What both infilling samplers share: the reverse process starts at step tau, and every step mixes
    the sampled chain with an infilling branch by the ratio gamma. Subclasses define the branch.

    Args:
        tau: the step the reverse process starts at (1..T); default steps = tau.
        gamma: interpolation ratio towards the infilling branch.
        variance: G's variance, `posterior` (beta~_t, default) or `beta` (the paper's sigma^2 = beta_t).
        num_train_timesteps, beta_start, beta_end, prediction_type: as for every `Sampler`.
    """

    needs_estimate = True

    def __init__(self, tau: int = 100, gamma: float = 0.3, num_train_timesteps: int = 1000,
                 beta_start: float = 1e-4, beta_end: float = 0.02, prediction_type: str = "epsilon",
                 variance: str = "posterior") -> None:
        super().__init__(num_train_timesteps, beta_start, beta_end, prediction_type, variance)
        if not 1 <= tau <= num_train_timesteps:
            raise ValueError(f"tau must be 1-{num_train_timesteps}, not {tau}")
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma must lie in [0, 1], not {gamma}")
        self.tau, self.gamma = int(tau), float(gamma)

    def sampled_timesteps(self, num_steps: int) -> torch.Tensor:
        """`num_steps` timesteps descending from tau - 1 (all of tau - 1 ... 0 when num_steps == tau)."""
        return trailing_timesteps(self.tau, num_steps)

    def _mix(self, sampled: torch.Tensor, infilled: torch.Tensor) -> torch.Tensor:
        """(1 - gamma) sampled + gamma infilled."""
        return (1 - self.gamma) * sampled + self.gamma * infilled

    @staticmethod
    def _condition(estimate: torch.Tensor | None) -> torch.Tensor:
        if estimate is None:
            raise ValueError("midway-infilling starts from the condition: pass the codec's estimate")
        return estimate


class MidwayInfillingSampler(MidwayStart):
    """Algorithm 1 of Yang et al. 2024. The state is the two chains stacked on the batch axis,
    [x (sampling); s (infilling)]: `initial_sample` builds it, `step` advances both and mixes, and
    `final_sample` returns x.

    Args:
        tau: the step the reverse process starts at (1..T); default steps = tau.
        gamma: interpolation ratio towards the infilling branch (0: DDPM from noise over tau steps; 1: the
            infilling chain alone).
        num_train_timesteps, beta_start, beta_end, prediction_type: as for every `Sampler`.
    """

    name = "midway"
    branches = 2

    def initial_sample(self, shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device,
                       dtype: torch.dtype, estimate: torch.Tensor | None = None) -> torch.Tensor:
        """The stacked state [x_tau; s_tau] of shape [2B, ...].

        Raises:
            ValueError: no condition (`estimate`) was given.
        """
        # (1) s_tau <- h                                                              [Alg. 1 line 1]
        infilled = self._condition(estimate).to(device=device, dtype=dtype).expand(shape)
        # (2) x_tau ~ N(0, I)                                                          [Alg. 1 line 2]
        sampled = torch.randn(shape, generator=generator, device=device, dtype=dtype)
        # (3) x_tau = (1 - gamma) x_tau + gamma s_tau                                 [Alg. 1 line 3]
        return torch.cat([self._mix(sampled, infilled), infilled])

    def step(self, model_output: torch.Tensor, t: torch.Tensor | int, sample: torch.Tensor,
             generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One step of both chains and their interpolation.

        Args:
            model_output: G's prediction for the stacked state [2B, ...].
            t: the current timestep.
            sample: the stacked state [x_t; s_t].
            generator: draws the noise of both branches (one draw of the stacked shape).

        Returns:
            ([x_s; s_s], predicted x_0 of the sampling branch).
        """
        # (1) x~_s = G(x_t, t, h) and s_s = G(s_t, t, h): one ancestral step of each   [Alg. 1 lines 5-6]
        stepped, x0 = super().step(model_output, t, sample, generator)
        sampled, infilled = stepped.chunk(2)
        # (2) x_s = (1 - gamma) x~_s + gamma s_s                                       [Alg. 1 line 7]
        return torch.cat([self._mix(sampled, infilled), infilled]), x0.chunk(2)[0]

    def final_sample(self, state: torch.Tensor) -> torch.Tensor:
        """x_0, the sampling branch of the final state."""
        return state.chunk(2)[0]

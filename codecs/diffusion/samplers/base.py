"""What DDPM, DDIM and later samplers share: the training schedule, the parameterisation of the model
output (noise or velocity), `add_noise`, the timestep table and the starting sample."""

from __future__ import annotations

import torch

from codecbench.codecs.diffusion.samplers.schedules import alphas_cumprod, linear_betas, trailing_timesteps


class Sampler:
    """Base of the samplers: holds the training schedule (T linear betas) and the sampling timesteps.

    Samplers know nothing of models: `step` takes the model's noise prediction. Everything `step` needs
    is precomputed per sampling step by `set_timesteps`, so the loop has fixed shapes and no host syncs.

    Args:
        num_train_timesteps: T of the training schedule.
        beta_start, beta_end: the linear schedule's ends.
        prediction_type: what the model predicts: `epsilon` (the noise, Ho et al. 2020) or `v_prediction`
            (the velocity v = sqrt(abar) eps - sqrt(1 - abar) x_0, Salimans & Ho 2022, Sec. 4).
    """

    name = "base"
    PREDICTION_TYPES = ("epsilon", "v_prediction")
    branches = 1  # chains advanced together: the state holds `branches` x B items (the loop repeats cond)
    needs_estimate = False  # starts from the receiver's estimate of x_0 (midway-infilling)

    def __init__(self, num_train_timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02,
                 prediction_type: str = "epsilon") -> None:
        if prediction_type not in self.PREDICTION_TYPES:
            raise ValueError(f"prediction_type must be one of {self.PREDICTION_TYPES}, not {prediction_type!r}")
        self.prediction_type = prediction_type
        self.num_train_timesteps = num_train_timesteps
        self.betas = linear_betas(num_train_timesteps, beta_start, beta_end)
        self.alphas_cumprod = alphas_cumprod(self.betas)
        self.timesteps: torch.Tensor | None = None
        self.timestep_list: list[int] = []

    def add_noise(self, original: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """Forward process q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I) (Ho et al. 2020, Eq. 4).

        Args:
            original: x_0 [B, ...].
            noise: epsilon, same shape.
            timesteps: t [B] in [0, T).
        """
        abar = self._broadcast(self.alphas_cumprod.to(original.device)[timesteps].to(original.dtype), original)
        return abar.sqrt() * original + (1 - abar).sqrt() * noise

    def training_target(self, original: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """What the model learns to output for x_t = add_noise(original, noise, timesteps)."""
        if self.prediction_type == "epsilon":
            return noise
        abar = self._broadcast(self.alphas_cumprod.to(original.device)[timesteps].to(original.dtype), original)
        return abar.sqrt() * noise - (1 - abar).sqrt() * original

    def split_output(self, model_output: torch.Tensor, sample: torch.Tensor,
                     abar_t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(predicted x_0, predicted noise) from a model output at x_t = `sample`."""
        if self.prediction_type == "epsilon":
            # x_0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t)          [Ho et al. 2020, Eq. 15]
            return (sample - (1 - abar_t).sqrt() * model_output) / abar_t.sqrt(), model_output
        # x_0 = sqrt(abar_t) x_t - sqrt(1 - abar_t) v,  eps = sqrt(1 - abar_t) x_t + sqrt(abar_t) v
        #                                                               [Salimans & Ho 2022, Sec. 4]
        return (abar_t.sqrt() * sample - (1 - abar_t).sqrt() * model_output,
                (1 - abar_t).sqrt() * sample + abar_t.sqrt() * model_output)

    @staticmethod
    def _broadcast(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return values.reshape(-1, *([1] * (like.dim() - 1)))

    def sampled_timesteps(self, num_steps: int) -> torch.Tensor:
        """The `num_steps` timesteps the loop visits, descending from T - 1 (int64 [num_steps])."""
        return trailing_timesteps(self.num_train_timesteps, num_steps)

    def set_timesteps(self, num_steps: int, device: str | torch.device = "cpu") -> None:
        """Choose the `num_steps` timesteps the sampling loop visits (descending)."""
        self.timesteps = self.sampled_timesteps(num_steps).to(device)
        previous = torch.cat([self.timesteps[1:], torch.tensor([-1], device=device)])
        abar = self.alphas_cumprod.to(device)
        one = torch.ones((), dtype=abar.dtype, device=device)
        self._abar_t = abar[self.timesteps].float()
        self._abar_prev = torch.where(previous >= 0, abar[previous.clamp(min=0)], one).float()
        self.timestep_list = self.timesteps.tolist()  # host copy: the loop indexes without device syncs
        self._index = {t: i for i, t in enumerate(self.timestep_list)}

    def initial_sample(self, shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device,
                       dtype: torch.dtype, estimate: torch.Tensor | None = None) -> torch.Tensor:
        """x at the first sampled timestep: pure noise x_T ~ N(0, I) (Ho et al. 2020, Alg. 2, line 1).

        Args:
            shape: of the sample.
            generator: the only source of randomness.
            device, dtype: of the sample.
            estimate: the receiver's coarse estimate of x_0 (unused here; see midway-infilling).
        """
        return torch.randn(shape, generator=generator, device=device, dtype=dtype)

    def final_sample(self, state: torch.Tensor) -> torch.Tensor:
        """The sample [B, ...] of the loop's final state (the state itself for one chain)."""
        return state

    def _coefficients(self, t: torch.Tensor | int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.timesteps is None:
            raise RuntimeError(f"{type(self).__name__}: run set_timesteps(num_steps, device) first")
        i = self._index[int(t)]
        return self._abar_t[i], self._abar_prev[i]

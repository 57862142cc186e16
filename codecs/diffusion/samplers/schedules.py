"""Noise schedules and timestep spacings as pure functions."""

from __future__ import annotations

import torch


def linear_betas(num_train_timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """The linear variance schedule of Ho et al. 2020 (Sec. 4: T = 1000, 1e-4 -> 0.02), float64 [T]."""
    return torch.linspace(beta_start, beta_end, num_train_timesteps, dtype=torch.float64)


def alphas_cumprod(betas: torch.Tensor) -> torch.Tensor:
    """alpha-bar_t = prod_{s<=t} (1 - beta_s), [T]."""
    return torch.cumprod(1.0 - betas, dim=0)


def trailing_timesteps(num_train_timesteps: int, num_steps: int) -> torch.Tensor:
    """`num_steps` descending timesteps that always start at T - 1 and are evenly spaced ("trailing"
    spacing of Lin et al. 2024, Table 2), int64 [num_steps]."""
    if not 1 <= num_steps <= num_train_timesteps:
        raise ValueError(f"num_steps must be 1-{num_train_timesteps}, not {num_steps}")
    step = num_train_timesteps / num_steps
    timesteps = torch.round(torch.arange(num_train_timesteps, 0, -step, dtype=torch.float64)) - 1
    return timesteps.to(torch.int64)

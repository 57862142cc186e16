"""Diffusion samplers: plain objects with `set_timesteps`, `step`, `add_noise`; one algorithm per file."""

from codecbench.codecs.diffusion.samplers.base import Sampler
from codecbench.codecs.diffusion.samplers.ddim import DDIMSampler
from codecbench.codecs.diffusion.samplers.ddpm import DDPMSampler

SAMPLERS: dict[str, type[Sampler]] = {"ddpm": DDPMSampler, "ddim": DDIMSampler}


def make_sampler(name: str, **kwargs) -> Sampler:
    """Build a sampler by name (`ddpm`, `ddim`).

    Raises:
        ValueError: an unknown name (the message lists the known ones).
    """
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; select one of {sorted(SAMPLERS)}")
    return SAMPLERS[name](**kwargs)


__all__ = ["DDIMSampler", "DDPMSampler", "SAMPLERS", "Sampler", "make_sampler"]

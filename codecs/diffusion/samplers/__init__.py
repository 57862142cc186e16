"""Diffusion samplers: plain objects with `set_timesteps`, `step`, `add_noise`; one algorithm per file."""

from codecbench.codecs.diffusion.samplers.base import Sampler
from codecbench.codecs.diffusion.samplers.ddim import DDIMSampler
from codecbench.codecs.diffusion.samplers.ddpm import DDPMSampler
from codecbench.codecs.diffusion.samplers.midway import MidwayInfillingSampler

SAMPLERS: dict[str, type[Sampler]] = {"ddpm": DDPMSampler, "ddim": DDIMSampler, "midway": MidwayInfillingSampler}


def make_sampler(name: str, **kwargs) -> Sampler:
    """Build a sampler by name (`ddpm`, `ddim`, `midway`).

    Raises:
        ValueError: an unknown name (the message lists the known ones).
    """
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; select one of {sorted(SAMPLERS)}")
    return SAMPLERS[name](**kwargs)


__all__ = ["DDIMSampler", "DDPMSampler", "MidwayInfillingSampler", "SAMPLERS", "Sampler", "make_sampler"]

"""Diffusion samplers: plain objects with `set_timesteps`, `step`, `add_noise`; one algorithm per file."""

from codecbench.codecs.diffusion.samplers.base import Sampler
from codecbench.codecs.diffusion.samplers.ddim import DDIMSampler
from codecbench.codecs.diffusion.samplers.ddpm import DDPMSampler
from codecbench.codecs.diffusion.samplers.infill_forward import ForwardInfillingSampler
from codecbench.codecs.diffusion.samplers.midway import MidwayInfillingSampler, MidwayStart

SAMPLERS: dict[str, type[Sampler]] = {"ddpm": DDPMSampler, "ddim": DDIMSampler, "midway": MidwayInfillingSampler,
                                      "infill-forward": ForwardInfillingSampler}
MIDWAY_SAMPLERS = tuple(name for name, cls in SAMPLERS.items() if issubclass(cls, MidwayStart))  # take tau, gamma


def make_sampler(name: str, **kwargs) -> Sampler:
    """Build a sampler by name (`ddpm`, `ddim`, `midway`, `infill-forward`).

    Raises:
        ValueError: an unknown name (the message lists the known ones).
    """
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; select one of {sorted(SAMPLERS)}")
    return SAMPLERS[name](**kwargs)


__all__ = ["DDIMSampler", "DDPMSampler", "ForwardInfillingSampler", "MIDWAY_SAMPLERS", "MidwayInfillingSampler",
           "SAMPLERS", "Sampler", "make_sampler"]

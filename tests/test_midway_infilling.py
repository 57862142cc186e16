"""Midway-infilling exactly as LaDiffCodec's Algorithm 1 states it (the start mix, both branches as the
model's reverse steps, the endpoints gamma = 0 and 1, two network evaluations per step), and the
forward-diffusion variant it replaces (`infill-forward`)."""

import pytest

torch = pytest.importorskip("torch")

from codecbench.codecs.diffusion.codec import reverse_diffusion  # noqa: E402
from codecbench.codecs.diffusion.samplers import (  # noqa: E402
    ForwardInfillingSampler, MidwayInfillingSampler, make_sampler)

SHAPE = (2, 3, 16)
SCHEDULE = {"prediction_type": "epsilon"}


class RecordingBackbone(torch.nn.Module):
    """A fixed, non-trivial denoiser (an affine map of x, t and cond) that records every input it sees."""

    frame_multiple = 1

    def __init__(self):
        super().__init__()
        self.inputs = []

    def forward(self, x, t, cond):
        self.inputs.append((x.clone(), t.clone(), cond.clone()))
        return 0.6 * x - 0.2 * cond + 1e-4 * t.float()[:, None, None]


def tensors(seed):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(SHAPE, generator=generator), torch.randn(SHAPE, generator=generator)


def ancestral_step(sampler, output, t, x, z):
    """One DDPM step written out (Ho et al. 2020, Eqs. 7 and 15) with the given noise z: the reference."""
    abar_t, abar_s = sampler._coefficients(t)
    beta = 1 - abar_t / abar_s
    x0 = (x - (1 - abar_t).sqrt() * output) / abar_t.sqrt()
    mean = abar_s.sqrt() * beta / (1 - abar_t) * x0 + (1 - beta).sqrt() * (1 - abar_s) / (1 - abar_t) * x
    return mean + ((1 - abar_s) / (1 - abar_t) * beta).sqrt() * z


def reference(tau, gamma, h, cond, seed, steps=None):
    """Algorithm 1 line by line, with the noise drawn in the sampler's order: x_tau's noise, then per
    step one draw for [sampling; infilling]."""
    sampler = MidwayInfillingSampler(tau=tau, gamma=gamma, **SCHEDULE)
    sampler.set_timesteps(steps or tau)
    backbone = RecordingBackbone()
    generator = torch.Generator().manual_seed(seed)
    s = h.clone()                                                   # line 1: s_tau <- h
    x = torch.randn(SHAPE, generator=generator)                     # line 2: x_tau ~ N(0, I)
    x = (1 - gamma) * x + gamma * s                                 # line 3
    for i, t in enumerate(sampler.timestep_list):
        z = torch.randn((2 * SHAPE[0], *SHAPE[1:]), generator=generator)
        timesteps = sampler.timesteps[i].expand(SHAPE[0])
        s_next = ancestral_step(sampler, backbone(s, timesteps, cond), t, s, z[SHAPE[0]:])   # line 5
        x_next = ancestral_step(sampler, backbone(x, timesteps, cond), t, x, z[:SHAPE[0]])   # line 6
        x, s = (1 - gamma) * x_next + gamma * s_next, s_next                               # line 7
    return x, s


def sample(sampler, h, cond, seed, steps):
    backbone = RecordingBackbone()
    out = reverse_diffusion(backbone, sampler, cond, SHAPE, steps, torch.Generator().manual_seed(seed), h)
    return out, backbone


def test_start_mix_is_line_3_and_both_branches_are_batched_into_one_call():
    h, cond = tensors(0)
    gamma = 0.3
    _, backbone = sample(MidwayInfillingSampler(tau=100, gamma=gamma, **SCHEDULE), h, cond, 5, 100)
    epsilon = torch.randn(SHAPE, generator=torch.Generator().manual_seed(5))
    x, t, c = backbone.inputs[0]
    assert x.shape == (2 * SHAPE[0], *SHAPE[1:])  # [x; s] in one call of twice the batch
    assert torch.allclose(x[:SHAPE[0]], 0.7 * epsilon + 0.3 * h)  # the paper's 0.3 h + 0.7 eps
    assert torch.equal(x[SHAPE[0]:], h)  # the infilling chain starts at the condition itself
    assert torch.equal(c, torch.cat([cond, cond])) and t.tolist() == [99] * 4
    assert len(backbone.inputs) == 100


@pytest.mark.parametrize("tau,gamma,steps", [(100, 0.3, 100), (40, 0.6, 40), (200, 0.3, 20)])
def test_both_branches_follow_algorithm_1(tau, gamma, steps):
    h, cond = tensors(1)
    out, _ = sample(MidwayInfillingSampler(tau=tau, gamma=gamma, **SCHEDULE), h, cond, 2, steps)
    x, _ = reference(tau, gamma, h, cond, 2, steps)
    assert torch.allclose(out, x, atol=1e-5)


def test_gamma_0_is_ddpm_from_pure_noise_over_tau_steps():
    h, cond = tensors(2)
    out, _ = sample(MidwayInfillingSampler(tau=50, gamma=0.0, **SCHEDULE), h, cond, 3, 50)
    other_h, _ = tensors(9)
    assert torch.equal(out, sample(MidwayInfillingSampler(tau=50, gamma=0.0, **SCHEDULE), other_h, cond, 3, 50)[0])
    # DDPM from x_tau ~ N(0, I) down the same 50 timesteps, with the sampling branch's noise
    sampler = MidwayInfillingSampler(tau=50, gamma=0.0, **SCHEDULE)
    sampler.set_timesteps(50)
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(SHAPE, generator=generator)
    backbone = RecordingBackbone()
    for i, t in enumerate(sampler.timestep_list):
        z = torch.randn((2 * SHAPE[0], *SHAPE[1:]), generator=generator)[: SHAPE[0]]
        x = ancestral_step(sampler, backbone(x, sampler.timesteps[i].expand(SHAPE[0]), cond), t, x, z)
    assert torch.allclose(out, x, atol=1e-5)


def test_gamma_1_is_the_infilling_chain_alone():
    h, cond = tensors(3)
    out, _ = sample(MidwayInfillingSampler(tau=30, gamma=1.0, **SCHEDULE), h, cond, 4, 30)
    _, infilling_chain = reference(30, 1.0, h, cond, 4)
    assert torch.allclose(out, infilling_chain, atol=1e-5)
    assert not torch.allclose(out, h, atol=1e-2)  # the model's chain, not the condition returned
    other_seed, _ = sample(MidwayInfillingSampler(tau=30, gamma=1.0, **SCHEDULE), h, cond, 5, 30)
    assert not torch.equal(out, other_seed)  # its own per-step noise


def test_seeded_refuses_bad_options_and_needs_the_condition():
    h, cond = tensors(4)
    sampler = MidwayInfillingSampler(tau=20, gamma=0.3, **SCHEDULE)
    first = sample(sampler, h, cond, 0, 20)[0]
    assert torch.equal(first, sample(sampler, h, cond, 0, 20)[0])
    with pytest.raises(ValueError, match="1-50"):
        MidwayInfillingSampler(tau=50).set_timesteps(51)
    with pytest.raises(ValueError, match="gamma"):
        make_sampler("midway", gamma=1.5)
    with pytest.raises(ValueError, match="estimate"):
        reverse_diffusion(RecordingBackbone(), MidwayInfillingSampler(tau=10), cond, SHAPE, 10)


def test_infill_forward_is_the_mittal_variant():
    """One call per step, started from the condition diffused to tau; gamma = 1 returns the condition."""
    h, cond = tensors(5)
    sampler = make_sampler("infill-forward", tau=100, gamma=0.3, **SCHEDULE)
    assert isinstance(sampler, ForwardInfillingSampler) and sampler.branches == 1
    out, backbone = sample(sampler, h, cond, 6, 100)
    assert len(backbone.inputs) == 100 and backbone.inputs[0][0].shape == SHAPE
    epsilon = torch.randn(SHAPE, generator=torch.Generator().manual_seed(6))
    abar = sampler.alphas_cumprod[99].float()
    assert torch.allclose(backbone.inputs[0][0], abar.sqrt() * h + (1 - abar).sqrt() * epsilon, atol=1e-6)
    ended, _ = sample(make_sampler("infill-forward", tau=25, gamma=1.0, **SCHEDULE), h, cond, 6, 25)
    assert torch.allclose(ended, h, atol=1e-5)

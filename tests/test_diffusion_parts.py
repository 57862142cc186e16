"""The parts of the mel-domain codecs: bit packing, quantizers, samplers, backbones, vocoders, checkpoints."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("torch_one_thread")

from codecbench.codecs.bitpack import pack_fields, unpack_fields  # noqa: E402
from codecbench.codecs.diffusion.checkpoints import load_modules, read_metadata, save_modules  # noqa: E402
from codecbench.codecs.diffusion.codec import DiffusionCodec, reverse_diffusion  # noqa: E402
from codecbench.codecs.diffusion.gain import GainCoder  # noqa: E402
from codecbench.codecs.diffusion.quantizers.mel_frames import MelFramesConfig, MelFramesQuantizer  # noqa: E402
from codecbench.codecs.diffusion.quantizers.mel_grid import MelGridConfig, MelGridQuantizer  # noqa: E402
from codecbench.codecs.diffusion.quantizers.vq import ResidualVectorQuantizer, VectorQuantizer  # noqa: E402
from codecbench.codecs.diffusion.representation import LogMel  # noqa: E402
from codecbench.codecs.diffusion.samplers import DDIMSampler, DDPMSampler, make_sampler  # noqa: E402
from codecbench.codecs.diffusion.samplers.schedules import trailing_timesteps  # noqa: E402
from codecbench.codecs.diffusion.backbones.unet2d import UNet2d, UNet2dConfig  # noqa: E402
from codecbench.codecs.diffusion.backbones.wavenet1d import WaveNet1d, WaveNet1dConfig  # noqa: E402
from codecbench.codecs.diffusion.vocoders.griffin_lim import GriffinLim  # noqa: E402
from codecbench.codecs.diffusion.vocoders.hifigan import HiFiGANConfig, HiFiGANGenerator  # noqa: E402


def test_bit_packing_is_exact_and_refuses_truncation():
    rng = np.random.default_rng(0)
    gain, codes = np.array([201]), rng.integers(0, 8192, 15 * 7)
    data = pack_fields([(gain, 8), (codes, 13)])
    assert len(data) == -(-(8 + 13 * codes.size) // 8)
    got_gain, got_codes = unpack_fields(data, [(1, 8), (codes.size, 13)])
    assert got_gain.tolist() == [201] and np.array_equal(got_codes, codes)
    with pytest.raises(ValueError, match="truncated"):
        unpack_fields(data[:-2], [(1, 8), (codes.size, 13)])
    with pytest.raises(ValueError, match="needs values in"):
        pack_fields([(np.array([4096]), 12)])


def test_schedule_and_timesteps():
    steps = trailing_timesteps(1000, 20)
    assert steps[0] == 999 and len(steps) == 20 and bool((steps[:-1] > steps[1:]).all())
    with pytest.raises(ValueError):
        trailing_timesteps(1000, 0)
    with pytest.raises(ValueError, match="select one of"):
        make_sampler("euler")


@pytest.mark.parametrize("sampler", [DDPMSampler(), DDIMSampler(), DDIMSampler(eta=1.0)])
def test_samplers_recover_x0_given_the_true_noise(sampler):
    """With an oracle noise prediction every step predicts x0 exactly; the chain must end at x0."""
    x0 = torch.randn(2, 3, 8, generator=torch.Generator().manual_seed(1))
    with pytest.raises(RuntimeError, match="set_timesteps"):
        sampler.step(torch.zeros_like(x0), 999, x0)
    sampler.set_timesteps(2)  # "every sampler runs two steps"
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(x0.shape, generator=generator)
    for t in sampler.timestep_list:
        abar = sampler.alphas_cumprod[t].float()
        oracle = (x - abar.sqrt() * x0) / (1 - abar).sqrt()
        x, predicted = sampler.step(oracle, t, x, generator)
        torch.testing.assert_close(predicted, x0, atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(x, x0, atol=1e-3, rtol=1e-3)


def test_add_noise_draws_from_the_forward_process():
    """q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I) (Ho et al. 2020, Eq. 4), checked by its moments on
    200k draws, with abar_999 of the linear 1e-4..0.02 schedule as published (4.0358e-5)."""
    sampler = DDPMSampler()
    assert float(sampler.alphas_cumprod[999]) == pytest.approx(4.0358e-5, rel=1e-4)
    generator = torch.Generator().manual_seed(0)
    x0 = torch.full((4, 200_000), 2.0)
    t = torch.tensor([0, 100, 500, 999])
    noisy = sampler.add_noise(x0, torch.randn(x0.shape, generator=generator), t)
    for row, step in enumerate(t.tolist()):
        abar = float(sampler.alphas_cumprod[step])
        assert float(noisy[row].mean()) == pytest.approx(2.0 * abar ** 0.5, abs=0.01)
        assert float(noisy[row].var()) == pytest.approx(1 - abar, rel=0.02, abs=1e-5)


def test_ema_vq_learns_clusters_and_rvq_refines():
    generator = torch.Generator().manual_seed(0)
    centres = torch.randn(8, 4, generator=generator) * 3
    data = centres[torch.randint(0, 8, (512,), generator=generator)] + 0.05 * torch.randn(512, 4, generator=generator)
    z = data.T[None]  # [1, D, N]
    torch.manual_seed(0)
    vq = VectorQuantizer(16, 4, decay=0.9)
    for _ in range(30):
        vq(z)
    vq.eval()
    out = vq(z)
    assert out.commitment_loss < 0.05
    assert torch.equal(vq.encode(z), out.indices)
    rvq = ResidualVectorQuantizer(3, 16, 4, decay=0.9)
    for _ in range(30):
        rvq(z)
    rvq.eval()
    errors = [float((rvq.decode(rvq.encode(z, q)) - z).pow(2).mean()) for q in (1, 2, 3)]
    assert errors[0] > errors[1] > errors[2]


def test_quantizer_grids_give_the_documented_bit_rates():
    grid = MelGridQuantizer(MelGridConfig(channels=(4, 8), latent_dim=8, num_codes=8192)).eval()
    mel = torch.randn(1, 80, 64)
    assert grid.encode(mel).shape == (1, 15, 8) and grid.grid_shape(64) == (15, 8)
    assert grid.bits == 13 and 15 * 13 * 62.5 / 8 == pytest.approx(1523.4, abs=0.1)
    frames = MelFramesQuantizer(MelFramesConfig(hidden=16, latent_dim=8)).eval()
    assert frames.bits == 12 and frames.use_quantizers(2).encode(mel).shape == (1, 2, 64)
    with pytest.raises(ValueError):
        frames.use_quantizers(5)


def test_backbones_keep_shapes():
    unet = UNet2d(UNet2dConfig(cond_channels=3, cond_proj=2, channels=(4, 8, 8, 8), time_dim=16, heads=2))
    x, t = torch.randn(2, 1, 80, 32), torch.tensor([3, 900])
    assert unet(x, t, torch.randn(2, 3, 80, 32)).shape == x.shape
    net = WaveNet1d(WaveNet1dConfig(channels=8, dilations=(1, 2), time_dim=16))
    x = torch.randn(2, 80, 20)
    assert net(x, t, torch.randn(2, 80, 20)).shape == x.shape


def test_griffin_lim_inverts_a_real_log_mel(speech):
    from pystoi import stoi

    representation = LogMel()
    wav = torch.from_numpy(speech[:32000])
    rebuilt = GriffinLim(representation)(representation(wav[None]), torch.Generator().manual_seed(0))[0]
    assert rebuilt.shape[0] >= wav.shape[0]
    assert stoi(speech[:32000], rebuilt[:32000].numpy(), 16000) > 0.9


def test_codec_bytes_round_trip_and_seeded_decoding(speech):
    representation = LogMel()
    torch.manual_seed(0)
    quantizer = MelGridQuantizer(MelGridConfig(channels=(4, 8), latent_dim=8)).eval()
    backbone = UNet2d(UNet2dConfig(cond_channels=9, cond_proj=2, channels=(4, 8, 8, 8), time_dim=16, heads=2)).eval()
    vocoder = HiFiGANGenerator(HiFiGANConfig(upsample_channels=16, resblock_kernels=(3,), resblock_dilations=(1,))).eval()
    codec = DiffusionCodec(representation, quantizer, vocoder, backbone, DDPMSampler(), GainCoder())
    wav = torch.from_numpy(speech[:24000])
    codes = codec.encode(wav)
    data = codec.to_bytes(codes)
    grid_steps = codec.padded_frames(len(wav)) // 8
    assert len(data) == -(-(8 + 15 * grid_steps * 13) // 8)
    back = codec.from_bytes(data, len(wav))
    assert torch.equal(back.indices, codes.indices) and back.gain_index == codes.gain_index
    first = codec.decode(back, len(wav), 2, torch.Generator().manual_seed(5))
    again = codec.decode(back, len(wav), 2, torch.Generator().manual_seed(5))
    other = codec.decode(back, len(wav), 2, torch.Generator().manual_seed(6))
    assert first.shape == wav.shape and torch.equal(first, again) and not torch.equal(first, other)
    with pytest.raises(ValueError, match="truncated"):
        codec.from_bytes(data[:10], len(wav))


def test_reverse_diffusion_pads_to_the_backbone_multiple():
    backbone = UNet2d(UNet2dConfig(cond_channels=2, cond_proj=2, channels=(4, 8, 8, 8), time_dim=16, heads=2)).eval()
    with torch.no_grad():
        mel = reverse_diffusion(backbone, DDIMSampler(), torch.randn(1, 2, 80, 40), torch.Size([1, 80, 40]), 2)
    assert mel.shape == (1, 80, 40)


def test_checkpoints_round_trip_in_fp16(tmp_path):
    torch.manual_seed(0)
    quantizer = MelFramesQuantizer(MelFramesConfig(hidden=16, latent_dim=8, num_codes=16))
    quantizer(torch.randn(2, 80, 12))  # initialises the codebooks (training mode)
    path = save_modules(tmp_path / "q.safetensors", {"quantizer": quantizer}, {"recipe": "test", "steps": 1})
    meta = read_metadata(path)
    assert meta["training"]["steps"] == 1 and meta["modules"]["quantizer"]["class"] == "MelFramesQuantizer"
    loaded = load_modules(path)["quantizer"]
    assert not any(k.endswith(("cluster_size", "embed_sum")) for k in loaded.state_dict() if "layers" in k
                   and k not in {n for n, _ in loaded.named_buffers()})
    quantizer.eval()
    indices = quantizer.encode(torch.randn(1, 80, 12))
    torch.testing.assert_close(loaded.dequantize(indices).mel, quantizer.dequantize(indices).mel, atol=2e-2, rtol=1e-2)
    with pytest.raises(FileNotFoundError):
        load_modules(tmp_path / "missing.safetensors")

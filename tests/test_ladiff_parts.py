"""LaDiffCodec's parts: SEANet tokenizer and autoencoder, token upsampler, 1-D U-Net, midway-infilling."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from codecbench.codecs.diffusion.backbones.unet1d import UNet1d, UNet1dConfig  # noqa: E402
from codecbench.codecs.diffusion.checkpoints import load_modules, save_modules  # noqa: E402
from codecbench.codecs.diffusion.codec import DiffusionCodec, reverse_diffusion  # noqa: E402
from codecbench.codecs.diffusion.latent_autoencoder import LatentAutoencoder, LatentAutoencoderConfig  # noqa: E402
from codecbench.codecs.diffusion.quantizers.encodec_tokens import EncodecTokenizer, EncodecTokenizerConfig  # noqa: E402
from codecbench.codecs.diffusion.quantizers.token_conditioner import (  # noqa: E402
    TokenQuantizer, TokenUpsampler, TokenUpsamplerConfig, scale_frames, upsampling_rates)
from codecbench.codecs.diffusion.samplers import DDPMSampler, MidwayInfillingSampler  # noqa: E402
from codecbench.codecs.diffusion.seanet import DecoderVocoder  # noqa: E402
from codecbench.codecs.diffusion.waveform import Waveform  # noqa: E402

SMALL_TOKENIZER = EncodecTokenizerConfig(num_filters=4, hidden_size=8, num_lstm_layers=0, num_codes=16)
SMALL_AUTOENCODER = LatentAutoencoderConfig(num_filters=4, latent_dim=4)

pytestmark = pytest.mark.usefixtures("torch_one_thread")


class CountingBackbone(torch.nn.Module):
    """A denoiser that predicts zero velocity and counts its calls (to test samplers, not models)."""

    frame_multiple = 1

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x, t, cond):
        self.calls += 1
        return torch.zeros_like(x)


def test_tokenizer_strides_bit_rate_and_payload(speech):
    tokenizer = EncodecTokenizer(SMALL_TOKENIZER).eval()
    assert tokenizer.frame_multiple == 320 and tokenizer.bits == 4
    full = EncodecTokenizer()  # the shipped sizes: 1024 codes, 6 codebooks
    assert full.bits == 10 and full.rvq.layers.__len__() == 6
    # 50 frames/s x 3 codebooks x 10 bits = 1500 bit/s; 6 codebooks: 3000 bit/s
    assert 16000 / full.frame_multiple * 3 * full.bits == 1500
    wav = torch.from_numpy(speech[: 320 * 40])[None, None]
    indices = tokenizer.use_quantizers(3).encode(wav)
    assert indices.shape == (1, 3, 40) and int(indices.max()) < 16
    assert tokenizer.grid_shape(320 * 40) == (3, 40)
    assert tokenizer.decode(tokenizer.embed(indices)).shape == (1, 320 * 40)
    with pytest.raises(ValueError, match="1-6"):
        tokenizer.use_quantizers(7)


def test_autoencoder_is_a_stride_8_continuous_representation(speech):
    autoencoder = LatentAutoencoder(SMALL_AUTOENCODER).eval()
    wav = torch.from_numpy(speech[:16001])[None]
    latent = autoencoder(wav)
    assert latent.shape == (1, 4, 2001)  # padded to a multiple of 8: 2000 frames per second
    assert autoencoder.decode(latent).shape == (1, 8 * 2001)
    autoencoder.track_statistics(latent * 3 + 1)
    assert torch.allclose(autoencoder.denormalize(autoencoder.normalize(latent)), latent, atol=1e-5)


def test_token_upsampler_scales_frames_and_reaches_the_output_rate():
    embeddings = torch.randn(2, 8, 10) * torch.linspace(0.01, 100, 10)
    scaled = scale_frames(embeddings)
    assert torch.allclose(scaled.abs().amax(dim=1), torch.ones(2, 10))
    latent = TokenUpsampler(TokenUpsamplerConfig(in_dim=8, out_dim=4, channels=16))
    assert latent(embeddings).shape == (2, 4, 400)  # x40: 50 Hz -> 2 kHz
    mel = TokenUpsampler(TokenUpsamplerConfig(in_dim=8, out_dim=80, channels=16, rates=(), output_hop=256,
                                              centered=True))
    assert mel(embeddings).shape == (2, 80, 1 + 3200 // 256)  # the centred-STFT frames of 3200 samples


def test_condition_scaling_where_the_paper_puts_it():
    """LaDiffCodec scales each upsampled frame of the condition to [-1, 1]; the shipped checkpoints scale
    each token frame before upsampling; a dequantized mel is not scaled (its level is information)."""
    embeddings = torch.randn(2, 8, 10) * torch.linspace(0.01, 100, 10)
    config = dict(in_dim=8, out_dim=4, channels=16)
    paper = TokenUpsampler(TokenUpsamplerConfig(**config, condition_scaling="upsampled_frames"))
    assert torch.allclose(paper(embeddings).abs().amax(dim=1), torch.ones(2, 400), atol=1e-5)
    shipped = TokenUpsampler(TokenUpsamplerConfig(**config))
    assert shipped.config.condition_scaling == "token_frames"
    assert torch.allclose(shipped(embeddings), shipped(embeddings * 7), atol=1e-5)  # input scale removed
    assert not torch.allclose(shipped(embeddings).abs().amax(dim=1), torch.ones(2, 400))  # output unbounded
    unscaled = TokenUpsampler(TokenUpsamplerConfig(**config, condition_scaling="none"))
    assert not torch.allclose(unscaled(embeddings), unscaled(embeddings * 7))
    with pytest.raises(ValueError, match="condition_scaling"):
        TokenUpsamplerConfig(condition_scaling="global")


def test_upsampling_rates_factor_any_hop_ratio():
    assert upsampling_rates(40) == (5, 4, 2)  # tokens -> the stride-8 latent
    assert upsampling_rates(320) == (5, 4, 4, 4)  # tokens -> a stride-1 latent (Table 1's [1])
    assert upsampling_rates(10) == (5, 2) and upsampling_rates(16) == (4, 4) and upsampling_rates(1) == ()
    with pytest.raises(ValueError, match="7"):
        upsampling_rates(7)


def test_unet1d_keeps_shapes_and_stacks_the_condition():
    backbone = UNet1d(UNet1dConfig(in_channels=4, cond_channels=4, channels=(8, 16, 16), time_dim=8, heads=2))
    assert backbone.frame_multiple == 4
    x, cond = torch.randn(2, 4, 64), torch.randn(2, 4, 64)
    assert backbone(x, torch.tensor([0, 999]), cond).shape == x.shape
    assert backbone.stem.in_channels == 8  # noisy latent and condition stacked on the channel axis


def test_midway_infilling_counts_and_respaces():
    """Algorithm 1 calls the denoiser once per step on both branches (2 tau network evaluations); fewer
    steps than tau are respaced. (Its arithmetic: tests/test_midway_infilling.py.)"""
    estimate = torch.randn(1, 3, 16, generator=torch.Generator().manual_seed(0))
    backbone = CountingBackbone()

    def run(sampler, steps, seed=0):
        backbone.calls = 0
        out = reverse_diffusion(backbone, sampler, estimate, estimate.shape, steps,
                                torch.Generator().manual_seed(seed), estimate)
        return out, backbone.calls

    midway = MidwayInfillingSampler(tau=100, gamma=0.3, prediction_type="v_prediction")
    first, calls = run(midway, 100)
    assert calls == 100 and first.shape == estimate.shape  # one call of twice the batch per step
    assert midway.timestep_list[0] == 99 and midway.timestep_list[-1] == 0
    _, ddpm_calls = run(DDPMSampler(prediction_type="v_prediction"), 1000)
    assert ddpm_calls == 1000
    assert run(MidwayInfillingSampler(tau=50, gamma=0.0), 5)[1] == 5


def test_midway_pulls_towards_the_infilling_chain():
    """The larger gamma, the closer a midway sample stays to the infilling chain (gamma = 1), with the same
    noise draws (an untrained denoiser)."""
    estimate = torch.randn(1, 3, 64, generator=torch.Generator().manual_seed(0))

    def sample(gamma):
        return reverse_diffusion(CountingBackbone(), MidwayInfillingSampler(tau=200, gamma=gamma), estimate,
                                 estimate.shape, 20, torch.Generator().manual_seed(0), estimate)

    infilling = sample(1.0)
    distances = [float((sample(gamma) - infilling).abs().mean()) for gamma in (0.0, 0.3, 0.6)]
    assert distances[0] > distances[1] > distances[2] > 0


def test_latent_codec_from_parts_round_trips_real_speech(speech, tmp_path):
    """A waveform-tokenizer codec: bytes in, same-length waveform out, seeded, denoiser calls counted;
    and the parts survive the fp16 checkpoint format."""
    tokenizer = EncodecTokenizer(SMALL_TOKENIZER).use_quantizers(3)
    autoencoder = LatentAutoencoder(SMALL_AUTOENCODER)
    upsampler = TokenUpsampler(TokenUpsamplerConfig(in_dim=8, out_dim=4, channels=16))
    backbone = UNet1d(UNet1dConfig(in_channels=4, cond_channels=4, channels=(8, 16), time_dim=8, heads=2))
    save_modules(tmp_path / "parts.safetensors", {"tokenizer": tokenizer, "autoencoder": autoencoder,
                                                  "conditioner": upsampler, "backbone": backbone}, {"recipe": "test"})
    parts = load_modules(tmp_path / "parts.safetensors")
    assert isinstance(parts["backbone"], UNet1d) and parts["tokenizer"].config == SMALL_TOKENIZER
    codec = DiffusionCodec(autoencoder, TokenQuantizer(tokenizer, upsampler), DecoderVocoder(autoencoder),
                           backbone=backbone, sampler=MidwayInfillingSampler(tau=20), source=Waveform()).eval()
    wav = torch.from_numpy(speech[:12345])
    payload = codec.to_bytes(codec.encode(wav))
    assert len(payload) == -(-(-(-12345 // 320) * 3 * 4) // 8)  # 39 frames x 3 codebooks x 4 bits
    codes = codec.from_bytes(payload, 12345)
    outputs = [codec.decode(codes, 12345, 20, torch.Generator().manual_seed(seed)) for seed in (0, 0, 1)]
    assert outputs[0].shape == (12345,) and torch.equal(outputs[0], outputs[1])
    assert not torch.equal(outputs[0], outputs[2])
    assert codec.denoised_items == 3 * 20 * 2 and codec.last_denoiser_calls == 40  # 2 branches x tau steps
    assert np.isfinite(outputs[0].numpy()).all()

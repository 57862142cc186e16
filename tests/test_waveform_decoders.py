"""The waveform-output design points (mel2wave, latent2wave): the polyphase waveform domain, the recipes on
tiny configurations, the codecs built from their exports on real speech, per-bit-rate models."""

import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from codecbench.codecs import load_codec  # noqa: E402
from codecbench.codecs.diffusion.checkpoints import CHECKPOINT_DIR, load_modules, read_metadata  # noqa: E402
from codecbench.codecs.diffusion.training import train  # noqa: E402
from codecbench.codecs.diffusion.waveform import PolyphaseSynthesis, PolyphaseWaveform  # noqa: E402
from tiny_training import first_and_last, tiny  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_one_thread")
TRANSMITTER = {"mel2wave": "mel-rvq", "latent2wave": "encodec16"}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("waveforms"))


@pytest.fixture(scope="module")
def decoders(torch_one_thread, tmp_path_factory, librispeech_root, cache):
    """Tiny mel2wave and latent2wave decoders trained on the shipped transmitters, each in a weights
    directory beside a copy of its transmitter's checkpoint; and their training logs."""
    made = {}
    for recipe, transmitter in TRANSMITTER.items():
        out = tmp_path_factory.mktemp(recipe)
        log = train(tiny(recipe, out, librispeech_root, cache, 30, segment_frames=20, log_every=10), progress=False)
        shutil.copy(CHECKPOINT_DIR / f"{transmitter}.safetensors", out)
        made[recipe] = (out, log)
    return made


def test_polyphase_frames_are_a_lossless_reshape(speech):
    wav = torch.from_numpy(speech[:16 * 300 + 5])[None]
    domain = PolyphaseWaveform()
    frames = domain(wav)
    assert frames.shape == (1, 16, 301)  # zero-padded to whole 1 ms frames
    assert torch.equal(frames[0, :, 10], wav[0, 160:176])  # frame n holds samples 16n ... 16n + 15
    restored = PolyphaseSynthesis()(domain.denormalize(domain.normalize(frames)))
    assert torch.allclose(restored[:, : wav.shape[-1]], wav, atol=1e-7)
    assert 0.2 < float(domain.normalize(frames).std()) < 5  # speech near unit scale in the diffusion domain


@pytest.mark.parametrize("recipe", sorted(TRANSMITTER))
def test_recipes_learn_and_export_a_decoder(recipe, decoders):
    out, log = decoders[recipe]
    first, last = first_and_last(log, "diffusion_mse")
    assert last < first
    validation = log["validation"][-1]
    assert any(key.startswith("sampled_mel_l1@") for key in validation)
    path = out / f"{recipe}.safetensors"
    assert set(load_modules(path)) == {"conditioner", "backbone"}
    training = read_metadata(path)["training"]
    assert training["diffusion"]["prediction_type"] == "epsilon" and training["waveform"]["phases"] == 16
    assert training["frozen"][next(iter(training["frozen"]))]["sha256"]
    assert "Command:" in (out / f"{recipe}.md").read_text()


@pytest.mark.parametrize("recipe,point", [("mel2wave", 3), ("latent2wave", 1.5)])
def test_codecs_round_trip_real_speech(recipe, point, decoders, speech):
    out, _ = decoders[recipe]
    codec = load_codec(f"{recipe}@{point}:weights={out},steps=3")
    encoded = codec.encode(speech)
    kbps = 8 * encoded.payload_bytes / (len(speech) / 16000) / 1000
    assert abs(kbps - point) / point < 0.05
    codec.reseed(4)
    first = codec.decode(encoded)
    assert first.shape == speech.shape and np.isfinite(first).all()
    assert codec.decode_info() == {"denoiser_calls": 3.0}
    codec.reseed(4)
    assert np.array_equal(first, codec.decode(encoded))
    assert set(codec.provenance()["checkpoints"]) == {TRANSMITTER[recipe], recipe}
    ddim = load_codec(f"{recipe}@{point}:weights={out},sampler=ddim,steps=2")
    assert ddim.decode(encoded).shape == speech.shape


def test_options_refuse_samplers_that_need_an_estimate(decoders):
    out, _ = decoders["mel2wave"]
    with pytest.raises(ValueError, match="select one of"):
        load_codec(f"mel2wave@1.5:weights={out},sampler=midway")
    with pytest.raises(ValueError, match="1-1000"):
        load_codec(f"mel2wave@1.5:weights={out},steps=1001")


def test_a_per_bit_rate_model_serves_its_own_operating_point(tmp_path, librispeech_root, cache):
    train(tiny("latent2wave", tmp_path, librispeech_root, cache, 2, segment_frames=20,
               recipe_args={"codebooks": "3"}), progress=False)
    assert read_metadata(tmp_path / "latent2wave.safetensors")["training"]["codebooks"] == [3]
    shutil.copy(CHECKPOINT_DIR / "encodec16.safetensors", tmp_path)
    assert load_codec(f"latent2wave@1.5:weights={tmp_path}").kbps == 1.5
    with pytest.raises(ValueError, match="trained for \\[3\\] codebooks"):
        load_codec(f"latent2wave@3:weights={tmp_path}")
    with pytest.raises(ValueError, match="--codebooks"):
        train(tiny("latent2wave", tmp_path / "bad", librispeech_root, cache, 2, segment_frames=20,
                   recipe_args={"codebooks": "4"}), progress=False)


@pytest.mark.parametrize("name", sorted(TRANSMITTER))
def test_shipped_decoders_are_small_listed_and_decode_real_speech(name, speech):
    from codecbench.codecs import codec_availability

    path = CHECKPOINT_DIR / f"{name}.safetensors"
    assert path.stat().st_size <= 8_000_000
    training = read_metadata(path)["training"]
    assert training["recipe"] == name and training["steps"] > 0 and training["codebooks"]
    card = path.with_suffix(".md").read_text()
    assert "Command:" in card and f"codecbench train {name}" in card
    assert codec_availability(name).available
    clip = speech[: 2 * 16000]
    codec = load_codec(f"{name}@3:steps=2")
    decoded = codec.decode(codec.encode(clip))
    assert decoded.shape == clip.shape and np.isfinite(decoded).all() and np.abs(decoded).max() > 1e-3

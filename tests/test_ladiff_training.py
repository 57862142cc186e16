"""The LaDiffCodec / design-space recipes on tiny configurations, chained as they are in real training:
encodec16 and latent-ae first, then ladiffcodec and latent2mel on their frozen exports."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from codecbench.codecs.diffusion.checkpoints import load_modules, read_metadata  # noqa: E402
from codecbench.codecs.diffusion.training import RECIPES, train  # noqa: E402
from codecbench.commands.train import RECIPE_NAMES  # noqa: E402
from tiny_training import first_and_last  # noqa: E402
from tiny_training import tiny as tiny_run  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("waveforms"))


def tiny(*args, **extra):
    """`tiny_training.tiny` with segments of 20 mel frames (token frames are 5 mel frames long)."""
    return tiny_run(*args, **{"segment_frames": 20, "log_every": 10, **extra})


@pytest.fixture(scope="module")
def frozen_parts(torch_one_thread, tmp_path_factory, librispeech_root, cache):
    """The tiny tokenizer and autoencoder the diffusion recipes build on (trained here: losses go down)."""
    out = tmp_path_factory.mktemp("frozen")
    logs = {name: train(tiny(name, out / name, librispeech_root, cache, 30), progress=False)
            for name in ("encodec16", "latent-ae")}
    return out, logs


def test_every_recipe_is_on_the_command_line():
    assert set(RECIPE_NAMES) == set(RECIPES)


def test_tokenizer_and_autoencoder_losses_go_down(frozen_parts):
    out, logs = frozen_parts
    for name, log in logs.items():
        first, last = first_and_last(log, "loss")
        assert last < first, name
    assert {"mel_l1@3", "mel_l1@6"} <= set(logs["encodec16"]["validation"][-1])
    tokenizer = load_modules(out / "encodec16" / "encodec16.safetensors")["tokenizer"]
    assert tokenizer.frame_multiple == 320 and tokenizer.config.num_quantizers == 6
    autoencoder = load_modules(out / "latent-ae" / "latent-ae.safetensors")["autoencoder"]
    assert not torch.allclose(autoencoder.latent_var, torch.ones_like(autoencoder.latent_var))  # tracked


@pytest.mark.parametrize("recipe", ["ladiffcodec", "latent2mel"])
def test_token_diffusion_recipes_learn_on_frozen_parts(recipe, tmp_path, frozen_parts, librispeech_root, cache):
    parts, _ = frozen_parts
    frozen = {"tokenizer": str(parts / "encodec16" / "encodec16.safetensors"),
              "autoencoder": str(parts / "latent-ae" / "latent-ae.safetensors")}
    log = train(tiny(recipe, tmp_path, librispeech_root, cache, 40, recipe_args=frozen), progress=False)
    first, last = first_and_last(log, "loss")
    assert last < first
    validation = log["validation"][-1]
    assert {"diffusion_mse@3", "diffusion_mse@6"} <= set(validation)
    assert any(key.startswith("midway_") for key in validation)
    path = tmp_path / f"{recipe}.safetensors"
    assert set(load_modules(path)) == {"conditioner", "backbone"}
    training = read_metadata(path)["training"]
    assert training["diffusion"]["num_train_timesteps"] == 1000 and training["diffusion"]["beta_end"] == 0.02
    assert training["frozen"]["tokenizer"]["sha256"]
    assert "Command:" in (tmp_path / f"{recipe}.md").read_text()


def test_paper_options_condition_scaling_and_autoencoder_strides(tmp_path, frozen_parts, librispeech_root, cache):
    """LaDiffCodec's condition scaled per upsampled frame (trained by the diffusion loss alone) and its
    epsilon objective, on an autoencoder with the strides [4, 8] of the paper's Table 1 ablation."""
    parts, _ = frozen_parts
    train(tiny("latent-ae", tmp_path / "ae", librispeech_root, cache, 2, recipe_args={"strides": "4,8"}),
          progress=False)
    autoencoder = load_modules(tmp_path / "ae" / "latent-ae.safetensors")["autoencoder"]
    assert autoencoder.hop_length == 32 and autoencoder.config.ratios == (4, 8)
    args = {"tokenizer": str(parts / "encodec16" / "encodec16.safetensors"),
            "autoencoder": str(tmp_path / "ae" / "latent-ae.safetensors"), "condition_scaling": "upsampled_frames",
            "prediction_type": "epsilon"}
    log = train(tiny("ladiffcodec", tmp_path / "diff", librispeech_root, cache, 2, recipe_args=args), progress=False)
    assert "latent_l1" not in log["history"][-1] and "latent_l1@3" not in log["validation"][-1]
    assert "midway_latent_l1@3" in log["validation"][-1]
    upsampler = load_modules(tmp_path / "diff" / "ladiffcodec.safetensors")["conditioner"]
    assert upsampler.config.rates == (5, 2) and upsampler.config.condition_scaling == "upsampled_frames"
    training = read_metadata(tmp_path / "diff" / "ladiffcodec.safetensors")["training"]
    assert training["diffusion"]["prediction_type"] == "epsilon"  # the paper's objective
    with pytest.raises(ValueError, match="divides"):
        train(tiny("latent-ae", tmp_path / "bad", librispeech_root, cache, 2, recipe_args={"strides": "3"}),
              progress=False)


def test_token_recipes_refuse_segments_that_split_token_frames(tmp_path, librispeech_root, cache):
    with pytest.raises(ValueError, match="multiple of 5"):
        train(tiny("encodec16", tmp_path, librispeech_root, cache, 2, segment_frames=16), progress=False)

"""Training recipes on tiny configurations: losses go down, runs resume exactly, exports load."""

import json

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("torch_one_thread")

from codecbench.cli import main  # noqa: E402
from codecbench.codecs.diffusion.checkpoints import load_modules, read_metadata  # noqa: E402
from codecbench.codecs.diffusion.training import train  # noqa: E402
from tiny_training import first_and_last, tiny  # noqa: E402


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("waveforms"))


def test_mel2mel_quantizer_then_diffusion_losses_go_down(tmp_path, librispeech_root, cache):
    log = train(tiny("mel2mel", tmp_path, librispeech_root, cache, 70, log_every=10, recipe_args={"quantizer_steps": 30}),
                progress=False)
    first, last = first_and_last(log, "quantizer_l1")
    assert last < first
    first, last = first_and_last(log, "diffusion_mse")
    assert last < first
    validation = log["validation"][-1]
    assert {"quantized_l1@2", "quantized_l1@4", "diffusion_mse@2", "sampled_l1@4"} <= set(validation)
    assert log["data"]["val_speakers"] and log["data"]["train_utterances"] == 12  # 14 minus the held-back speaker's 2
    names = {p.name for p in tmp_path.glob("*.safetensors")}
    assert names == {"mel-rvq.safetensors", "mel2mel.safetensors"}
    assert "Command:" in (tmp_path / "mel2mel.md").read_text()
    assert load_modules(tmp_path / "mel-rvq.safetensors")["quantizer"].bits == 4  # tiny: 16 codes


def test_mel2mel_diffusion_can_start_from_a_trained_quantizer(tmp_path, librispeech_root, cache):
    quantizer = _tiny_quantizer(tmp_path, librispeech_root, cache)
    train(tiny("mel2mel", tmp_path / "d", librispeech_root, cache, 3,
               recipe_args={"quantizer_steps": 0, "quantizer": str(quantizer)}), progress=False)
    before = load_modules(quantizer)["quantizer"].state_dict()
    after = load_modules(tmp_path / "d" / "mel-rvq.safetensors")["quantizer"].state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    meta = read_metadata(tmp_path / "d" / "mel2mel.safetensors")["training"]
    assert meta["residual_scale"] > 0 and meta["diffusion"]["prediction_type"] == "v_prediction"


def test_melvq_ddpm_joint_loss_goes_down(tmp_path, librispeech_root, cache):
    log = train(tiny("melvq-ddpm", tmp_path, librispeech_root, cache, 30), progress=False)
    first, last = first_and_last(log, "loss")
    assert last < first
    assert "sampled_l1" in log["validation"][-1]
    meta = read_metadata(tmp_path / "melvq-ddpm.safetensors")
    assert set(meta["modules"]) == {"quantizer", "backbone"} and meta["training"]["steps"] == 30


def test_vocoder_reconstruction_then_adversarial(tmp_path, librispeech_root, cache):
    log = train(tiny("vocoder", tmp_path, librispeech_root, cache, 30, recipe_args={"adversarial_start": 20}),
                progress=False)
    first, last = first_and_last(log, "mel_l1")
    assert last < first
    assert "d_loss" not in log["history"][0] and "d_loss" in log["history"][-1]
    quantizer = str(_tiny_quantizer(tmp_path, librispeech_root, cache))
    gan = train(tiny("gan-mel", tmp_path / "gan", librispeech_root, cache, 5, log_every=1,
                     recipe_args={"quantizer": quantizer, "init": str(tmp_path / "hifigan.safetensors")}),
                progress=False)
    assert {"mel_l1@2", "mel_l1@4"} <= set(gan["validation"][-1])
    # Foti & Brendel's baseline is trained from scratch on the same data: the same recipe without `init`
    scratch = train(tiny("gan-mel", tmp_path / "scratch", librispeech_root, cache, 2, log_every=1,
                         recipe_args={"quantizer": quantizer}), progress=False)
    assert {"mel_l1@2", "mel_l1@4"} <= set(scratch["validation"][-1])
    assert "init" not in scratch["options"]["recipe_args"] and (tmp_path / "scratch" / "gan-mel.safetensors").is_file()


def _tiny_quantizer(tmp_path, librispeech_root, cache):
    out = tmp_path / "quantizer"
    train(tiny("mel2mel", out, librispeech_root, cache, 4, recipe_args={"quantizer_steps": 4}), progress=False)
    return out / "mel-rvq.safetensors"


def test_resumed_run_equals_an_uninterrupted_one(tmp_path, librispeech_root, cache):
    straight = train(tiny("melvq-ddpm", tmp_path / "a", librispeech_root, cache, 8, checkpoint_every=4), progress=False)
    interrupted = train(tiny("melvq-ddpm", tmp_path / "b", librispeech_root, cache, 8, checkpoint_every=4, until=4),
                        progress=False)
    assert interrupted["step"] == 4 and "final" not in interrupted
    with pytest.raises(FileExistsError, match="--resume"):
        train(tiny("melvq-ddpm", tmp_path / "b", librispeech_root, cache, 8), progress=False)
    resumed = train(tiny("melvq-ddpm", tmp_path / "b", librispeech_root, cache, 8, checkpoint_every=4, resume=True),
                    progress=False)
    assert resumed["invocations"][-1]["start_step"] == 4 and resumed["step"] == 8
    assert "0 → 4, 4 → 8." in (tmp_path / "b" / "melvq-ddpm.md").read_text()  # the card lists the final span
    a = load_modules(tmp_path / "a" / "melvq-ddpm.safetensors")["backbone"].state_dict()
    b = load_modules(tmp_path / "b" / "melvq-ddpm.safetensors")["backbone"].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert straight["history"][-1]["loss"] == pytest.approx(resumed["history"][-1]["loss"])


def test_train_command(tmp_path, librispeech_root, capsys):
    code = main(["train", "mel2mel", "--root", str(librispeech_root), "--split", "sample", "--out", str(tmp_path),
                 "--steps", "4", "--quantizer-steps", "2", "--preset", "tiny", "--batch-size", "2",
                 "--segment-frames", "16", "--val-speakers", "1", "--cache", str(tmp_path / "cache"),
                 "--threads", "1", "--no-progress"])
    assert code == 0
    assert "mel2mel.safetensors" in capsys.readouterr().out
    log = json.loads((tmp_path / "train.json").read_text())
    assert log["options"]["recipe_args"] == {"quantizer_steps": 2} and log["final"]["step"] == 4
    assert log["versions"]["torch"] and log["hardware"]["torch_threads"] == 1

"""The shipped LaDiffCodec / design-space checkpoints: real speech round trips, measured bit rates, seeded
decoding, denoiser-call counts, sampler options and the runner's seed spread."""

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from codecbench.codecs import load_codec  # noqa: E402
from codecbench.codecs.diffusion.checkpoints import CHECKPOINT_DIR, read_metadata  # noqa: E402
from codecbench.runner import run_benchmark  # noqa: E402

SHIPPED = ("encodec16", "latent-ae", "ladiffcodec", "latent2mel")

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def kbps(encoded, num_samples):
    return 8 * encoded.payload_bytes / (num_samples / 16000) / 1000


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_checkpoints_are_small_and_carry_their_model_card(name):
    path = CHECKPOINT_DIR / f"{name}.safetensors"
    assert path.stat().st_size <= 8_000_000
    training = read_metadata(path)["training"]
    assert training["recipe"] == name and training["steps"] > 0
    card = path.with_suffix(".md").read_text()
    assert "Command:" in card and "codecbench train" in card


@pytest.mark.parametrize("point,codebooks", [(1.5, 3), (3, 6)])
def test_encodec16_measures_its_operating_point(speech, point, codebooks):
    codec = load_codec(f"encodec16@{point}")
    encoded = codec.encode(speech)
    assert encoded.payload_bytes == -(-(-(-len(speech) // 320) * codebooks * 10) // 8)
    assert abs(kbps(encoded, len(speech)) - point) / point < 0.05
    decoded = codec.decode(encoded)
    assert decoded.shape == speech.shape and np.array_equal(decoded, codec.decode(encoded))


def test_ladiffcodec_midway_round_trip_is_seeded_and_counts_calls(speech):
    codec = load_codec("ladiffcodec@1.5:tau=10")  # the default gamma 0.3; 10 steps keep the test fast
    encoded = codec.encode(speech)
    assert abs(kbps(encoded, len(speech)) - 1.5) / 1.5 < 0.05
    codec.reseed(7)
    first = codec.decode(encoded)
    assert codec.decode_info() == {"denoiser_calls": 20.0}  # Algorithm 1: both branches, 2 tau evaluations
    codec.reseed(7)
    assert np.array_equal(first, codec.decode(encoded))
    codec.reseed(8)
    assert not np.array_equal(first, codec.decode(encoded))
    assert first.shape == speech.shape and np.isfinite(first).all() and np.abs(first).max() > 1e-3
    assert codec.provenance()["midway"] == {"tau": 10, "gamma": 0.3}


def test_ladiffcodec_sampler_options():
    assert load_codec("ladiffcodec").num_steps == 100  # midway, tau 100: 100 steps of 2 network evaluations
    assert load_codec("ladiffcodec:sampler=infill-forward,tau=40").num_steps == 40
    assert load_codec("ladiffcodec:sampler=ddpm").num_steps == 1000
    assert load_codec("ladiffcodec:sampler=ddim").num_steps == 50
    for bad, message in (("sampler=euler", "select one of"), ("sampler=ddim,tau=5", "midway"),
                         ("tau=10,steps=20", "1-10"), ("gamma=2", "gamma")):
        with pytest.raises(ValueError, match=message):
            load_codec(f"ladiffcodec@1.5:{bad}")


def test_latent2mel_round_trip_through_the_mel_vocoder(speech):
    codec = load_codec("latent2mel@3:sampler=ddim,steps=2")
    encoded = codec.encode(speech)
    assert abs(kbps(encoded, len(speech)) - 3) / 3 < 0.05
    codec.reseed(3)
    first = codec.decode(encoded)
    assert codec.decode_info() == {"denoiser_calls": 2.0}
    codec.reseed(3)
    assert np.array_equal(first, codec.decode(encoded))
    assert first.shape == speech.shape and np.isfinite(first).all() and np.abs(first).max() > 1e-3
    assert set(codec.provenance()["checkpoints"]) == {"encodec16", "latent2mel", "hifigan"}


def test_runner_records_calls_and_the_seed_spread(tmp_path, short_selection):
    from codecbench.datasets import Selection

    one = Selection(short_selection.dataset, short_selection.root, short_selection.split,
                    short_selection.utterances[:1])
    result = run_benchmark(one, ["ladiffcodec@3:sampler=ddim,seeds=2,steps=3"], ["stoi"], tmp_path, progress=False)
    row = pd.read_csv(tmp_path / "utterances.csv").iloc[0]
    assert row["denoiser_calls"] == 3 and row["n_seeds"] == 2 and row["stoi_seed_std"] >= 0
    columns = list(result.summary.columns)
    assert columns.index("stoi_seed_std_mean") == columns.index("stoi_ci95_high") + 1
    assert "seed sd" in result.summary_text()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU here")
def test_ladiffcodec_decodes_on_gpu(speech):
    codec = load_codec("ladiffcodec@1.5:tau=5").to("cuda")
    assert codec.decode(codec.encode(speech)).shape == speech.shape


def test_graph_capture_refuses_midway_infilling():
    with pytest.raises(ValueError, match="midway"):
        load_codec("ladiffcodec@1.5:compile=graph")

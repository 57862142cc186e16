"""EnCodec and DAC adapters: PLUMBING tests on the real transformers architectures with RANDOM weights
(the published checkpoints cannot be downloaded here). They check shapes, lengths, bit accounting,
operating points, batching and weights lookup, never quality; scores of random weights mean nothing."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import DacModel, EncodecModel

from codecbench.audio import resample
from codecbench.codecs import load_codec, parse_spec
from codecbench.codecs.bitpack import packed_size, unpack_indices
from codecbench.codecs.dac import DacCodec, lookahead_samples
from codecbench.codecs.dac import published_config as dac_config
from codecbench.codecs.encodec import EncodecCodec
from codecbench.codecs.encodec import published_config as encodec_config
from codecbench.resources import file_digest


def seed_codebooks(model, speech24):
    """EnCodec's codebooks are buffers (zeros until k-means on the first training batch): draw each layer's
    entries from the encoder's residual frames of real speech, so random-weight codes are diverse."""
    with torch.inference_mode():
        residual = model.encoder(torch.from_numpy(speech24)[None, None])
        for layer in model.quantizer.layers:
            frames = residual[0].T
            picks = torch.randint(len(frames), (layer.codebook.embed.shape[0],))
            layer.codebook.embed.copy_(frames[picks] + 0.5 * frames.std() * torch.randn_like(frames[picks]))
            residual = residual - layer.decode(layer.encode(residual))


@pytest.fixture(scope="module")
def speech24(speech):
    """1.5 s of real speech at 24 kHz, not a whole number of 320-sample frames."""
    return resample(speech, 16000, 24000)[:36007]


@pytest.fixture(scope="module")
def encodec_model(speech24):
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = EncodecModel(encodec_config()).eval()
        seed_codebooks(model, speech24)
    return model


@pytest.fixture(scope="module")
def dac_model():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return DacModel(dac_config()).eval()


@pytest.mark.parametrize("kbps, codebooks", [(1.5, 2), (3, 4), (6, 8), (12, 16), (24, 32)])
def test_plumbing_encodec_operating_points_and_bits(encodec_model, speech24, kbps, codebooks):
    codec = EncodecCodec(kbps, model=encodec_model)
    encoded = codec.encode(speech24)
    decoded = codec.decode(encoded)
    frames = -(-len(speech24) // 320)
    assert codec.num_codebooks == codebooks and len(decoded) == len(speech24) and decoded.dtype == np.float32
    assert encoded.payload_bytes == packed_size(frames, codebooks, 10)
    measured = 8 * encoded.payload_bytes / (len(speech24) / 24000) / 1000
    assert measured == pytest.approx(kbps, rel=330 / len(speech24))  # one frame of padding and one byte
    assert 0 < encoded.columns["index_entropy_kbps"] <= measured


def test_plumbing_encodec_bitstream_is_the_models_codes(encodec_model, speech24):
    codec = EncodecCodec(6, model=encodec_model)
    encoded = codec.encode(speech24)
    x = torch.from_numpy(np.pad(speech24, (0, -len(speech24) % 320)))[None, None]
    with torch.inference_mode():
        codes = encodec_model.encode(x, bandwidth=6.0).audio_codes
        direct = encodec_model.decode(codes, [None]).audio_values[0, 0, : len(speech24)].numpy()
    frames = codes.shape[-1]
    np.testing.assert_array_equal(unpack_indices(encoded.packets[0], 10, frames, 8), codes[0, 0].numpy().T)
    assert len(np.unique(codes)) > 100  # the packing is exercised on diverse 10-bit indices
    np.testing.assert_allclose(codec.decode(encoded), direct, atol=1e-6)


@pytest.mark.parametrize("kbps", [0.5, 6])
def test_plumbing_dac_operating_points_and_bits(dac_model, speech, kbps):
    codec = DacCodec(kbps, model=dac_model)
    clip = speech[:8150]  # not a whole number of frames
    encoded = codec.encode(clip)
    decoded = codec.decode(encoded)
    frames = -(-len(clip) // 320)
    assert codec.num_codebooks == int(2 * kbps) and len(decoded) == len(clip)
    assert encoded.payload_bytes == packed_size(frames, codec.num_codebooks, 10)
    measured = 8 * encoded.payload_bytes / (len(clip) / 16000) / 1000
    assert measured == pytest.approx(kbps, rel=330 / len(clip))
    assert 0 < encoded.columns["index_entropy_kbps"] <= measured
    indices = unpack_indices(encoded.packets[0], 10, frames, codec.num_codebooks)
    x = torch.from_numpy(np.pad(clip, (0, frames * 320 - len(clip))))[None, None]
    with torch.inference_mode():
        codes = dac_model.encode(x, n_quantizers=codec.num_codebooks).audio_codes[0].numpy()
    np.testing.assert_array_equal(indices, codes.T)


def test_plumbing_unsupported_points_list_the_supported_ones(encodec_model, dac_model):
    with pytest.raises(ValueError, match=r"1\.5, 3\.0, 6\.0, 12\.0, 24\.0"):
        EncodecCodec(2, model=encodec_model)
    with pytest.raises(ValueError, match="select one of"):
        DacCodec(6.5, model=dac_model)


def test_plumbing_truncated_bitstream_is_a_clear_error(dac_model, speech):
    codec = DacCodec(3, model=dac_model)
    encoded = codec.encode(speech[:8000])
    encoded.packets = [encoded.packets[0][:-2]]
    with pytest.raises(ValueError, match="truncated"):
        codec.decode(encoded)


def assert_batches_match_single(codec, signals):
    """Batched coding gives each signal what coding it alone gives: the same indices (99 %: float rounding
    of batched kernels may flip a near-tie) and the same audio from the same bits."""
    single = [codec.encode(s) for s in signals]
    for batched, alone, signal in zip(codec.encode_batch(signals), single, signals):
        frames = -(-len(signal) // codec.hop_length)
        a, b = (unpack_indices(e.packets[0], 10, frames, codec.num_codebooks) for e in (batched, alone))
        assert (a == b).mean() > 0.99
    for decoded, encoded, signal in zip(codec.decode_batch(single), single, signals):
        assert len(decoded) == len(signal)
        np.testing.assert_allclose(decoded, codec.decode(encoded), atol=1e-4)


def test_plumbing_encodec_batches_any_lengths(encodec_model, speech24):
    """Causal model: zero padding after a signal leaves its codes alone, so one padded batch gives each
    utterance its own codes (up to float rounding of batched kernels, which may flip a near-tie index)."""
    codec = EncodecCodec(3, model=encodec_model)
    signals = [speech24[:12000], speech24[5000:25000], speech24[:8007]]  # 38, 63, 26 frames
    assert codec.batches([38, 63, 26]) == [[0, 1, 2]]
    padded = codec.encode(np.pad(signals[0], (0, 8000)))
    padded_codes = unpack_indices(padded.packets[0], 10, 63, 4)[:38]
    assert (padded_codes == unpack_indices(codec.encode(signals[0]).packets[0], 10, 38, 4)).mean() > 0.99
    assert_batches_match_single(codec, signals)


def test_plumbing_dac_batches_equal_frame_counts(dac_model, speech):
    """Non-causal model: only utterances with equal frame counts share a batch."""
    codec = DacCodec(6, model=dac_model)
    signals = [speech[:3200], speech[3000:6500], speech[:3150]]  # 10, 11, 10 frames
    assert codec.batches([10, 11, 10]) == [[0, 2], [1]]
    assert_batches_match_single(codec, signals)


def test_plumbing_dac_lookahead_bounds_the_receptive_field(dac_model, speech):
    """Changing the input after t0 leaves every output sample before t0 - lookahead untouched."""
    lookahead = lookahead_samples(dac_model)
    codec = DacCodec(6, model=dac_model)
    assert 5000 < lookahead < 7000 and codec.algorithmic_delay_ms == 1000 * (320 + lookahead) / 16000
    x = torch.from_numpy(speech[:9600].copy())[None, None]
    changed = x.clone()
    changed[..., 8000:] += 0.1
    with torch.inference_mode():
        y, y_changed = (dac_model.decoder(dac_model.encoder(v))[0, 0] for v in (x, changed))
    first_difference = int((y != y_changed).nonzero()[0])
    assert 8000 - lookahead <= first_difference < 8000


def test_plumbing_weights_from_a_local_directory(encodec_model, speech24, tmp_path, monkeypatch):
    """The real loading path (`from_pretrained` of a checkpoint directory), fed with the random model."""
    encodec_model.save_pretrained(tmp_path)
    codec = load_codec(f"encodec@6:weights={tmp_path}")
    assert codec.provenance()["sha256"]["model.safetensors"] == file_digest(tmp_path / "model.safetensors")
    clip = speech24[:12000]
    assert codec.encode(clip).packets == EncodecCodec(6, model=encodec_model).encode(clip).packets
    monkeypatch.setenv("CODECBENCH_ENCODEC_DIR", str(tmp_path))
    found = EncodecCodec.local_weights()
    assert (found.path, found.source) == (tmp_path, "environment")
    status = EncodecCodec.availability_for(parse_spec(f"encodec@6:weights={tmp_path / 'nothing'}"))
    assert not status.available and "config.json" in status.reason


def offline_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("CODECBENCH_ENCODEC_DIR", "CODECBENCH_DAC_DIR")}
    return {**env, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hf-empty")}


def test_without_weights_listed_unavailable_and_skipped_with_the_reason(tmp_path):
    env = offline_env(tmp_path)
    listing = subprocess.run([sys.executable, "-m", "codecbench.cli", "codecs"], env=env, capture_output=True,
                             text=True, check=True).stdout
    lines = {line.split()[0]: line for line in listing.splitlines() if line.strip()}
    for name in ("encodec", "dac"):
        assert " no " in lines[name] and "HF_HUB_OFFLINE" in lines[name]
    assert " yes " in lines["lyra"]
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "codecbench.cli", "run", "--limit", "1", "--codecs",
                           "encodec@6,dac@6,opus@6", "--metrics", "pesq_wb", "--workers", "1", "--no-progress",
                           "--out", str(out)], env=env, capture_output=True, text=True, check=True)
    assert "skipping encodec@6: unavailable: facebook/encodec_24khz weights: none in" in done.stderr
    assert "skipping dac@6: unavailable: descript/dac_16khz weights: none in" in done.stderr
    summary = pd.read_csv(out / "summary.csv", keep_default_na=False).set_index("spec")
    assert summary.loc["opus@6", "n"] == 1 and summary.loc["dac@6", "n"] == 0
    assert "HF_HUB_OFFLINE" in summary.loc["dac@6", "skipped"]
    assert "encodec@6" in json.loads((out / "run.json").read_text())["skipped"]

"""Lyra v2 with the published TFLite weights: quality on real speech, bit accounting, -1 padding of unused
quantizers, fresh streaming state, checksums, weights lookup, and the runner's extra column."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from pesq import pesq

from codecbench.alignment import align, estimate_delay
from codecbench.codecs import CodecUnavailable, load_codec
from codecbench import resources
from codecbench.codecs.lyra import FILES, SHA256, WEIGHTS, WEIGHTS_ENV, LyraCodec, find_weights
from codecbench.runner import run_benchmark
from codecbench.rows import LEADING_COLUMNS, TRAILING_COLUMNS


@pytest.fixture(scope="module")
def weights_dir():
    """The copy embedded in the package (package data), which every installation has."""
    assert not WEIGHTS.missing(WEIGHTS.embedded), "the embedded Lyra v2 weights are missing from the package"
    return WEIGHTS.embedded


def pesq_wb(reference, decoded):
    ref, deg = align(reference, decoded, estimate_delay(reference, decoded, 4000))
    return pesq(16000, ref, deg, "wb")


@pytest.mark.parametrize("spec, quantizers, packet_bytes, min_pesq_wb",
                         [("lyra@3.2", 16, 8, 1.5), ("lyra@6", 30, 15, 1.8), ("lyra@9.2", 46, 23, 2.1)])
def test_round_trip_quality_and_bitrate(speech, spec, quantizers, packet_bytes, min_pesq_wb):
    codec = load_codec(spec)
    encoded = codec.encode(speech)
    decoded = codec.decode(encoded)
    assert codec.num_quantizers == quantizers and len(decoded) == len(speech)
    assert len(encoded.packets) == -(-len(speech) // 320)
    assert {len(p) for p in encoded.packets} == {packet_bytes}
    kbps = 8 * encoded.payload_bytes / (len(speech) / 16000) / 1000
    assert kbps == pytest.approx(codec.kbps, rel=320 / len(speech))  # exact up to the last frame's padding
    assert 0 < encoded.columns["index_entropy_kbps"] < kbps
    assert estimate_delay(speech, decoded, 4000) in (-1, 0, 1)  # frame k out is frame k in
    assert pesq_wb(speech, decoded) >= min_pesq_wb


def test_unused_quantizers_reach_the_decoder_as_minus_one(speech):
    for spec in ("lyra@3.2", "lyra@6"):
        codec = load_codec(spec)
        encoded = codec.encode(speech[:16000])
        indices = codec.dequantizer_input(encoded.packets[10]).reshape(-1)
        assert len(indices) == 46
        assert (indices[codec.num_quantizers:] == -1).all()
        assert (indices[: codec.num_quantizers] >= 0).all()


def test_zeros_instead_of_minus_one_would_wreck_quality(speech):
    """Why the -1 matters: decoding the same indices with 0 for the unused quantizers scores far lower."""
    codec = load_codec("lyra@3.2")
    encoded = codec.encode(speech)
    dequantizer = codec.signature_runner("quantizer.tflite", "decode")
    decoder = codec.signature_runner("lyragan.tflite")
    zero_filled = []
    for packet in encoded.packets:
        indices = np.maximum(codec.dequantizer_input(packet), 0)
        zero_filled.append(decoder(input_audio=dequantizer(encoding_indices=indices)["output_0"])["output_0"][0])
    zero_filled = np.clip(np.concatenate(zero_filled)[: len(speech)], -1, 1)
    assert pesq_wb(speech, zero_filled) < pesq_wb(speech, codec.decode(encoded)) - 0.3


def test_streaming_state_does_not_leak_between_utterances(speech):
    codec = load_codec("lyra@6")
    first = codec.encode(speech)
    codec.encode(speech[::-1].copy())  # another utterance through the same codec object
    again = codec.encode(speech)
    assert again.packets == first.packets
    np.testing.assert_array_equal(codec.decode(again), codec.decode(first))


def test_truncated_bitstream_is_a_clear_error(speech):
    codec = load_codec("lyra@3.2")
    encoded = codec.encode(speech[:8000])
    encoded.packets = encoded.packets[:-1]
    with pytest.raises(ValueError, match="packets"):
        codec.decode(encoded)
    encoded.packets = [p[:5] for p in codec.encode(speech[:8000]).packets]
    with pytest.raises(ValueError, match="truncated"):
        codec.decode(encoded)


def test_checksum_mismatch_names_file_and_hashes(tmp_path, weights_dir):
    for name in FILES:
        shutil.copy(weights_dir / name, tmp_path / name)
    corrupt = tmp_path / "quantizer.tflite"
    corrupt.chmod(0o644)
    data = bytearray(corrupt.read_bytes())
    data[1000] ^= 0xFF
    corrupt.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="quantizer.tflite") as info:
        load_codec(f"lyra@3.2:weights={tmp_path}")
    assert SHA256["quantizer.tflite"] in str(info.value)
    assert "sha256" in str(info.value) and len(str(info.value).split()) > 5


def test_weights_lookup_order(tmp_path, weights_dir, monkeypatch):
    copies = {}
    for place in ("explicit", "env", "cache/models/lyra-v2", "shared/models/lyra-v2"):
        copies[place] = tmp_path / place
        copies[place].mkdir(parents=True)
        for name in FILES:
            shutil.copy(weights_dir / name, copies[place] / name)
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("CODECBENCH_CACHE", str(tmp_path / "nothing-cached"))
    monkeypatch.setattr(resources, "shared_dirs", lambda: [])
    assert find_weights() == weights_dir  # a fresh machine: the embedded copy, last in the order
    monkeypatch.setattr(resources, "shared_dirs", lambda: [tmp_path / "shared"])
    assert find_weights() == copies["shared/models/lyra-v2"]  # ../shared comes before the embedded copy
    monkeypatch.setenv("CODECBENCH_CACHE", str(tmp_path / "cache"))
    assert find_weights() == copies["cache/models/lyra-v2"]  # the user cache comes before ../shared
    monkeypatch.setenv(WEIGHTS_ENV, str(copies["env"]))
    assert find_weights() == copies["env"]
    assert LyraCodec(6, weights=str(copies["explicit"])).weights_dir == copies["explicit"]
    (copies["env"] / "lyragan.tflite").unlink()
    status = LyraCodec.availability()  # an incomplete explicit directory is never skipped silently
    assert not status.available and "lyragan.tflite" in status.reason
    with pytest.raises(CodecUnavailable, match="lyragan.tflite"):
        load_codec("lyra@3.2")


def test_runner_rows_carry_entropy_and_provenance(tmp_path, short_selection):
    result = run_benchmark(short_selection, ["lyra@3.2"], ["pesq_wb"], tmp_path, progress=False)
    rows = pd.read_parquet(tmp_path / "utterances.parquet")
    expected = LEADING_COLUMNS + ["pesq_wb", "error"] + TRAILING_COLUMNS + ["index_entropy_kbps"]
    assert list(rows.columns) == expected
    assert (rows["error"] == "").all() and (rows["pesq_wb"] > 1.4).all()
    assert ((rows["measured_kbps"] - 3.2).abs() < 0.02).all()
    assert (rows["index_entropy_kbps"] < rows["measured_kbps"]).all()
    info = json.loads((tmp_path / "run.json").read_text())["codecs"]["lyra@3.2"]
    assert info["provenance"]["sha256"] == SHA256 and info["provenance"]["ai-edge-litert"]
    assert info["algorithmic_delay_ms"] == 20.0 and result.skipped == {}


def test_codec_columns_may_not_overwrite_row_columns(tmp_path, short_selection, monkeypatch):
    encode = LyraCodec.encode

    def encode_claiming_a_rate(self, waveform):
        encoded = encode(self, waveform)
        encoded.columns["measured_kbps"] = 1.0
        return encoded

    monkeypatch.setattr(LyraCodec, "encode", encode_claiming_a_rate)
    rows = run_benchmark(short_selection, ["lyra@3.2"], ["pesq_wb"], tmp_path, progress=False).rows
    assert rows["error"].str.contains("clash").all()
    assert (rows["measured_kbps"] != 1.0).all()

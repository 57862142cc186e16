"""`pipeline.code` and `pipeline.score`: bytes to kbps, seeds, the delay rule, the channel seam, frozen results."""

import dataclasses

import numpy as np
import pytest

from codecbench import pipeline, seeds
from codecbench.audio import LoadedAudio
from codecbench.codecs import get_codec_class, load_codec
from codecbench.channel import Transmission, parse_channel


@pytest.fixture(scope="module")
def audio(speech) -> LoadedAudio:
    return LoadedAudio(speech, pipeline.WORKING_RATE, pipeline.WORKING_RATE)


def test_code_counts_the_transmitted_bytes(audio):
    coded = pipeline.code(load_codec("codec2@1.3"), audio, seed=5)
    assert coded.measured_kbps == 8 * coded.payload_bytes / audio.duration_s / 1000
    assert coded.measured_kbps == pytest.approx(1.3, rel=0.01) and coded.seeds == (5,)
    assert len(coded.decodes) == 1 and abs(len(coded.decodes[0]) - len(audio.samples)) < 0.05 * 16000
    assert coded.known_delay == 300 and coded.channel == pipeline.CLEAN  # 150 samples at 8 kHz, declared
    with pytest.raises(dataclasses.FrozenInstanceError):
        coded.seeds = (1,)


def test_a_declared_delay_replaces_the_cross_correlation_search(speech):
    reference = speech[:32000]
    delayed = np.concatenate([np.zeros(80, np.float32), reference])
    found = pipeline.Coded.external(reference, delayed)
    assert pipeline.score(found, ["stoi"]).delay_samples == 80
    declared = pipeline.score(dataclasses.replace(found, known_delay=80), ["stoi"])
    assert declared.delay_samples == 80 and declared.values["stoi"] > 0.99
    wrong = pipeline.score(dataclasses.replace(found, known_delay=0), ["stoi"]).values["stoi"]
    assert wrong < declared.values["stoi"]
    assert load_codec("opus@6").known_delay_at(16000) is None  # Opus is estimated
    assert load_codec("codec2@2.4").known_delay_at(16000) == 300 and load_codec("codec2@0.7").known_delay_at(16000) == 460
    assert get_codec_class("mel2mel").known_delay_samples == 0


def test_seeds_are_derived_once_and_decodes_are_scored_per_seed(audio):
    codec = load_codec("mel2mel@1.5:steps=2,seeds=3")
    seed = seeds.utterance_seed(0, "1688-142285-0003", "mel2mel@1.5:seeds=3,steps=2")
    coded = pipeline.code(codec, audio, seed)
    assert coded.seeds == tuple(seeds.decode_seeds(seed, 3)) and len(set(coded.seeds)) == 3
    assert coded.seeds[0] == seed == seeds.derive_seed(0, "1688-142285-0003", "mel2mel@1.5:seeds=3,steps=2")
    again = pipeline.code(codec, audio, seed)
    assert all(np.array_equal(a, b) for a, b in zip(coded.decodes, again.decodes))
    assert not np.array_equal(coded.decodes[0], coded.decodes[1])
    scored = pipeline.score(coded, ["mel_distance"])
    assert scored.n_seeds == 3 and scored.delay_samples == 0 and scored.errors == {}
    per_seed = [pipeline.score(dataclasses.replace(coded, decodes=(d,)), ["mel_distance"]).values["mel_distance"]
                for d in coded.decodes]
    assert scored.values["mel_distance"] == pytest.approx(np.mean(per_seed))
    assert scored.seed_std["mel_distance"] == pytest.approx(np.std(per_seed, ddof=1))


def test_a_channel_sits_between_the_bytes_and_the_decoder(audio):
    codec = load_codec("codec2@2.4")
    clean = pipeline.code(codec, audio, seed=1)
    noisy = pipeline.code(codec, audio, seed=1, channel=Transmission(parse_channel("ber@0.05"), 1, "u"))
    assert noisy.channel == "ber@0.05" and noisy.measured_kbps == clean.measured_kbps  # the bits sent
    assert not np.array_equal(noisy.decodes[0], clean.decodes[0]) and noisy.columns["bits_flipped"] > 0
    again = pipeline.code(codec, audio, seed=1, channel=Transmission(parse_channel("ber@0.05"), 1, "u"))
    assert np.array_equal(noisy.decodes[0], again.decodes[0])  # the channel draws from the run seed alone
    worse = pipeline.score(noisy, ["pesq_wb"]).values["pesq_wb"]
    assert worse < pipeline.score(clean, ["pesq_wb"]).values["pesq_wb"]


def test_a_failing_stage_is_named(audio):
    class Broken(type(load_codec("reference"))):
        def decode(self, encoded):
            return np.full(10, np.nan, np.float32)

    with pytest.raises(pipeline.CodingError, match="^decode failed: empty or non-finite output"):
        pipeline.code(Broken(), audio, seed=0)

    class Clashing(type(load_codec("reference"))):
        def encode(self, waveform):
            return dataclasses.replace(super().encode(waveform), columns={"measured_kbps": 1.0})

    with pytest.raises(pipeline.CodingError, match=r"^encode failed: .*\['measured_kbps'\] clash"):
        pipeline.code(Clashing(), audio, seed=0)

"""The channel between encoder and decoder: condition parsing, the loss models, and losses and bit errors on
real bitstreams of real speech (decoded length kept, the same losses for codecs with the same packet duration,
reproducible from the run seed)."""

from __future__ import annotations

import json
import numpy as np
import pandas as pd
import pytest

from codecbench import pipeline
from codecbench.audio import LoadedAudio
from codecbench.channel import Transmission, parse_channel, parse_channels
from codecbench.channel.loss import bernoulli, gilbert_elliott
from codecbench.robustness import analyze
from codecbench.cli import main
from codecbench.codecs import codec_availability, load_codec
from codecbench.report.merge import load_runs
from codecbench.runner import run_benchmark


def test_conditions_parse_as_the_cli_spells_them(tmp_path):
    assert parse_channel("loss@5%").rate == pytest.approx(0.05)
    bursty = parse_channel("loss@0.1:burst=3")
    assert (bursty.kind, bursty.rate, bursty.burst) == ("loss", 0.1, 3.0)
    assert parse_channel("ber@1e-4").kind == "ber" and parse_channel("clean").is_clean
    trace = tmp_path / "trace.txt"
    trace.write_text("0 0 1\n1 0\n")
    assert parse_channel(f"loss@trace={trace}").trace == (0, 0, 1, 1, 0)
    names = [c.name for c in parse_channels(["clean,loss@5%", "loss@10%:burst=3,clean"])]
    assert names == ["clean", "loss@5%", "loss@10%:burst=3"]
    for bad in ("loss@150%", "loss@-0.1", "loss@abc", "ber@2", "loss@5%:burst=0.5", "loss@5%:bursts=3", "drop@5%"):
        with pytest.raises(ValueError):
            parse_channel(bad)
    (tmp_path / "bad.txt").write_text("0 1 2")
    for path in (tmp_path / "bad.txt", tmp_path / "missing.txt"):
        with pytest.raises(ValueError, match="loss trace"):
            parse_channel(f"loss@trace={path}")


def test_loss_models_have_their_rate_and_burst_length():
    rng = np.random.default_rng(1)
    assert bernoulli(200_000, 0.1, rng).mean() == pytest.approx(0.1, abs=0.005)
    lost = gilbert_elliott(200_000, 0.1, 3.0, np.random.default_rng(2))
    assert lost.mean() == pytest.approx(0.1, abs=0.01)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], lost.astype(int), [0]])))
    bursts = edges[1::2] - edges[0::2]
    assert bursts.mean() == pytest.approx(3.0, rel=0.08)
    short = gilbert_elliott(100, 0.1, 3.0, np.random.default_rng(2))
    assert np.array_equal(short, lost[:100])  # a longer stream only adds packets at its end


def clip(speech: np.ndarray, seconds: float = 3.0) -> LoadedAudio:
    return LoadedAudio(speech[: int(seconds * 16000)], 16000, 16000)


def test_codecs_with_the_same_packet_duration_lose_the_same_packets(speech):
    """codec2@2.4 (one bitstream of 20 ms frames) and opus@6 (a packet per 20 ms) see the same loss pattern."""
    audio = clip(speech)
    channel = Transmission(parse_channel("loss@20%"), run_seed=7, utterance="1688-142285-0003")
    patterns = []
    for spec in ("codec2@2.4", "opus@6"):
        codec = load_codec(spec)
        encoded = codec.encode(audio.samples if codec.sample_rate == 16000 else speech[:24000:2])
        framing = codec.framing(encoded)
        assert 1000 * framing.frame_samples / codec.sample_rate == 20.0
        patterns.append(channel.losses(framing, codec.sample_rate, 100))
    assert np.array_equal(*patterns) and 5 < patterns[0].sum() < 40
    other = Transmission(parse_channel("loss@20%"), run_seed=8, utterance="1688-142285-0003")
    assert not np.array_equal(patterns[0], other.losses(codec.framing(encoded), codec.sample_rate, 100))


@pytest.mark.parametrize("spec", ["codec2@2.4", "opus@6", "opus@6:plc=false", "opus@24:fec=true", "reference", "lyra@3.2",
                                  "gan-mel@1.5"])
def test_lost_packets_keep_the_decoded_length(speech, spec):
    """Losses never drop samples: the decode under 30 % loss has the clean decode's length, differs from it,
    and the row's columns count the lost packets."""
    status = codec_availability(spec.split("@")[0])
    if not status.available:
        pytest.skip(f"{spec} is unavailable here: {status.reason}")
    audio, codec = clip(speech), load_codec(spec)
    clean = pipeline.code(codec, audio, seed=0)
    lossy = pipeline.code(codec, audio, seed=0, channel=Transmission(parse_channel("loss@30%"), 0, "u"))
    assert len(lossy.decodes[0]) == len(clean.decodes[0])
    assert not np.allclose(lossy.decodes[0], clean.decodes[0])
    assert lossy.channel == "loss@30%" and lossy.payload_bytes == clean.payload_bytes
    assert 0.15 < lossy.columns["packets_lost"] / lossy.columns["packets"] < 0.45


def test_generic_concealment_repeats_the_last_frame_and_zero_fills_pcm(speech):
    audio = clip(speech, 1.0)
    channel = Transmission(parse_channel("loss@50%"), 3, "u")
    codec2 = load_codec("codec2@2.4")
    encoded = codec2.encode(audio.samples[::2])
    received, columns = channel.transmit(codec2, encoded)
    framing = codec2.framing(encoded)
    lost = channel.losses(framing, codec2.sample_rate, int(columns["packets"]))
    bits = np.unpackbits(np.frombuffer(received.packets[0], np.uint8))
    frames = bits[: len(lost) * framing.frame_bits].reshape(len(lost), -1)
    first = int(np.argmin(lost))  # the first received frame
    for k in range(first + 1, len(lost)):
        if lost[k]:
            assert np.array_equal(frames[k], frames[k - 1])
    assert columns["concealment"] == "generic"
    reference = load_codec("reference")
    pcm, _ = channel.transmit(reference, reference.encode(audio.samples))
    samples = np.frombuffer(pcm.packets[0], np.int16)[: len(lost) * 320].reshape(-1, 320)
    silent = np.all(samples == 0, axis=1)
    assert np.array_equal(silent, channel.losses(reference.framing(encoded), 16000, len(silent)))


def test_bit_errors_flip_payload_bits_at_the_rate(speech):
    audio = clip(speech)
    codec = load_codec("opus@12")
    coded = pipeline.code(codec, audio, seed=0, channel=Transmission(parse_channel("ber@1e-2"), 0, "u"))
    bits = 8 * coded.payload_bytes
    assert coded.columns["bits_flipped"] == pytest.approx(0.01 * bits, rel=0.25)
    assert len(coded.decodes[0]) == len(audio.samples)


def test_run_groups_by_spec_and_channel_and_reproduces(short_selection, tmp_path):
    """A run over two channel conditions: a `channel` column, a summary row per spec x channel, the same
    losses and scores from the same seed, and worse scores under loss."""
    selection = type(short_selection)(short_selection.dataset, short_selection.root, short_selection.split,
                                      short_selection.utterances[:2])
    channels = parse_channels(["clean,loss@20%"])
    kwargs = dict(metrics=["pesq_wb"], workers=1, progress=False, channels=channels, seed=5)
    first = run_benchmark(selection, ["codec2@2.4", "opus@6"], out=tmp_path / "a", **kwargs)
    second = run_benchmark(selection, ["codec2@2.4", "opus@6"], out=tmp_path / "b", **kwargs)
    rows = first.rows
    assert list(rows.columns[rows.columns.get_loc("error") + 1:][:1]) == ["channel"]
    assert len(rows) == 8 and set(rows["channel"]) == {"clean", "loss@20%"}
    keep = ["utterance", "spec", "channel", "pesq_wb", "packets_lost"]
    pd.testing.assert_frame_equal(rows[keep], second.rows[keep])
    summary = first.summary.set_index(["spec", "channel"])
    assert len(summary) == 4
    for spec in ("codec2@2.4", "opus@6"):
        assert summary.loc[(spec, "loss@20%"), "pesq_wb_mean"] < summary.loc[(spec, "clean"), "pesq_wb_mean"]
    lossy = rows[rows["channel"] == "loss@20%"].set_index(["utterance", "spec"])["packets_lost"]
    assert (lossy > 0).all()
    resumed = run_benchmark(selection, ["codec2@2.4", "opus@6"], out=tmp_path / "a", resume=True, **kwargs)
    assert json.loads((tmp_path / "a" / "run.json").read_text())["invocations"][-1]["todo"] == 0
    pd.testing.assert_frame_equal(resumed.rows[keep], rows[keep])
    written = analyze(first.out)
    table = pd.read_csv(written["table"]).set_index(["spec", "condition"])
    assert (table.loc[(slice(None), "loss@20%"), "drop_from_clean"] > 0).all() and (table["n"] == 2).all()
    assert written["pesq_wb_vs_loss"].stat().st_size > 0
    paired = pd.read_csv(written["paired"])
    assert set(paired["condition"]) == {"clean", "loss@20%"} and (paired["n"] == 2).all()
    reported = load_runs([first.out])  # `codecbench report` compares every spec under every channel condition
    assert reported.specs == ["codec2@2.4", "codec2@2.4 · loss@20%", "opus@6", "opus@6 · loss@20%"]
    assert set(reported.rows["channel"]) == {"clean", "loss@20%"} and "channel" not in reported.ignored


@pytest.mark.parametrize("channel", ["loss@150%", "loss@trace=/nonexistent/trace.txt", "ber@x"])
def test_bad_channel_is_one_line_and_exit_2(tmp_path, capsys, channel):
    code = main(["run", "--codec", "opus@6", "--limit", "1", "--channel", channel, "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "error" in err


def test_opus_plc_beats_zero_fill_and_fec_beats_plc(speech):
    """At 10 % loss libopus' PLC scores above silence for the lost frames, and in-band FEC (active from about
    20 kbps wideband in this libopus) above PLC alone; clean, FEC costs quality at the same CBR bytes."""
    audio = clip(speech, 5.0)
    channel = Transmission(parse_channel("loss@10%"), 0, "1688-142285-0003")

    def pesq(spec: str, through=None) -> tuple[float, pipeline.Coded]:
        coded = pipeline.code(load_codec(spec), audio, seed=0, channel=through)
        return pipeline.score(coded, ["pesq_wb"]).values["pesq_wb"], coded

    plc, coded = pesq("opus@12", channel)
    zero, _ = pesq("opus@12:plc=false", channel)
    assert plc > zero + 0.2 and coded.columns["concealment"] == "plc"
    fec, fec_coded = pesq("opus@24:fec=true", channel)
    assert fec > pesq("opus@24", channel)[0] + 0.3 and fec_coded.columns["concealment"] == "fec"
    assert pesq("opus@24:fec=true")[0] < pesq("opus@24")[0]  # the redundancy's cost on a clean channel

"""Degraded input before the encoder: noise at the SNR asked for (white, pink, babble of other real speakers),
simulated reverberation, reproducible draws, and rows scored against both the clean talker and the codec's input."""

from __future__ import annotations

import numpy as np
import pytest

from codecbench.channel.inputs import degrade, parse_input, parse_inputs
from codecbench.cli import main
from codecbench.datasets import select
from codecbench.runner import run_benchmark


def test_input_conditions_parse_with_their_units():
    assert parse_input("white@10dB").value == 10.0 and parse_input("babble@-5dB").kind == "babble"
    assert parse_input("reverb@0.6s").value == pytest.approx(0.6) and parse_input("clean").is_clean
    assert [c.name for c in parse_inputs(["clean,pink@5dB", "clean"])] == ["clean", "pink@5dB"]
    for bad in ("white@10", "pink@x dB", "reverb@600ms", "reverb@0s", "hiss@10dB", "babble"):
        with pytest.raises(ValueError):
            parse_input(bad)


@pytest.mark.parametrize("name", ["white@5dB", "pink@10dB", "babble@0dB"])
def test_noise_is_mixed_at_the_snr_and_reproducibly(librispeech_root, speech, name):
    talkers = [u for u in select("librispeech", librispeech_root, "sample").utterances if u.speaker != "1688"]
    condition = parse_input(name)
    noisy = degrade(condition, speech, 16000, 0, "1688-142285-0003", talkers)
    noise = noisy.astype(float) - speech
    snr = 10 * np.log10(np.mean(speech.astype(float) ** 2) / np.mean(noise**2))
    assert len(noisy) == len(speech) and snr == pytest.approx(condition.value, abs=0.1)
    assert np.array_equal(noisy, degrade(condition, speech, 16000, 0, "1688-142285-0003", talkers))
    assert not np.array_equal(noisy, degrade(condition, speech, 16000, 1, "1688-142285-0003", talkers))


def test_babble_needs_other_speakers(speech):
    with pytest.raises(ValueError, match="other speakers"):
        degrade(parse_input("babble@0dB"), speech, 16000, 0, "u", [])


def test_reverberation_keeps_length_and_level_and_smears_the_signal(speech):
    pytest.importorskip("pyroomacoustics")
    wet = degrade(parse_input("reverb@0.8s"), speech, 16000, 0, "1688-142285-0003")
    assert len(wet) == len(speech)
    assert np.sqrt(np.mean(wet**2)) == pytest.approx(np.sqrt(np.mean(speech**2)), rel=0.05)
    assert np.corrcoef(wet, speech)[0, 1] < 0.9  # the reflections change the waveform


def test_rows_score_against_the_clean_talker_and_the_codec_input(short_selection, tmp_path):
    selection = type(short_selection)(short_selection.dataset, short_selection.root, short_selection.split,
                                      short_selection.utterances[:1])
    result = run_benchmark(selection, ["opus@12"], ["pesq_wb"], tmp_path, workers=1, progress=False,
                           inputs=parse_inputs(["clean,white@0dB"]))
    rows = result.rows.set_index("input")
    assert rows.loc["clean", "pesq_wb"] == pytest.approx(rows.loc["clean", "pesq_wb_e2e"])
    noisy = rows.loc["white@0dB"]
    assert noisy["pesq_wb_e2e"] < noisy["pesq_wb"] and noisy["pesq_wb_e2e"] < rows.loc["clean", "pesq_wb_e2e"]
    assert set(result.summary["input"]) == {"clean", "white@0dB"}


def test_snr_without_unit_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["run", "--codec", "opus@6", "--limit", "1", "--input", "white@10", "--out", str(tmp_path)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1

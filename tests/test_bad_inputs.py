"""Corrupt, empty, silent, short, stereo and wrong-rate files: error rows or recorded conversions; the run goes on."""

import numpy as np
import pytest
import soundfile as sf

from codecbench.audio import resample
from codecbench.datasets import select
from codecbench.runner import run_benchmark


@pytest.fixture(scope="module")
def messy_run(tmp_path_factory, speech):
    root = tmp_path_factory.mktemp("messy")
    (root / "spk1").mkdir()
    sf.write(root / "spk1" / "good.wav", speech, 16000)
    sf.write(root / "spk1" / "silent.wav", np.zeros(32000, np.float32), 16000)
    sf.write(root / "spk1" / "empty.wav", np.zeros(0, np.float32), 16000)
    sf.write(root / "spk1" / "short.wav", speech[8000:9600], 16000)  # 0.1 s: shorter than a codec2 frame
    stereo = resample(speech, 16000, 44100)
    sf.write(root / "spk1" / "stereo44k.wav", np.stack([stereo, 0.5 * stereo], axis=1), 44100)
    sf.write(root / "spk1" / "rate8k.flac", resample(speech, 16000, 8000), 8000)
    (root / "spk1" / "corrupt.flac").write_bytes(b"fLaC" + bytes(range(256)) * 20)
    good = (root / "spk1" / "good.wav").read_bytes()
    (root / "spk1" / "truncated.wav").write_bytes(good[:30])
    selection = select("folder", root)
    result = run_benchmark(selection, ["opus@6", "codec2@0.7"], ["pesq_wb", "stoi"], root.parent / "out",
                           progress=False)
    return result.rows.set_index(["utterance", "spec"])


@pytest.mark.parametrize("name, reason", [("silent", "silent"), ("empty", "empty"),
                                          ("corrupt", "cannot read"), ("truncated", "cannot read")])
def test_unusable_files_give_error_rows(messy_run, name, reason):
    for spec in ("opus@6", "codec2@0.7"):
        row = messy_run.loc[(f"spk1/{name}", spec)]
        assert reason in row["error"]
        assert np.isnan(row["pesq_wb"]) and np.isnan(row["stoi"])


def test_good_rows_are_intact(messy_run):
    row = messy_run.loc[("spk1/good", "opus@6")]
    assert row["error"] == "" and row["pesq_wb"] > 1.2 and row["speaker"] == "spk1"


def test_conversions_are_recorded_and_scored(messy_run):
    stereo = messy_run.loc[("spk1/stereo44k", "opus@6")]
    assert "downmixed 2->1" in stereo["conversion"] and "resampled 44100->16000" in stereo["conversion"]
    assert stereo["error"] == "" and stereo["pesq_wb"] > 1.2
    low = messy_run.loc[("spk1/rate8k", "opus@6")]
    assert "resampled 8000->16000" in low["conversion"] and low["error"] == ""


def test_clip_shorter_than_a_frame_is_coded_and_metrics_say_why(messy_run):
    row = messy_run.loc[("spk1/short", "codec2@0.7")]  # a 40 ms frame codec on 0.1 s
    assert row["measured_kbps"] > 0
    assert "pesq_wb" in row["error"] and "stoi" in row["error"]
    assert np.isnan(row["pesq_wb"]) and np.isnan(row["stoi"])

"""`mushra build` on a run with channel conditions: a test condition is a spec under a channel condition
(`opus@6`, `opus@6 · loss@10%`), its stimuli lose the run's packets, and a combination the run lacks is refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from codecbench import kept_audio, pipeline, seeds
from codecbench.audio import load_audio, resample
from codecbench.channel import Transmission, parse_channel, parse_channels
from codecbench.cli import main
from codecbench.codecs import load_codec
from codecbench.listening_test.anchors import Anchors
from codecbench.alignment import on_reference_timeline
from codecbench.listening_test.build import build_test, run_items
from codecbench.listening_test.testdef import load_test

LOSSY = "opus@6 · loss@10%"
SEED = 3


@pytest.fixture(scope="module")
def condition_run(tmp_path_factory, librispeech_root):
    """Opus at 6 kbps over a clean channel and at 10 % packet loss, on the embedded sample (14 utterances)."""
    from codecbench.datasets import select
    from codecbench.runner import run_benchmark

    out = tmp_path_factory.mktemp("condition_run")
    run_benchmark(select("librispeech", librispeech_root, "sample"), ["opus@6"], ["stoi"], out, progress=False,
                  seed=SEED, channels=parse_channels(["clean,loss@10%"]))
    return out


def test_stimuli_per_spec_and_channel_lose_the_runs_packets(condition_run, tmp_path):
    test_dir = build_test(tmp_path / "test", run=condition_run, items=5, training_items=0, progress=False).out
    test = load_test(test_dir)
    assert test.conditions[-2:] == ["opus@6", LOSSY]  # every spec x channel of the run by default
    spec = yaml.safe_load((test_dir / "test.yaml").read_text())
    assert spec["source"]["systems"] == {"opus@6": {"spec": "opus@6", "channel": "clean"},
                                         LOSSY: {"spec": "opus@6", "channel": "loss@10%"}}
    rows = pd.read_parquet(condition_run / "utterances.parquet").set_index(["utterance", "channel"])
    lost = []
    for entry in spec["items"]:
        clean, lossy = entry["stimuli"]["opus@6"], entry["stimuli"][LOSSY]
        assert (clean["channel"], lossy["channel"]) == ("clean", "loss@10%")
        assert "packets_lost" not in clean  # a clean channel transmits every packet
        stored = rows.loc[(entry["item"], "loss@10%"), "packets_lost"]
        assert lossy["packets_lost"] == lossy["run_packets_lost"] == stored
        assert lossy["file"] != clean["file"]
        lost.append(lossy["packets_lost"])
    assert sum(lost) > 0


def test_lossy_stimulus_is_the_runs_decode_under_loss(condition_run):
    """The stimulus equals the run's decode of that utterance under that condition: the same lost packets
    (seeded by run seed and utterance), the same delay rule, as a kept file holds it (24-bit, so that re-coded and
    kept stimuli are the same), and it scores the run's STOI."""
    from codecbench.metrics import evaluate

    items, _ = run_items(condition_run, [LOSSY, "opus@6"], 5, 0, progress=False, anchors=Anchors(enabled=False))
    rows = pd.read_parquet(condition_run / "utterances.parquet").set_index(["utterance", "channel"])
    codec = load_codec("opus@6")
    for item in items[:2]:
        audio = load_audio(item.source, 16000)
        seed = seeds.utterance_seed(SEED, item.item, "opus@6")
        coded = pipeline.code(codec, audio, seed, Transmission(parse_channel("loss@10%"), SEED, item.item))
        delay = pipeline.score(coded, []).delay_samples
        as_kept = resample(kept_audio.quantize(coded.output), coded.output_rate, coded.sample_rate)
        expected = on_reference_timeline(as_kept.astype(np.float64), delay, len(audio.samples))
        np.testing.assert_array_equal(item.signals[LOSSY][:, 0], expected)
        decoded = on_reference_timeline(coded.decodes[0].astype(np.float64), delay, len(audio.samples))
        assert np.abs(expected - decoded).max() <= 2.0 ** -23  # the run's decode, to 24-bit rounding
        assert not np.array_equal(item.signals[LOSSY], item.signals["opus@6"])
        rescored = pipeline.score(coded, ["stoi"]).values["stoi"]
        assert rescored == pytest.approx(rows.loc[(item.item, "loss@10%"), "stoi"], abs=1e-9)
        stoi = {label: evaluate(["stoi"], audio.samples, item.signals[label][:, 0].astype(np.float32), 16000)
                .values["stoi"] for label in (LOSSY, "opus@6")}
        assert stoi[LOSSY] < stoi["opus@6"]


def test_a_combination_the_run_lacks_is_one_line_and_exit_2(condition_run, tmp_path, capsys):
    with pytest.raises(ValueError, match="did not run"):
        build_test(tmp_path / "t", run=condition_run, items=5, conditions=["opus@6 · loss@20%"], progress=False)
    code = main(["mushra", "build", "--run", str(condition_run), "--out", str(tmp_path / "t"), "--items", "5",
                 "--conditions", "opus@6,opus@6 · loss@20%"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "opus@6 · loss@20%" in err and LOSSY in err  # names what is missing and what the run holds
    assert not (tmp_path / "t").exists()

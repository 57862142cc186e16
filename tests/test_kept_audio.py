"""`--keep-audio`: every row's decoded audio as FLAC in the run folder, its SHA-256 in the row; it re-scores to the
row's values, survives a killed run and a resume (missing or altered files are found and coded again), and works
under channel and input conditions and for scored pairs."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from codecbench import kept_audio, pipeline
from codecbench.audio import load_audio
from codecbench.channel.inputs import parse_inputs
from codecbench.codecs import load_codec
from codecbench.datasets import Selection, select
from codecbench.journal import Journal
from codecbench.rows import AUDIO_SHA256, record_key
from codecbench.rundir import JOURNAL
from codecbench.runner import run_benchmark

SPECS = ["opus@6", "codec2@1.2"]  # 16 kHz and 8 kHz output: the kept file is at the codec's own rate
METRICS = ["pesq_wb", "stoi", "si_sdr"]


def _run(selection, out, metrics=METRICS, **options):
    return run_benchmark(selection, SPECS, metrics, out, progress=False, command=["test"], keep_audio=True, **options)


@pytest.fixture(scope="module")
def kept_run(tmp_path_factory, short_selection):
    return _run(short_selection, tmp_path_factory.mktemp("kept") / "run")


def test_kept_audio_rescores_to_the_rows_values(kept_run, short_selection):
    """Every row's file is at the codec's rate, hashes to the row's SHA-256, and scored again through
    `pipeline.score` gives the row's values (24-bit rounding moves them by far less than their precision)."""
    rows, out = kept_run.rows, kept_run.out
    assert (rows["error"] == "").all() and rows[AUDIO_SHA256].str.len().eq(64).all()
    paths = {u.id: u.path for u in short_selection.utterances}
    codecs = {spec: load_codec(spec) for spec in SPECS}
    for record in rows.to_dict("records"):
        key = record_key(record)
        samples, rate = kept_audio.read(out, record, key)
        assert rate == codecs[record["spec"]].sample_rate  # opus 16 kHz, codec 2 8 kHz
        reference = load_audio(paths[record["utterance"]], pipeline.WORKING_RATE).samples
        decoded = kept_audio.decoded_at(out, record, key, pipeline.WORKING_RATE)
        coded = pipeline.Coded(reference, (decoded,), (int(record["seed"]),),
                               codecs[record["spec"]].known_delay_at(pipeline.WORKING_RATE), np.nan, np.nan, np.nan,
                               np.nan)
        scored = pipeline.score(coded, METRICS)
        assert scored.delay_samples == record["delay_samples"]
        for column in ("pesq_wb", "stoi", "si_sdr"):
            assert scored.values[column] == pytest.approx(record[column], abs=1e-4), (key, column)


def test_every_row_has_its_file_and_overwrite_removes_them(kept_run, short_selection, tmp_path):
    assert json.loads((kept_run.out / "run.json").read_text())["invocations"][-1]["keep_audio"] is True
    files = sorted(p.relative_to(kept_run.out).as_posix() for p in (kept_run.out / "audio").rglob("*.flac"))
    assert files == sorted(kept_audio.relative_path(record_key(r)).as_posix()
                           for r in kept_run.rows.to_dict("records"))
    out = tmp_path / "run"
    shutil.copytree(kept_run.out, out)
    one = Selection(short_selection.dataset, short_selection.root, short_selection.split,
                    short_selection.utterances[:1])
    run_benchmark(one, SPECS[:1], ["si_sdr"], out, overwrite=True, progress=False, command=["test"])
    assert not (out / "audio").exists()


def test_a_killed_run_and_damaged_files_are_found_and_coded_again(tmp_path, short_selection, capsys):
    """A half-written file (temporary name) never counts and goes; a file whose row was never journalled is
    rewritten by the resume; a journalled row whose file is missing or altered is coded again. Under channel and
    input conditions every row has its own file."""
    out = tmp_path / "run"
    two = Selection(short_selection.dataset, short_selection.root, short_selection.split,
                    short_selection.utterances[:2])
    conditions_of_run = {"channels": _channels("clean,loss@20%"), "inputs": parse_inputs(["clean,white@10dB"])}
    first = _run(two, out, ["si_sdr"], **conditions_of_run)
    records = first.rows.to_dict("records")
    assert len(records) == 2 * 2 * 2 * 2
    conditions = ["channel", "input"]
    journal = (out / JOURNAL).read_bytes().splitlines(keepends=True)
    orphan = record_key(json.loads(journal[-1].split(b" ", 1)[1]), conditions)
    missing, altered = [k for k in (record_key(r, conditions) for r in records) if k != orphan][:2]
    (out / kept_audio.relative_path(missing)).unlink()
    altered_path = out / kept_audio.relative_path(altered)
    altered_path.write_bytes(altered_path.read_bytes()[:-100])
    # a killed run: its last row's file was renamed into place, its journal line never written
    (out / JOURNAL).write_bytes(b"".join(journal[:-1]))
    orphan_path = out / kept_audio.relative_path(orphan)
    orphan_path.write_bytes(b"half a file")  # whatever it holds, it has no row: it does not count
    temporary = orphan_path.with_name(f".{orphan_path.name}.123-4.tmp")
    temporary.write_bytes(b"torn")
    capsys.readouterr()
    resumed = _run(two, out, ["si_sdr"], resume=True, **conditions_of_run)
    assert "2 rows name kept audio" in capsys.readouterr().err
    assert not temporary.exists()
    info = json.loads((out / "run.json").read_text())
    assert info["invocations"][-1]["todo"] == 3  # missing, altered, orphan
    stored = {record_key(r, conditions): r for r in Journal(out / JOURNAL).records()}
    assert all(kept_audio.problem(out, r, k) == "" for k, r in stored.items())
    assert len(resumed.rows) == len(records)
    pd.testing.assert_frame_equal(resumed.rows.drop(columns=["encode_s", "decode_s", "metrics_s"]),
                                  first.rows.drop(columns=["encode_s", "decode_s", "metrics_s"]))
    assert {p.relative_to(out / "audio").as_posix() for p in (out / "audio").rglob("*.flac")} == {
        f"{spec}/{channel}/{noise}/{u.id}.flac" for spec in SPECS for channel in ("clean", "loss@20%25")
        for noise in ("clean", "white@10dB") for u in two.utterances}


def test_read_refuses_missing_altered_and_unkept_audio(kept_run, tmp_path):
    record = kept_run.rows.to_dict("records")[0]
    key = record_key(record)
    with pytest.raises(kept_audio.KeptAudioError, match="no audio kept"):
        kept_audio.read(kept_run.out, {**record, AUDIO_SHA256: ""}, key)
    with pytest.raises(kept_audio.KeptAudioError, match="altered"):
        kept_audio.read(kept_run.out, {**record, AUDIO_SHA256: "0" * 64}, key)
    with pytest.raises(kept_audio.KeptAudioError, match="missing"):
        kept_audio.read(tmp_path, record, key)


def test_path_parts_are_percent_encoded_and_never_hidden():
    path = kept_audio.relative_path(("sub/../x", "..", "loss@10%", "white@10dB"))
    assert path.as_posix() == "audio/%2E./loss@10%25/white@10dB/sub%2F..%2Fx.flac"


def test_scored_pairs_keep_the_decoded_file_as_scored(tmp_path, speech):
    from codecbench.pairs import Pair, score_pairs

    sf.write(tmp_path / "ref.wav", speech[:32000], 16000)
    sf.write(tmp_path / "deg.wav", 0.5 * speech[:32000], 16000, subtype="PCM_16")
    result = score_pairs([Pair("item", "half", tmp_path / "ref.wav", tmp_path / "deg.wav")], ["si_sdr"],
                         tmp_path / "run", "test", progress=False, keep_audio=True)
    record = result.rows.to_dict("records")[0]
    samples, rate = kept_audio.read(result.out, record, record_key(record))
    assert rate == 16000
    np.testing.assert_array_equal(samples, sf.read(tmp_path / "deg.wav", dtype="float32")[0])


def _channels(text):
    from codecbench.channel import parse_channels

    return parse_channels([text])


def test_mushra_build_from_kept_audio_equals_re_coding(tmp_path, librispeech_root, capsys):
    """`mushra build --run` takes a stimulus from the kept audio where the run kept it, without loading a codec;
    the test folder is byte for byte the one re-coding makes (the folder without its audio)."""
    from codecbench.listening_test.build import build_test

    everything = select("librispeech", librispeech_root, "sample")
    selection = Selection(everything.dataset, everything.root, everything.split,
                          [u for u in everything.utterances if u.id.endswith("-0003")][:5])
    kept = tmp_path / "kept"
    run_benchmark(selection, ["opus@12", "codec2@2.4"], [], kept, progress=False, command=["test"], keep_audio=True)
    plain = tmp_path / "plain"
    shutil.copytree(kept, plain, ignore=shutil.ignore_patterns(kept_audio.FOLDER))
    capsys.readouterr()
    for run, test in ((kept, "t_kept"), (plain, "t_plain")):
        build_test(tmp_path / test, run=run, items=5, training_items=0, min_duration_s=1.0, progress=False)
    err = capsys.readouterr().err
    assert f"stimuli of {kept}: 10 from the run's kept audio, 0 re-coded" in err
    assert f"stimuli of {plain}: 0 from the run's kept audio, 10 re-coded" in err
    files = {test: {p.relative_to(tmp_path / test).as_posix(): p.read_bytes()
                    for p in (tmp_path / test).rglob("*.wav")} for test in ("t_kept", "t_plain")}
    assert len(files["t_kept"]) == 5 * 5 and files["t_kept"] == files["t_plain"]


def test_keep_audio_on_one_pair_without_a_run_folder_is_a_one_line_error(tmp_path, speech, capsys):
    from codecbench.cli import main

    sf.write(tmp_path / "ref.wav", speech[:16000], 16000)
    assert main(["score", str(tmp_path / "ref.wav"), str(tmp_path / "ref.wav"), "--metrics", "si_sdr",
                 "--keep-audio"]) == 2
    assert capsys.readouterr().err.strip().endswith("--keep-audio keeps the decoded files of many pairs in a run "
                                                    "folder: add --out RUN")

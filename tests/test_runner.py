"""The runner: output contract, summary, provenance, resume after a kill or Ctrl-C."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from codecbench.runner import run_benchmark
from codecbench.store import JOURNAL

CONTRACT = ["utterance", "speaker", "split", "duration_s", "codec", "spec", "target_kbps", "measured_kbps",
            "delay_samples", "encode_s", "decode_s"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, short_selection):
    out = tmp_path_factory.mktemp("run")
    return run_benchmark(short_selection, ["opus@6", "codec2@2.4", "lowpass@3.5k"], ["pesq_wb", "stoi"], out,
                         workers=2, progress=False, command=["codecbench", "run", "test"])


def test_rows_follow_the_contract(finished_run):
    rows = pd.read_parquet(finished_run.out / "utterances.parquet")
    assert list(rows.columns[: len(CONTRACT)]) == CONTRACT
    assert list(rows.columns[len(CONTRACT): len(CONTRACT) + 3]) == ["pesq_wb", "stoi", "error"]
    assert len(rows) == 9 and not rows.duplicated(["utterance", "spec"]).any()
    assert (rows["error"] == "").all()
    assert rows["utterance"].str.match(r"^\d+-\d+-0002$").all()
    csv = pd.read_csv(finished_run.out / "utterances.csv", keep_default_na=False, na_values=[""])
    pd.testing.assert_frame_equal(rows[CONTRACT[:3]].astype(str), csv[CONTRACT[:3]].astype(str))
    np.testing.assert_allclose(rows["pesq_wb"], csv["pesq_wb"])


def test_bitrate_is_measured_from_bytes(finished_run):
    rows = finished_run.rows
    expected = 8 * rows["payload_bytes"] / rows["duration_s"] / 1000
    np.testing.assert_allclose(rows["measured_kbps"], expected)
    opus = rows[rows["spec"] == "opus@6"]
    assert ((opus["measured_kbps"] - 6).abs() / 6 < 0.02).all()
    assert np.isnan(rows[rows["spec"] == "lowpass@3.5k"]["target_kbps"]).all()


def test_codecs_rank_as_expected(finished_run):
    means = finished_run.rows.groupby("spec")["pesq_wb"].mean()
    assert means["codec2@2.4"] < means["opus@6"] < means["lowpass@3.5k"]


def test_summary_has_mean_and_ci(finished_run):
    summary = pd.read_csv(finished_run.out / "summary.csv")
    assert list(summary["spec"]) == ["opus@6", "codec2@2.4", "lowpass@3.5k"]
    row = summary.set_index("spec").loc["opus@6"]
    values = finished_run.rows.query("spec == 'opus@6'")["pesq_wb"]
    assert row["pesq_wb_mean"] == pytest.approx(values.mean())
    assert row["pesq_wb_ci95_low"] < row["pesq_wb_mean"] < row["pesq_wb_ci95_high"]
    assert row["n"] == 3 and row["n_errors"] == 0


def test_run_json_records_what_ran(finished_run):
    info = json.loads((finished_run.out / "run.json").read_text())
    assert info["command"] == "codecbench run test"
    assert info["versions"]["pesq"] and info["versions"]["av"]
    assert info["dataset"]["utterances"] == 3 and len(info["dataset"]["manifest_sha256"]) == 64
    assert info["codecs"]["opus@6"]["provenance"]["pyav"]
    manifest = pd.read_csv(finished_run.out / "manifest.csv")
    assert manifest["sha256"].str.len().eq(64).all()


def test_existing_run_is_not_overwritten_silently(finished_run, short_selection):
    with pytest.raises(FileExistsError, match="--resume"):
        run_benchmark(short_selection, ["opus@6"], ["pesq_wb", "stoi"], finished_run.out, progress=False)
    with pytest.raises(ValueError, match="different metrics"):
        run_benchmark(short_selection, ["opus@6"], ["pesq_nb"], finished_run.out, resume=True, progress=False)


def test_resume_adds_only_new_pairs(tmp_path, short_selection):
    run_benchmark(short_selection, ["opus@6"], ["pesq_wb"], tmp_path, progress=False)
    result = run_benchmark(short_selection, ["opus@6", "opus@12"], ["pesq_wb"], tmp_path, resume=True,
                           progress=False)
    assert len(result.rows) == 6
    assert len((tmp_path / JOURNAL).read_text().splitlines()) == 6


def _cli(out, *extra):
    return [sys.executable, "-m", "codecbench.cli", "run", "--limit", "8", "--codecs", "opus@6,codec2@2.4",
            "--metrics", "pesq_wb", "--workers", "1", "--no-progress", "--out", str(out), *extra]


def _stop_after_rows(command, rows, sig):
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    journal = command[command.index("--out") + 1] + "/" + JOURNAL
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if len(open(journal).read().splitlines()) >= rows:
                break
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    process.send_signal(sig)
    process.wait(timeout=60)
    return process


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_interrupted_run_resumes_without_duplicates(tmp_path, sig):
    out = tmp_path / "run"
    process = _stop_after_rows(_cli(out), 5, sig)
    assert process.returncode != 0
    stored = len((out / JOURNAL).read_text().splitlines())
    assert 5 <= stored < 16
    if sig == signal.SIGINT:
        assert process.returncode == 130
        assert b"--resume" in process.stderr.read()
        assert len(pd.read_parquet(out / "utterances.parquet")) == stored  # tables written on Ctrl-C
    subprocess.run(_cli(out, "--resume"), check=True, capture_output=True)
    rows = pd.read_parquet(out / "utterances.parquet")
    assert len(rows) == 16 and not rows.duplicated(["utterance", "spec"]).any()
    assert len((out / JOURNAL).read_text().splitlines()) == 16  # nothing was coded twice
    fresh = tmp_path / "fresh"
    subprocess.run(_cli(fresh), check=True, capture_output=True)
    np.testing.assert_allclose(rows["pesq_wb"], pd.read_parquet(fresh / "utterances.parquet")["pesq_wb"])


def test_a_declared_delay_replaces_the_cross_correlation_search(speech):
    from codecbench.codecs.opus import OpusCodec
    from codecbench.codecs.reference import ReferenceCodec
    from codecbench.runner import score_pair

    reference = speech[:32000]
    delayed = np.concatenate([np.zeros(80, np.float32), reference])
    assert score_pair(reference, delayed, 16000, ["stoi"], 4000)["delay_samples"] == 80
    declared = score_pair(reference, delayed, 16000, ["stoi"], 4000, known_delay=80)
    assert declared["delay_samples"] == 80 and declared["values"]["stoi"] > 0.99
    wrong = score_pair(reference, delayed, 16000, ["stoi"], 4000, known_delay=0)["values"]["stoi"]
    assert wrong < declared["values"]["stoi"]
    assert OpusCodec.known_delay_at(16000) is None  # Opus is found by cross-correlation

    class DelayedReference(ReferenceCodec):
        known_delay_samples = 8

    assert DelayedReference.known_delay_at(48000) == 24

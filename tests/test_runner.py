"""The runner: output contract, summary, provenance, resume (faults: test_fault_injection.py)."""

import json

import numpy as np
import pandas as pd
import pytest
from run_helpers import SHORT_UTTERANCES, copy_utterances

from codecbench.cli import main
from codecbench.journal import Journal
from codecbench.rundir import JOURNAL, RunFolderError
from codecbench.runner import run_benchmark

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
    assert info["versions"]["pesq"] and info["versions"]["opuslib-next-bundled"]
    assert info["dataset"]["utterances"] == 3 and len(info["dataset"]["manifest_sha256"]) == 64
    opus = info["codecs"]["opus@6"]["provenance"]  # the libopus that coded, not PyAV's (no longer used for Opus)
    assert opus["binding"].startswith("opuslib-next-bundled") and opus["libopus"] and opus["dred"] is False
    manifest = pd.read_csv(finished_run.out / "manifest.csv")
    assert manifest["sha256"].str.len().eq(64).all()


def test_existing_run_is_not_overwritten_silently(finished_run, short_selection):
    with pytest.raises(RunFolderError, match="--resume"):
        run_benchmark(short_selection, ["opus@6"], ["pesq_wb", "stoi"], finished_run.out, progress=False)
    with pytest.raises(RunFolderError, match="different metrics"):
        run_benchmark(short_selection, ["opus@6"], ["pesq_nb"], finished_run.out, resume=True, progress=False)


def test_resume_adds_only_new_pairs(tmp_path, short_selection):
    run_benchmark(short_selection, ["opus@6"], ["pesq_wb"], tmp_path, progress=False)
    result = run_benchmark(short_selection, ["opus@6", "opus@12"], ["pesq_wb"], tmp_path, resume=True,
                           progress=False)
    assert len(result.rows) == 6
    assert len(Journal(tmp_path / JOURNAL).records()) == 6


def test_resume_defaults_to_the_runs_codecs_and_metrics(tmp_path, librispeech_root, capsys):
    data = copy_utterances(librispeech_root, SHORT_UTTERANCES[:1], tmp_path / "data")
    common = ["run", "--dataset", "folder", "--root", str(data), "--out", str(tmp_path / "run"), "--workers", "1",
              "--no-progress"]
    assert main([*common, "--codecs", "opus@12", "--metrics", "lsd"]) == 0
    assert main([*common, "--resume"]) == 0  # not the demo's codecs and default metrics: the run's own
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["config"]["specs"] == ["opus@12"] and info["invocations"][-1]["todo"] == 0


def test_run_json_records_the_versions_of_the_packages_its_plugins_declare(tmp_path, short_selection):
    """gan-mel declares safetensors (`requires`), which no fixed list of packages names: run.json records it."""
    from importlib.metadata import version

    from codecbench.datasets import Selection

    one = Selection(short_selection.dataset, short_selection.root, short_selection.split,
                    short_selection.utterances[:1])
    run_benchmark(one, ["gan-mel"], ["stoi"], tmp_path / "run", workers=1, progress=False)
    versions = json.loads((tmp_path / "run" / "run.json").read_text())["invocations"][0]["versions"]
    assert versions["safetensors"] == version("safetensors") and versions["pesq"]

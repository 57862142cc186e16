"""`--root URI`: input audio is read where it lives (here S3, through s3fs), in the driver and in every engine's
workers, and a run on it equals the run on a local copy value for value. The S3 endpoint is moto's standalone
server on 127.0.0.1 (real HTTP requests through botocore and s3fs; no network, dummy credentials)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from run_helpers import comparable

from codecbench.benchmarks.remote_data import local_s3, upload_tree
from codecbench.journal import Journal
from codecbench.rundir import JOURNAL
from codecbench.storage import data_path

pytest.importorskip("s3fs")
pytest.importorskip("upath")
pytest.importorskip("moto.server")

BUCKET = "corpora"
SECRET = "codecbench-test-secret-key"  # must never reach a run folder
RUN_ARGS = ["--split", "sample", "--limit", "3", "--codecs", "opus@6", "--metrics", "stoi", "--no-progress"]


@pytest.fixture(scope="module")
def s3_env(librispeech_root):
    """The environment of a process that reads `s3://corpora/...` from moto's server: the embedded sample under
    `LibriSpeech/sample/`, and a folder `messy/` with a good and a corrupt file."""
    with local_s3(BUCKET, SECRET) as (env, client):
        upload_tree(client, BUCKET, librispeech_root / "sample", "LibriSpeech/sample")
        good = next((librispeech_root / "sample").rglob("1688-142285-0002.flac"))
        client.upload_file(str(good), BUCKET, "messy/spk/good.flac")
        client.put_object(Bucket=BUCKET, Key="messy/spk/corrupt.flac", Body=b"fLaC" + bytes(range(256)) * 20)
        yield env


def _run(out: Path, root: str, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "codecbench.cli", "run", "--root", root, *RUN_ARGS, "--out", str(out), *extra]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)


def _table(out: Path) -> pd.DataFrame:
    return comparable(pd.read_parquet(out / "utterances.parquet"))


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, librispeech_root) -> Path:
    """The same run on the local copy of the data: the reference."""
    out = tmp_path_factory.mktemp("local") / "run"
    done = _run(out, str(librispeech_root), "--workers", "1")
    assert done.returncode == 0, done.stderr
    return out


def test_a_run_on_s3_gives_the_rows_of_the_local_copy_and_records_the_uri(tmp_path, s3_env, local_run):
    out = tmp_path / "s3"
    done = _run(out, f"s3://{BUCKET}/LibriSpeech", "--workers", "1", env=s3_env)
    assert done.returncode == 0, done.stderr
    assert f"from s3://{BUCKET}/LibriSpeech" in done.stdout
    pd.testing.assert_frame_equal(_table(out), _table(local_run))
    info = json.loads((out / "run.json").read_text())
    assert info["config"]["dataset_root"] == info["dataset"]["root"] == f"s3://{BUCKET}/LibriSpeech"
    manifest, local_manifest = pd.read_csv(out / "manifest.csv"), pd.read_csv(local_run / "manifest.csv")
    assert manifest["path"].str.startswith(f"s3://{BUCKET}/LibriSpeech/sample/").all()
    assert manifest["sha256"].tolist() == local_manifest["sha256"].tolist()
    assert info["dataset"]["manifest_sha256"] == json.loads((local_run / "run.json").read_text())["dataset"]["manifest_sha256"]
    assert not [p.name for p in out.iterdir() if p.is_file() and SECRET.encode() in p.read_bytes()]


def test_local_pool_workers_give_the_same_rows_from_s3(tmp_path, s3_env, local_run):
    out = tmp_path / "s3-pool"
    done = _run(out, f"s3://{BUCKET}/LibriSpeech", "--workers", "2", env=s3_env)
    assert done.returncode == 0, done.stderr
    pd.testing.assert_frame_equal(_table(out), _table(local_run))


def test_ray_actors_read_the_input_from_s3(tmp_path, s3_env, local_run):
    pytest.importorskip("ray")
    out = tmp_path / "s3-ray"
    done = _run(out, f"s3://{BUCKET}/LibriSpeech", "--engine", "ray", "--workers", "2", "--threads", "1", env=s3_env)
    assert done.returncode == 0, done.stderr
    pd.testing.assert_frame_equal(_table(out), _table(local_run))


def test_a_resumed_s3_run_codes_only_what_is_missing_and_keeps_its_uri(tmp_path, s3_env, local_run,
                                                                      librispeech_root):
    out, root = tmp_path / "s3-resume", f"s3://{BUCKET}/LibriSpeech"
    first = _run(out, root, "--workers", "1", env=s3_env)
    assert first.returncode == 0, first.stderr
    _keep_journal_rows(out, 2)
    resumed = _run(out, root, "--workers", "1", "--resume", env=s3_env)
    assert resumed.returncode == 0, resumed.stderr
    info = json.loads((out / "run.json").read_text())
    assert [i.get("todo") for i in info["invocations"]] == [3, 1]
    pd.testing.assert_frame_equal(_table(out), _table(local_run))
    elsewhere = _run(out, str(librispeech_root), "--workers", "1", "--resume", env=s3_env)
    assert elsewhere.returncode == 2 and "dataset_root" in elsewhere.stderr, elsewhere.stderr


def _keep_journal_rows(out: Path, n: int) -> None:
    """Rewrite the run's journal with its first `n` rows, as if the run had stopped after them."""
    records = Journal(out / JOURNAL).records()
    (out / JOURNAL).unlink()
    journal = Journal(out / JOURNAL)
    for record in records[:n]:
        journal.append(record)
    journal.close()


def test_a_corrupt_file_at_a_uri_is_an_error_row_and_the_run_goes_on(tmp_path, s3_env):
    out = tmp_path / "messy"
    command = [sys.executable, "-m", "codecbench.cli", "run", "--dataset", "folder", "--root", f"s3://{BUCKET}/messy",
               "--codecs", "opus@6", "--metrics", "stoi", "--workers", "1", "--no-progress", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, env=s3_env, timeout=600)
    assert done.returncode == 0, done.stderr
    rows = pd.read_parquet(out / "utterances.parquet").set_index("utterance")
    assert rows.loc["spk/corrupt", "error"].startswith("cannot read audio")
    assert rows["stoi"].isna().tolist() == [True, False]
    assert rows.loc["spk/good", "error"] == ""


def _scheme_without_its_package() -> tuple[str, str]:
    """A URI scheme fsspec knows whose filesystem package is not installed here, and that package."""
    for scheme, package in (("gs", "gcsfs"), ("az", "adlfs"), ("oci", "ocifs")):
        if importlib.util.find_spec(package) is None:
            return scheme, package
    pytest.skip("gcsfs, adlfs and ocifs are all installed")


def test_a_missing_filesystem_package_is_a_one_line_error_naming_it(tmp_path):
    scheme, package = _scheme_without_its_package()
    done = _run(tmp_path / "out", f"{scheme}://bucket/LibriSpeech")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert package in done.stderr and f"{scheme}://bucket/LibriSpeech" in done.stderr
    assert not (tmp_path / "out").exists()


def test_an_unreadable_uri_is_a_one_line_error(tmp_path, s3_env):
    done = _run(tmp_path / "out", f"s3://{BUCKET}/nothing-here", env=s3_env)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"codecbench run: error: --root s3://{BUCKET}/nothing-here is not a readable directory"]


def test_credentials_in_a_uri_are_refused_without_repeating_them():
    with pytest.raises(ValueError, match="credentials") as raised:
        data_path(f"s3://codecbench-test:{SECRET}@{BUCKET}/LibriSpeech")
    assert SECRET not in str(raised.value)

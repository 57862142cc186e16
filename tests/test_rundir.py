"""The run folder: a journal that cannot lose or glue records, resume checks, and run.json merging."""

import json

import pandas as pd
import pytest
from run_helpers import SHORT_UTTERANCES, copy_utterances

from codecbench.datasets import select
from codecbench.journal import Journal, JournalError
from codecbench.rundir import JOURNAL, MANIFEST, RunDir, RunFolderError
from codecbench.runner import run_benchmark


def test_journal_detects_and_cuts_a_torn_tail(tmp_path):
    journal = Journal(tmp_path / "j")
    for k in range(3):
        journal.append({"k": k, "text": "ü" * k})
    journal.close()
    whole = journal.path.read_bytes()
    for cut in range(1, len(whole.split(b"\n")[2]) + 1):  # every possible torn length of the last record
        journal.path.write_bytes(whole[: len(whole) - cut])
        records, tail = journal.scan()
        assert [r["k"] for r in records] == [0, 1] and tail is not None
    assert journal.repair() is not None and journal.path.read_bytes() == whole[: whole.rfind(b"\n", 0, -1) + 1]
    journal.append({"k": 3})
    assert [r["k"] for r in journal.records()] == [0, 1, 3] and journal.repair() is None


def test_a_complete_line_with_a_wrong_checksum_is_not_a_record(tmp_path):
    journal = Journal(tmp_path / "j")
    journal.append({"k": 0})
    journal.append({"k": 1})
    journal.close()
    lines = journal.path.read_bytes().split(b"\n")
    journal.path.write_bytes(lines[0] + b"\n" + lines[1].replace(b'"k":1', b'"k":7') + b"\n")  # same length
    assert [r["k"] for r in journal.records()] == [0]
    journal.path.write_bytes(lines[0][:-3] + b"\n" + lines[1] + b"\n")  # damage before a good record
    with pytest.raises(JournalError, match="corrupt at byte 0"):
        journal.records()


@pytest.fixture()
def data(tmp_path, librispeech_root):
    return copy_utterances(librispeech_root, SHORT_UTTERANCES, tmp_path / "data")


def _run(data, out, specs, limit=None, **options):
    return run_benchmark(select("folder", data, limit=limit), specs, ["lsd"], out, progress=False,
                         command=["codecbench", "run", *specs], **options)


def test_a_resume_must_cover_the_run_and_a_superset_extends_it(tmp_path, data):
    out = tmp_path / "run"
    _run(data, out, ["opus@6"], limit=3)
    with pytest.raises(RunFolderError, match="selects 2 utterances but the run in .* has 3; not selected: "
                                             f"{SHORT_UTTERANCES[2]}"):
        _run(data, out, ["opus@6"], limit=2, resume=True)
    with pytest.raises(RunFolderError, match=r"leaves out codec specs .*\['opus@6'\]"):
        _run(data, out, ["opus@12"], limit=3, resume=True)
    with pytest.raises(RunFolderError, match="different seed"):
        _run(data, out, ["opus@6"], limit=3, resume=True, seed=1)
    with pytest.raises(RunFolderError, match="different align \\('xcorr'\\)"):
        _run(data, out, ["opus@6"], limit=3, resume=True, align="xcorr")
    with pytest.raises(RunFolderError, match="already holds a run"):
        _run(data, out, ["opus@6"], limit=3)

    result = _run(data, out, ["opus@6", "opus@12"], resume=True)
    assert len(result.rows) == 8 and not result.rows.duplicated(["utterance", "spec"]).any()
    manifest = pd.read_csv(out / MANIFEST)
    assert manifest["utterance"].tolist() == sorted(SHORT_UTTERANCES)
    info = json.loads((out / "run.json").read_text())
    assert info["config"]["specs"] == ["opus@6", "opus@12"] and info["dataset"]["utterances"] == 4
    assert info["config"]["align"] == "auto"
    assert set(result.rows["delay_method"]) <= {"envelope+waveform", "envelope"} and not result.rows["delay_flag"].any()
    assert (result.rows["delay_confidence"] >= 0.1).all()
    assert info["command"] == "codecbench run opus@6"  # the run's first command is kept
    first, second = info["invocations"]
    assert (first["resumed"], first["todo"], second["resumed"], second["todo"]) == (False, 3, True, 5)
    assert set(info["codecs"]) == {"opus@6", "opus@12"} and set(second["codecs"]) == {"opus@6", "opus@12"}
    assert info["metrics"]["lsd"]["columns"] == ["lsd"] and info["metrics"]["lsd"]["higher_is_better"] is False
    assert len(Journal(out / JOURNAL).records()) == 8


def test_resume_of_a_folder_without_a_manifest_is_refused(tmp_path, data):
    out = tmp_path / "run"
    _run(data, out, ["opus@6"], limit=1)
    (out / MANIFEST).unlink()
    with pytest.raises(RunFolderError, match="manifest.csv"):
        _run(data, out, ["opus@6"], limit=1, resume=True)


def test_one_writer_at_a_time(tmp_path):
    run_dir = RunDir(tmp_path / "run")
    with run_dir.lock():
        with pytest.raises(RunFolderError, match="another codecbench process"):
            with RunDir(tmp_path / "run").lock():
                pass
    with run_dir.lock():  # released
        pass


def test_a_run_of_the_old_format_is_not_resumed(tmp_path, data):
    out = tmp_path / "run"
    out.mkdir()
    (out / "rows.jsonl").write_text('{"utterance": "x", "spec": "opus@6"}\n')
    with pytest.raises(RunFolderError, match="older codecbench"):
        _run(data, out, ["opus@6"], limit=1, resume=True)


def test_extra_columns_do_not_depend_on_the_order_rows_arrived(tmp_path):
    """Engines finish rows in any order; the table's columns must not follow it (codec-measured columns, then the
    multi-seed columns)."""
    base = {"utterance": "u1", "speaker": "s", "split": "x", "duration_s": 1.0, "codec": "c", "target_kbps": 6.0,
            "measured_kbps": 6.0, "delay_samples": 0, "stoi": 0.9, "error": "", "payload_bytes": 10, "seed": 0}
    opus = {**base, "spec": "opus@6", "packets_rejected": 0.0}
    diffusion = {**base, "spec": "mel2mel@1.5", "denoiser_calls": 20.0, "n_seeds": 2, "stoi_seed_std": 0.01}
    tables = []
    for order in ([opus, diffusion], [diffusion, opus]):
        folder = tmp_path / order[0]["spec"]
        folder.mkdir()
        journal = Journal(folder / JOURNAL)
        for record in order:
            journal.append(record)
        journal.close()
        tables.append(RunDir(folder).table(["stoi"]))
    assert list(tables[0].columns) == list(tables[1].columns)
    assert list(tables[0].columns)[-4:] == ["denoiser_calls", "packets_rejected", "n_seeds", "stoi_seed_std"]

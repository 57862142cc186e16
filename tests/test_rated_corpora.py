"""ODAQ and NISQA Corpus recipes and readers, on tiny synthetic copies of their layouts built from the embedded
Stahl et al. 2024 audio (no network: the archives are served from file:// URLs)."""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import soundfile as sf

from codecbench.cli import main
from codecbench.datasets.rated_corpora import ODAQ, Archive, download_odaq, fetch
from codecbench.ratings import read_source
from codecbench.ratings.nisqa import read_nisqa
from codecbench.ratings.stahl import STAHL2024

AUDIO = STAHL2024.embedded / "audio"
# ODAQ-style stimulus name -> the embedded file standing in for it
STIMULI = {"reference": "ref", "Q1": "lyra_6", "Q3": "prop_13", "Q5": "prop_55", "lp35": "audiodec_8"}


def _wav(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    data, rate = sf.read(source)
    sf.write(target, data, rate)


def _odaq(root: Path) -> Path:
    """ODAQ/ODAQ_listening_test with two trials, three listeners (the listening-test-app's XML)."""
    folder = root / "ODAQ" / "ODAQ_listening_test"
    for trial, stim in (("DE_itemA", "stim_01"), ("LP_itemB", "stim_02")):
        for name, ours in STIMULI.items():
            _wav(AUDIO / stim / f"{ours}.flac", folder / trial / f"{name}.wav")
    for listener, offset in (("s1", 0), ("s2", 5), ("s3", -5)):
        trials = "".join(
            f'<trial trialName="{trial}" trialSeconds="30" referencePlays="2">'
            + "".join(f'<testFile fileName="{name}.wav" plays="1" score="{score + offset}"/>'
                      for name, score in (("reference", 95), ("Q1", 40), ("Q3", 55), ("Q5", 70), ("lp35", 20)))
            + "</trial>" for trial in ("DE_itemA", "LP_itemB"))
        (folder / f"{listener}.xml").write_text(
            f'<?xml version="1.0"?><MUSHRA><info subjectName="{listener}" testName="ODAQ" stimuliDirectory="x" '
            f'trialsPerSession="2" testStatus="complete"/>{trials}</MUSHRA>')
    return root


def _zip(folder: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w") as handle:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                handle.write(path, path.relative_to(folder))
    return archive


def test_odaq_layout_reads_as_a_ratings_table_and_its_stimuli_score(tmp_path, capsys):
    root = _odaq(tmp_path / "copy")
    ratings = read_source(root)
    assert ratings.source.startswith("ODAQ") and ratings.reference == "reference" and ratings.anchors == ("lp35",)
    assert len(ratings.table) == 3 * 2 * 5 and set(ratings.table["listener"]) == {"s1", "s2", "s3"}
    assert (ratings.table["file"] != "").all()
    pairs = ratings.pairs()
    assert sorted((p.item, p.condition) for p in pairs) == sorted(
        (t, c) for t in ("DE_itemA", "LP_itemB") for c in ("Q1", "Q3", "Q5", "lp35"))
    assert all(p.reference.name == "reference.wav" for p in pairs)
    out = tmp_path / "validity"
    assert main(["validity", str(root), "--out", str(out), "--metrics", "lsd", "--resamples", "100",
                 "--no-plots", "--no-progress", "--align", "none"]) == 0
    assert "lsd" in capsys.readouterr().out


def test_odaq_download_verifies_the_published_digest_and_extracts_once(tmp_path):
    archive = _zip(_odaq(tmp_path / "src"), tmp_path / "ODAQ.zip")
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    copy = Archive("odaq", archive.as_uri(), "ODAQ.zip", md5, "md5", None, "test")
    root = fetch(copy, tmp_path / "cache")
    assert read_source(root).reference == "reference" and (root / ".completed").is_file()
    archive.write_bytes(b"changed")  # a completed download is not fetched again
    assert fetch(copy, tmp_path / "cache") == root
    wrong = Archive("odaq", archive.as_uri(), "ODAQ.zip", "0" * 32, "md5", None, "test")
    with pytest.raises(ValueError, match="md5 mismatch"):
        fetch(wrong, tmp_path / "other")
    with pytest.raises(ConnectionError, match="put it at"):  # no network: says where a copy goes
        download_odaq(tmp_path / "offline", url="http://127.0.0.1:9/ODAQ.zip")
    assert ODAQ.algorithm == "md5" and len(ODAQ.checksum) == 32


def _nisqa(root: Path) -> Path:
    corpus = root / "NISQA_Corpus"
    rows = []
    for db, stim in (("NISQA_VAL_SIM", "stim_01"), ("NISQA_VAL_LIVE", "stim_02")):
        for con, name in enumerate(("lyra_6", "prop_55"), start=1):
            deg = f"{db}/deg/{stim}_{name}.wav"
            _wav(AUDIO / stim / f"{name}.flac", corpus / deg)
            ref = ""
            if db.endswith("SIM"):
                ref = f"{db}/ref/{stim}.wav"
                _wav(AUDIO / stim / "ref.flac", corpus / ref)
            rows.append({"db": db, "con": con, "file": Path(deg).name, "votes": 5, "mos": 2.5 + con,
                         "noi": 3, "col": 3, "dis": 3, "loud": 3, "filepath_deg": deg, "filepath_ref": ref})
    pd.DataFrame(rows).to_csv(corpus / "NISQA_corpus_file.csv", index=False)
    return root


def test_nisqa_download_records_a_digest_then_reads_per_file_mos_and_pairs(tmp_path, capsys):
    archive = _zip(_nisqa(tmp_path / "src"), tmp_path / "NISQA_Corpus.zip")
    unpublished = Archive("nisqa", archive.as_uri(), "NISQA_Corpus.zip", None, "sha256", None, "test")
    root = fetch(unpublished, tmp_path / "cache")
    recorded = (root / "NISQA_Corpus.zip.sha256").read_text().split()[0]
    assert recorded == hashlib.sha256(archive.read_bytes()).hexdigest() and "recorded sha256" in capsys.readouterr().err
    (root / ".completed").unlink()
    shutil.copy(archive, tmp_path / "changed.zip")
    with zipfile.ZipFile(tmp_path / "changed.zip", "a") as handle:
        handle.writestr("extra.txt", "x")
    (root / "NISQA_Corpus.zip").unlink()
    changed = Archive("nisqa", (tmp_path / "changed.zip").as_uri(), "NISQA_Corpus.zip", None, "sha256", None, "t")
    with pytest.raises(ValueError, match="sha256 mismatch"):  # later downloads must match the recorded digest
        fetch(changed, root)
    files = read_nisqa(root / "NISQA_Corpus")
    assert len(files.table) == 4 and files.table["mos"].tolist() == [3.5, 4.5, 3.5, 4.5]
    assert [(p.item, p.condition) for p in files.pairs()] == [("stim_01_lyra_6", "NISQA_VAL_SIM con 1"),
                                                             ("stim_01_prop_55", "NISQA_VAL_SIM con 2")]
    with pytest.raises(ValueError, match="no database"):
        read_nisqa(root / "NISQA_Corpus", ["NISQA_TEST_X"])
    pairs = files.pairs_csv(tmp_path / "pairs.csv")
    assert main(["score", "--pairs", str(pairs), "--out", str(tmp_path / "run"), "--metrics", "lsd",
                 "--no-progress"]) == 0
    assert len(pd.read_csv(tmp_path / "run" / "utterances.csv")) == 2

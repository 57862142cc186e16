import pytest

from codecbench.datasets import librispeech, select


def test_librispeech_sample_layout(librispeech_root):
    selection = select("librispeech", librispeech_root, "test-other")
    assert len(selection.utterances) == 70
    assert len({u.speaker for u in selection.utterances}) == 7
    first = selection.utterances[0]
    assert (first.id, first.speaker, first.chapter, first.split) == ("1688-142285-0000", "1688", "142285", "test-other")
    assert first.transcript is None  # no *.trans.txt in the sample
    assert [u.id for u in selection.utterances] == sorted(u.id for u in selection.utterances)


def test_limit_is_deterministic(librispeech_root):
    a = select("librispeech", librispeech_root, "test-other", limit=5).utterances
    b = select("librispeech", librispeech_root, "test-other", limit=5).utterances
    assert a == b and len(a) == 5
    with pytest.raises(ValueError):
        select("librispeech", librispeech_root, "test-other", limit=-1)


def test_transcripts_are_read_when_present(tmp_path, librispeech_root):
    chapter = tmp_path / "dev" / "1688" / "142285"
    chapter.mkdir(parents=True)
    source = librispeech_root / "test-other" / "1688" / "142285" / "1688-142285-0000.flac"
    (chapter / source.name).write_bytes(source.read_bytes())
    (chapter / "1688-142285.trans.txt").write_text("1688-142285-0000 HELLO WORLD\n")
    (utt,) = librispeech.prepare(tmp_path, "dev")
    assert utt.transcript == "HELLO WORLD"


def test_root_resolution_order(tmp_path, monkeypatch, librispeech_root):
    monkeypatch.setenv(librispeech.DATA_ENV, str(librispeech_root))
    assert librispeech.resolve_root(None, "test-other", allow_download=False) == (librispeech_root, "test-other")
    with pytest.raises(FileNotFoundError, match="--download"):
        librispeech.resolve_root(tmp_path, "test-other", allow_download=False)
    monkeypatch.setenv(librispeech.DATA_ENV, str(tmp_path))
    monkeypatch.setenv("CODECBENCH_CACHE", str(tmp_path / "cache"))
    with pytest.raises(FileNotFoundError, match="no LibriSpeech split 'dev-clean-9'"):
        librispeech.resolve_root(None, "dev-clean-9", allow_download=False)


def test_download_parts_are_checksummed():
    for split, (url, algorithm, checksum) in librispeech.PARTS.items():
        assert url.startswith("https://www.openslr.org/resources/") and url.endswith(f"/{split}.tar.gz")
        assert len(checksum) == {"sha256": 64, "md5": 32}[algorithm]


def test_checksum_mismatch_removes_the_file(tmp_path):
    import hashlib

    from codecbench.datasets.download import download

    served = tmp_path / "served.tar.gz"
    served.write_bytes(b"not the archive")
    target = tmp_path / "cache" / "a.tar.gz"
    with pytest.raises(ValueError, match="sha256 mismatch .* expected 0000"):
        download(served.as_uri(), target, "0" * 64)  # the transfer works, the bytes are wrong
    assert not target.exists() and not target.with_suffix(".gz.partial").exists()
    good = hashlib.sha256(served.read_bytes()).hexdigest()
    assert download(served.as_uri(), target, good) == target and target.read_bytes() == served.read_bytes()
    with pytest.raises(OSError, match="cannot download"):
        download((tmp_path / "absent.tar.gz").as_uri(), tmp_path / "b.tar.gz", good)


def test_folder_dataset_ids(tmp_path, librispeech_root):
    source = librispeech_root / "test-other" / "1688" / "142285" / "1688-142285-0000.flac"
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.flac").write_bytes(source.read_bytes())
    (tmp_path / "top.flac").write_bytes(source.read_bytes())
    utterances = select("folder", tmp_path).utterances
    assert [(u.id, u.speaker) for u in utterances] == [("a/x", "a"), ("top", "")]

import hashlib
import re

import pytest
import soundfile as sf

from codecbench import resources
from codecbench.datasets import librispeech, select


def test_embedded_sample_is_the_default_selection():
    selection = select()  # no dataset flags: what the demo runs on
    assert (selection.root, selection.split) == (librispeech.EMBEDDED_ROOT, "sample")
    assert len(selection.utterances) == 14
    assert len({u.speaker for u in selection.utterances}) == 7
    assert all(re.fullmatch(r"\d+-\d+-000[23]", u.id) for u in selection.utterances)
    first = selection.utterances[0]
    assert (first.id, first.speaker, first.chapter, first.split) == ("1688-142285-0002", "1688", "142285", "sample")
    assert first.transcript is None  # no *.trans.txt in the sample
    assert [u.id for u in selection.utterances] == sorted(u.id for u in selection.utterances)


def test_embedded_sample_is_real_licensed_and_checksummed():
    root = librispeech.EMBEDDED_ROOT
    readme = (root / "README.md").read_text()
    assert "Creative Commons Attribution 4.0" in (root / "LICENSE.TXT").read_text()
    assert "Attribution 4.0 International" in (root / "CC-BY-4.0.txt").read_text()
    speakers = [line.split("|")[0].strip() for line in (root / "SPEAKERS.TXT").read_text().splitlines()
                if not line.startswith(";")]
    total_bytes = 0
    for utt in select().utterances:
        info = sf.info(utt.path)
        assert (info.samplerate, info.channels, info.format) == (16000, 1, "FLAC")
        assert hashlib.sha256(utt.path.read_bytes()).hexdigest() in readme  # the published list of files
        assert utt.speaker in speakers
        total_bytes += utt.path.stat().st_size
    assert sorted(speakers) == sorted({u.speaker for u in select().utterances})
    assert total_bytes <= 4_000_000


def test_limit_is_deterministic(librispeech_root):
    a = select("librispeech", librispeech_root, "sample", limit=5).utterances
    b = select("librispeech", librispeech_root, "sample", limit=5).utterances
    assert a == b and len(a) == 5
    for bad in (0, -1):
        with pytest.raises(ValueError, match="--limit must be at least 1"):
            select("librispeech", librispeech_root, "sample", limit=bad)


def test_transcripts_are_read_when_present(tmp_path, librispeech_root):
    chapter = tmp_path / "dev" / "1688" / "142285"
    chapter.mkdir(parents=True)
    source = librispeech_root / "sample" / "1688" / "142285" / "1688-142285-0002.flac"
    (chapter / source.name).write_bytes(source.read_bytes())
    (chapter / "1688-142285.trans.txt").write_text("1688-142285-0002 HELLO WORLD\n")
    (utt,) = librispeech.prepare(tmp_path, "dev")
    assert utt.transcript == "HELLO WORLD"


def _split_copy(base, librispeech_root, split="test-other"):
    """A LibriSpeech root under `base` whose `split` holds one real utterance."""
    chapter = base / split / "1688" / "142285"
    chapter.mkdir(parents=True)
    source = librispeech_root / "sample" / "1688" / "142285" / "1688-142285-0002.flac"
    (chapter / source.name).write_bytes(source.read_bytes())
    return base


def test_root_resolution_order(tmp_path, monkeypatch, librispeech_root):
    roots = {place: _split_copy(tmp_path / place / "LibriSpeech", librispeech_root)
             for place in ("explicit", "env", "cache/data", "shared/data")}
    monkeypatch.delenv(librispeech.DATA_ENV, raising=False)
    monkeypatch.setenv("CODECBENCH_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(resources, "shared_dirs", lambda: [])
    with pytest.raises(FileNotFoundError, match="no LibriSpeech split 'test-other' found .*--download"):
        librispeech.resolve_root(None, "test-other", allow_download=False)
    assert librispeech.resolve_root(None, "sample", False) == (librispeech.EMBEDDED_ROOT, "sample")
    monkeypatch.setattr(resources, "shared_dirs", lambda: [tmp_path / "shared"])
    assert librispeech.resolve_root(None, "test-other", False) == (roots["shared/data"], "test-other")
    monkeypatch.setenv("CODECBENCH_CACHE", str(tmp_path / "cache"))
    assert librispeech.resolve_root(None, "test-other", False) == (roots["cache/data"], "test-other")
    monkeypatch.setenv(librispeech.DATA_ENV, str(roots["env"]))
    assert librispeech.resolve_root(None, "test-other", False) == (roots["env"], "test-other")
    assert librispeech.resolve_root(roots["explicit"], "test-other", False) == (roots["explicit"], "test-other")
    with pytest.raises(FileNotFoundError, match="no split 'dev-clean' under --root .*--download"):
        librispeech.resolve_root(roots["explicit"], "dev-clean", allow_download=False)
    monkeypatch.setenv(librispeech.DATA_ENV, str(tmp_path / "nowhere"))  # a wrong variable is never skipped
    with pytest.raises(FileNotFoundError, match=r"\$CODECBENCH_DATA"):
        librispeech.resolve_root(None, "test-other", allow_download=False)


def test_download_without_network_names_url_and_alternatives(tmp_path, monkeypatch):
    monkeypatch.setitem(librispeech.PARTS, "dev-clean-2", ("http://127.0.0.1:9/dev-clean-2.tar.gz", "md5", "0" * 32))
    with pytest.raises(ConnectionError) as info:
        librispeech.download_split("dev-clean-2", tmp_path)
    message = str(info.value)
    assert "http://127.0.0.1:9/dev-clean-2.tar.gz" in message and "--root" in message and "--split sample" in message
    assert not list((tmp_path / "archives").glob("*"))  # no partial file left behind


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
    source = librispeech_root / "sample" / "1688" / "142285" / "1688-142285-0002.flac"
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.flac").write_bytes(source.read_bytes())
    (tmp_path / "top.flac").write_bytes(source.read_bytes())
    utterances = select("folder", tmp_path).utterances
    assert [(u.id, u.speaker) for u in utterances] == [("a/x", "a"), ("top", "")]

"""Download recipes of public listening-test corpora (ODAQ, the NISQA Corpus) into the user cache.

    download_odaq()  -> <cache>/ratings/odaq/ODAQ/...          (read with codecbench.ratings.odaq.read_odaq)
    download_nisqa() -> <cache>/ratings/nisqa/NISQA_Corpus/...  (read with codecbench.ratings.nisqa.read_nisqa)

ODAQ's checksum is the MD5 its Zenodo record publishes for `ODAQ.zip`. The NISQA Corpus's host publishes no
checksum: the first download records the SHA-256 of what arrived (`NISQA_Corpus.zip.sha256` beside it, printed)
and every later download must match it. A `.completed` marker makes re-runs cheap. Neither was downloaded on the
machine this recipe was written on (no network there): the URLs and the size are the publishers' as cited.
"""

from __future__ import annotations

import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from codecbench.datasets.download import download
from codecbench.resources import cache_dir, file_digest

COMPLETED = ".completed"


@dataclass(frozen=True)
class Archive:
    """A corpus archive and where its facts come from.

    Args:
        name: the corpus's cache folder name.
        url: where the archive is downloaded from.
        filename: the archive's file name.
        checksum: its published digest (None: the publisher gives none; the first download records one).
        algorithm: the digest's hashlib name.
        size: its published size in bytes (None: not published).
        source: where the URL and checksum are published.
    """

    name: str
    url: str
    filename: str
    checksum: str | None
    algorithm: str
    size: int | None
    source: str


# Zenodo record 10405774 (doi:10.5281/zenodo.10405774) lists one file, ODAQ.zip, with this size and MD5; the URL is
# Zenodo's file address of that record.
ODAQ = Archive("odaq", "https://zenodo.org/records/10405774/files/ODAQ.zip", "ODAQ.zip",
               "9b4c1eba479ea698995798523eb80999", "md5", 1_048_071_792,
               "Zenodo record 10405774 (Torcoli et al., ODAQ), linked from github.com/Fraunhofer-IIS/ODAQ")
# The address the NISQA Corpus Wiki (github.com/gabrielmittag/NISQA/wiki/NISQA-Corpus) and the ConferencingSpeech
# 2022 challenge give for the corpus (TU Berlin's DepositOnce repository); no checksum is published.
NISQA = Archive("nisqa", "https://depositonce.tu-berlin.de/bitstream/11303/13012.5/9/NISQA_Corpus.zip",
                "NISQA_Corpus.zip", None, "sha256", None,
                "DepositOnce (TU Berlin), as linked from the NISQA Corpus Wiki")


def extract_zip(archive: Path, destination: Path) -> None:
    """Extract a zip archive, refusing members that would land outside `destination`."""
    destination = destination.resolve()
    with zipfile.ZipFile(archive) as handle:
        for member in handle.namelist():
            target = (destination / member).resolve()
            if target != destination and destination not in target.parents:
                raise ValueError(f"{archive}: member {member!r} would be written outside {destination}")
        handle.extractall(destination)


def fetch(archive: Archive, root: Path | None = None, url: str | None = None) -> Path:
    """Download, verify and extract `archive` under `root` (default: `<cache>/ratings/<name>`); returns `root`.

    Args:
        url: another address of the same archive (a mirror; the checksum still applies).

    Raises:
        ConnectionError: no network (the message says where to put a copy instead).
        ValueError: the archive does not match its published (or first recorded) digest.
    """
    root = Path(root) if root is not None else cache_dir() / "ratings" / archive.name
    if (root / COMPLETED).is_file():
        return root
    target = root / archive.filename
    recorded = target.with_name(target.name + f".{archive.algorithm}")
    expected = archive.checksum or (recorded.read_text().split()[0] if recorded.is_file() else None)
    download(url or archive.url, target, expected, archive.algorithm,
             alternatives=f"download {archive.url} elsewhere and put it at {target} ({archive.source})")
    if expected is None:
        digest = file_digest(target, archive.algorithm)
        recorded.write_text(f"{digest}  {archive.filename}\n")
        print(f"{archive.filename}: its publisher gives no checksum; recorded {archive.algorithm} {digest} in "
              f"{recorded} (later downloads must match it)", file=sys.stderr)
    extract_zip(target, root)
    (root / COMPLETED).write_text(f"{archive.url}\n")
    return root


def download_odaq(root: Path | None = None, url: str | None = None) -> Path:
    """ODAQ (`<root>/ODAQ/ODAQ_listening_test/`: listeners' XML results, one folder of stimuli per trial)."""
    return fetch(ODAQ, root, url)


def download_nisqa(root: Path | None = None, url: str | None = None) -> Path:
    """The NISQA Corpus (`<root>/NISQA_Corpus/NISQA_corpus_file.csv` and its audio)."""
    return fetch(NISQA, root, url)

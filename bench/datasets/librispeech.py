"""LibriSpeech recipe: standard layout `ROOT/SPLIT/SPEAKER/CHAPTER/SPEAKER-CHAPTER-UTT.flac`.

Transcripts (`*.trans.txt`) are read when present and optional otherwise. `download_split` fetches an
official split from OpenSLR (LibriSpeech, resource 12; Mini LibriSpeech, resource 31) and verifies its
checksum; it needs a network, which the development machines of this project do not have.
"""

from __future__ import annotations

import os
from pathlib import Path

from codecbench.datasets.base import Utterance
from codecbench.datasets.download import cache_dir, download, extract

DATA_ENV = "CODECBENCH_DATA"
DEMO_SPLIT = "test-other"  # the split of the bundled sample
DEMO_DOWNLOAD_SPLIT = "dev-clean-2"  # Mini LibriSpeech, 126 MB, when no local data is found

# split -> (url, algorithm, checksum). LibriSpeech sha256 as published with torchaudio's recipe;
# Mini LibriSpeech md5 as published by OpenSLR.
PARTS: dict[str, tuple[str, str, str]] = {
    "dev-clean": ("https://www.openslr.org/resources/12/dev-clean.tar.gz", "sha256",
                  "76f87d090650617fca0cac8f88b9416e0ebf80350acb97b343a85fa903728ab3"),
    "dev-other": ("https://www.openslr.org/resources/12/dev-other.tar.gz", "sha256",
                  "12661c48e8c3fe1de2c1caa4c3e135193bfb1811584f11f569dd12645aa84365"),
    "test-clean": ("https://www.openslr.org/resources/12/test-clean.tar.gz", "sha256",
                   "39fde525e59672dc6d1551919b1478f724438a95aa55f874b576be21967e6c23"),
    "test-other": ("https://www.openslr.org/resources/12/test-other.tar.gz", "sha256",
                   "d09c181bba5cf717b3dee7d4d592af11a3ee3a09e08ae025c5506f6ebe961c29"),
    "train-clean-100": ("https://www.openslr.org/resources/12/train-clean-100.tar.gz", "sha256",
                        "d4ddd1d5a6ab303066f14971d768ee43278a5f2a0aa43dc716b0e64ecbbbf6e2"),
    "train-clean-360": ("https://www.openslr.org/resources/12/train-clean-360.tar.gz", "sha256",
                        "146a56496217e96c14334a160df97fffedd6e0a04e66b9c5af0d40be3c792ecf"),
    "train-other-500": ("https://www.openslr.org/resources/12/train-other-500.tar.gz", "sha256",
                        "ddb22f27f96ec163645d53215559df6aa36515f26e01dd70798188350adcb6d2"),
    "dev-clean-2": ("https://www.openslr.org/resources/31/dev-clean-2.tar.gz", "md5",
                    "6d7ab67ac6a1d2c993d050e16d61080d"),
    "train-clean-5": ("https://www.openslr.org/resources/31/train-clean-5.tar.gz", "md5",
                      "5df7d4e78065366204ca6845bb08f490"),
}


def download_split(split: str, root: Path | None = None) -> Path:
    """Download and extract an official split; returns the LibriSpeech root containing it.

    Idempotent: a `.completed` marker makes a second call free.
    """
    if split not in PARTS:
        raise ValueError(f"no download for split {split!r}; choose one of {sorted(PARTS)}")
    url, algorithm, checksum = PARTS[split]
    base = root if root is not None else cache_dir() / "data"
    librispeech_root = base / "LibriSpeech"
    marker = librispeech_root / f".{split}.completed"
    if marker.exists():
        return librispeech_root
    archive = download(url, base / "archives" / Path(url).name, checksum, algorithm)
    extract(archive, base)
    marker.touch()
    return librispeech_root


def candidate_roots() -> list[Path]:
    """Where a LibriSpeech root is looked for when none is given, in order."""
    candidates = []
    if os.environ.get(DATA_ENV):
        candidates.append(Path(os.environ[DATA_ENV]))
    repo = Path(__file__).resolve().parents[2]  # the checkout, when installed in editable mode
    for base in (repo, Path.cwd()):
        candidates.append(base.parent / "shared" / "data" / "LibriSpeech")
    return candidates


def resolve_root(root: str | Path | None, split: str, allow_download: bool) -> tuple[Path, str]:
    """Find the LibriSpeech root for `split`: `root`, `$CODECBENCH_DATA`, `../shared/data/LibriSpeech`,
    the cache, then (if allowed) a download of the Mini LibriSpeech demo split.

    Returns:
        The root and the split to use (the demo download replaces a missing demo split).
    """
    if root is not None:
        root = Path(root).expanduser()
        if not (root / split).is_dir():
            if allow_download:
                return download_split(split, root.parent if root.name == "LibriSpeech" else root), split
            raise FileNotFoundError(f"no split {split!r} under {root} (expected {root / split}; try --download)")
        return root, split
    for candidate in candidate_roots():
        if (candidate / split).is_dir():
            return candidate, split
    cached = cache_dir() / "data" / "LibriSpeech"
    if (cached / split).is_dir():
        return cached, split
    if not allow_download:
        raise FileNotFoundError(
            f"no LibriSpeech split {split!r} found (looked in $CODECBENCH_DATA, ../shared/data/LibriSpeech, "
            f"{cached}); pass --root DIR or --download"
        )
    if split == DEMO_SPLIT:
        return download_split(DEMO_DOWNLOAD_SPLIT), DEMO_DOWNLOAD_SPLIT
    return download_split(split), split


def parse_transcripts(chapter_dir: Path) -> dict[str, str]:
    """Utterance id -> text from a chapter's `*.trans.txt`, empty when there is none."""
    texts: dict[str, str] = {}
    for trans in chapter_dir.glob("*.trans.txt"):
        for line in trans.read_text(encoding="utf-8").splitlines():
            utt, _, text = line.partition(" ")
            if utt:
                texts[utt] = text.strip()
    return texts


def prepare(root: str | Path, split: str) -> list[Utterance]:
    """All utterances of a split, sorted by id."""
    split_dir = Path(root) / split
    if not split_dir.is_dir():
        raise FileNotFoundError(f"no split {split!r} under {root}")
    utterances = []
    for chapter_dir in sorted(p for p in split_dir.glob("*/*") if p.is_dir()):
        texts = parse_transcripts(chapter_dir)
        speaker, chapter = chapter_dir.parent.name, chapter_dir.name
        for path in sorted(chapter_dir.glob("*.flac")) + sorted(chapter_dir.glob("*.wav")):
            utterances.append(Utterance(path.stem, path, speaker, split, chapter, texts.get(path.stem)))
    return sorted(utterances, key=lambda u: u.id)

"""LibriSpeech recipe: standard layout `ROOT/SPLIT/SPEAKER/CHAPTER/SPEAKER-CHAPTER-UTT.flac`.

The split `sample` is embedded in the package (14 real test-other utterances, CC BY 4.0, see
`data/LibriSpeech/README.md`): the demo and the tests run on it on every machine, offline. Other splits are
found through `codecbench.resources.locate` (`--root`, `$CODECBENCH_DATA`, the user cache, `../shared/data`
on development machines) or downloaded with `download_split` from OpenSLR (LibriSpeech, resource 12; Mini
LibriSpeech, resource 31), checksummed, into the user cache. Transcripts (`*.trans.txt`) are read when
present and optional otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from codecbench.datasets.base import Utterance
from codecbench.datasets.download import download, extract
from codecbench.resources import Resource, cache_dir, locate
from codecbench.storage import data_path, is_uri

if TYPE_CHECKING:
    from upath import UPath

DATA_ENV = "CODECBENCH_DATA"
EMBEDDED_ROOT = Path(__file__).resolve().parent / "data" / "LibriSpeech"
SAMPLE_SPLIT = "sample"  # embedded in the package: the demo's and the tests' data
DEFAULT_SPLIT = "test-other"  # the split read from a --root, $CODECBENCH_DATA or a download when none is named

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

    Raises:
        ConnectionError: no network (the message names the URL and the alternatives).
    """
    if split not in PARTS:
        raise ValueError(f"no download for split {split!r}; choose one of {sorted(PARTS)}")
    url, algorithm, checksum = PARTS[split]
    base = root if root is not None else cache_dir() / "data"
    librispeech_root = base / "LibriSpeech"
    marker = librispeech_root / f".{split}.completed"
    if marker.exists():
        return librispeech_root
    alternatives = (f"pass --root DIR to a local LibriSpeech copy holding {split}/, set ${DATA_ENV}, "
                    f"or run on the embedded sample (--split {SAMPLE_SPLIT})")
    archive = download(url, base / "archives" / Path(url).name, checksum, algorithm, alternatives)
    extract(archive, base)
    marker.touch()
    return librispeech_root


def split_resource(split: str) -> Resource:
    """A LibriSpeech root holding `split`, as `locate` looks for it."""
    return Resource(f"LibriSpeech split {split!r}", (split,), env_var=DATA_ENV, cache_path="data/LibriSpeech",
                    shared_path="data/LibriSpeech",
                    embedded=EMBEDDED_ROOT if split == SAMPLE_SPLIT else None)


def resolve_root(root: str | Path | None, split: str, allow_download: bool) -> tuple[Path | UPath, str]:
    """Find the LibriSpeech root for `split` (see `codecbench.resources` for the order), downloading the
    split into the user cache when allowed and nothing local holds it. `root` may be a URI (`s3://...`).

    Returns:
        The root and the split.

    Raises:
        FileNotFoundError: nothing holds the split and downloading is not allowed (or not possible).
    """
    resource = split_resource(split)
    if root is not None:
        root = data_path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"--root {root} is not a readable directory")
        if resource.missing(root):
            if allow_download and is_uri(root):
                raise ValueError(f"no split {split!r} under --root {root}: --download extracts into a local folder "
                                 "only; upload the split there, or pass a local --root")
            if allow_download:
                return download_split(split, root.parent if root.name == "LibriSpeech" else root), split
            raise FileNotFoundError(f"no split {split!r} under --root {root} (expected {root / split}/); pass "
                                    f"--download to fetch it there, or drop --root to run on the embedded "
                                    f"sample (--split {SAMPLE_SPLIT})")
    located = locate(resource, root)
    if located is not None:
        return located.path, split
    if allow_download:
        return download_split(split), split
    raise FileNotFoundError(f"no LibriSpeech split {split!r} found (looked in {resource.looked_in()}); pass "
                            f"--root DIR, or --download to fetch it from OpenSLR into the user cache")


def parse_transcripts(chapter_dir: Path | UPath) -> dict[str, str]:
    """Utterance id -> text from a chapter's `*.trans.txt`, empty when there is none."""
    texts: dict[str, str] = {}
    for trans in chapter_dir.glob("*.trans.txt"):
        for line in trans.read_text(encoding="utf-8").splitlines():
            utt, _, text = line.partition(" ")
            if utt:
                texts[utt] = text.strip()
    return texts


def prepare(root: str | Path, split: str) -> list[Utterance]:
    """All utterances of a split (under a local root or a URI), sorted by id."""
    split_dir = data_path(root) / split
    if not split_dir.is_dir():
        raise FileNotFoundError(f"no split {split!r} under {root}")
    utterances = []
    for chapter_dir in sorted(p for p in split_dir.glob("*/*") if p.is_dir()):
        texts = parse_transcripts(chapter_dir)
        speaker, chapter = chapter_dir.parent.name, chapter_dir.name
        for path in sorted(chapter_dir.glob("*.flac")) + sorted(chapter_dir.glob("*.wav")):
            utterances.append(Utterance(path.stem, path, speaker, split, chapter, texts.get(path.stem)))
    return sorted(utterances, key=lambda u: u.id)

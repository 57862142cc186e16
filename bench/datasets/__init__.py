"""Dataset recipes: `librispeech` (standard layout) and `folder` (any tree of audio files)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from codecbench.datasets import folder, librispeech
from codecbench.datasets.base import Utterance, apply_limit
from codecbench.storage import data_path, reading

if TYPE_CHECKING:
    from upath import UPath

DATASETS = ("librispeech", "folder")


@dataclass
class Selection:
    """The utterances of a run and where they came from.

    Args:
        split_utterances: every utterance of the split before `limit` (babble is mixed from them), as `select`
            listed it; None where the split was not listed (a hand-made selection).
    """

    dataset: str
    root: Path | UPath
    split: str
    utterances: list[Utterance]
    split_utterances: list[Utterance] | None = None

    def describe(self) -> str:
        """One line saying which data this is, for the commands to print."""
        what = f"{self.dataset} {self.split}, {len(self.utterances)} utterances"
        if self.root == librispeech.EMBEDDED_ROOT:
            return f"data: {what}: the LibriSpeech sample embedded in codecbench (test-other, CC BY 4.0) at {self.root}"
        return f"data: {what} from {self.root}"


def select(
    dataset: str = "librispeech",
    root: str | Path | None = None,
    split: str | None = None,
    limit: int | None = None,
    download: bool = False,
) -> Selection:
    """Resolve a dataset to a deterministic list of utterances.

    Args:
        dataset: `librispeech` or `folder`.
        root: data root (for `folder`, required): a local folder or a URI an fsspec filesystem opens
            (`s3://bucket/LibriSpeech`, see `codecbench.storage`); LibriSpeech roots are looked up when None.
        split: LibriSpeech split; default: the embedded `sample` when neither `root` nor `download` is
            given, else `test-other`. Ignored for `folder`.
        limit: keep only the first N utterances.
        download: allow downloading an official LibriSpeech split.
    """
    if dataset == "librispeech":
        if split is None:
            split = librispeech.SAMPLE_SPLIT if root is None and not download else librispeech.DEFAULT_SPLIT
        with reading(root or "the LibriSpeech root"):
            found_root, split = librispeech.resolve_root(root, split, download)
            utterances = librispeech.prepare(found_root, split)
        return Selection(dataset, found_root, split, apply_limit(utterances, limit), utterances)
    if dataset == "folder":
        if root is None:
            raise ValueError("--dataset folder needs --root DIR")
        with reading(root):
            found_root = data_path(root)
            utterances = folder.prepare(found_root)
            return Selection(dataset, found_root, found_root.name, apply_limit(utterances, limit), utterances)
    raise ValueError(f"unknown dataset {dataset!r}; choose one of {DATASETS}")


__all__ = ["DATASETS", "Selection", "Utterance", "select"]

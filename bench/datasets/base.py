"""Utterance manifests shared by all dataset recipes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from upath import UPath


@dataclass(frozen=True)
class Utterance:
    """One audio file to code and score.

    Args:
        id: unique utterance id (LibriSpeech: the file stem, e.g. `1688-142285-0002`).
        path: the audio file: a local path, or a `UPath` of a URI (`codecbench.storage`) that every worker opens
            where it runs.
        speaker: speaker id ('' when unknown).
        split: the split or folder name it comes from.
        chapter: LibriSpeech chapter id ('' elsewhere).
        transcript: the reference text when the corpus has one.
    """

    id: str
    path: Path | UPath
    speaker: str = ""
    split: str = ""
    chapter: str = ""
    transcript: str | None = None


def apply_limit(utterances: list[Utterance], limit: int | None) -> list[Utterance]:
    """The first `limit` utterances of a deterministically ordered list."""
    if limit is not None and limit < 1:
        raise ValueError(f"--limit must be at least 1, not {limit}")
    return utterances if limit is None else utterances[:limit]

"""Any folder tree of audio files: utterance id = relative path without extension."""

from __future__ import annotations

from pathlib import Path

from codecbench.datasets.base import Utterance
from codecbench.storage import data_path

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif"}


def prepare(root: str | Path) -> list[Utterance]:
    """All audio files under `root` (a local folder or a URI), sorted; the speaker is the first folder level ('' at
    the top)."""
    root = data_path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no folder {root}")
    utterances = []
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()):
        relative = path.relative_to(root)
        speaker = relative.parts[0] if len(relative.parts) > 1 else ""
        utterances.append(Utterance(relative.with_suffix("").as_posix(), path, speaker, root.name))
    if not utterances:
        raise FileNotFoundError(f"no audio files ({', '.join(sorted(AUDIO_SUFFIXES))}) under {root}")
    return utterances

"""The manifest of a run's inputs: every file with its SHA-256, and one digest naming the exact data."""

from __future__ import annotations

import hashlib

import pandas as pd

from codecbench.datasets import Selection
from codecbench.resources import file_digest

MANIFEST_COLUMNS = ["utterance", "speaker", "split", "path", "sha256"]


def manifest(selection: Selection) -> pd.DataFrame:
    """utterance, speaker, split, path, sha256 of every selected file."""
    return pd.DataFrame([(u.id, u.speaker, u.split, str(u.path), file_digest(u.path)) for u in selection.utterances],
                        columns=MANIFEST_COLUMNS)


def table_digest(table: pd.DataFrame) -> str:
    """sha256 of a manifest's (utterance, sha256) pairs: one number that names the exact data."""
    text = "\n".join(f"{u} {h}" for u, h in zip(table["utterance"], table["sha256"]))
    return hashlib.sha256(text.encode()).hexdigest()

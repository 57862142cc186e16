"""What a run ran: command, package versions, machine, dataset checksums, seeds, codec provenance."""

from __future__ import annotations

import hashlib
import platform
import sys
from typing import Any
from importlib.metadata import PackageNotFoundError, version

import pandas as pd

from codecbench.datasets import Selection
from codecbench.resources import file_digest

PACKAGES = ("codecbench", "numpy", "scipy", "soundfile", "soxr", "pandas", "pyarrow", "av", "pycodec2",
            "pesq", "pystoi", "torch", "transformers", "ai-edge-litert", "visqol-python", "speechmos",
            "onnxruntime", "onnx", "librosa", "auraloss", "jiwer", "resemblyzer", "pocketsphinx")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that can change a score."""
    found = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def environment() -> dict[str, Any]:
    """Python, platform and, when torch is already loaded, its intra-op thread count."""
    described: dict[str, Any] = {"python": sys.version.split()[0], "platform": platform.platform(),
                                 "machine": platform.machine()}
    if "torch" in sys.modules:
        described["torch_threads"] = sys.modules["torch"].get_num_threads()
    return described


def manifest(selection: Selection) -> pd.DataFrame:
    """utterance, speaker, split, path, sha256 of every selected file."""
    return pd.DataFrame(
        [{"utterance": u.id, "speaker": u.speaker, "split": u.split, "path": str(u.path),
          "sha256": file_digest(u.path)} for u in selection.utterances]
    )


def table_digest(table: pd.DataFrame) -> str:
    """sha256 of a manifest's (utterance, sha256) pairs: one number that names the exact data."""
    text = "\n".join(f"{u} {h}" for u, h in zip(table["utterance"], table["sha256"]))
    return hashlib.sha256(text.encode()).hexdigest()


def derive_seed(run_seed: int, *parts: str) -> int:
    """A stable 31-bit seed from the run seed and identifiers (utterance id, spec)."""
    text = "|".join([str(run_seed), *parts])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") & 0x7FFFFFFF

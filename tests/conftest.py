"""Shared fixtures: the real LibriSpeech sample embedded in the package (split `sample`: utterances -0002 and
-0003 of 7 test-other speakers), so the tests need nothing beside the checkout, no cache and no network."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from codecbench.datasets.librispeech import EMBEDDED_ROOT, SAMPLE_SPLIT

DATA = Path(__file__).resolve().parent / "data"  # files the tests ship (the ViSQOL conformance pair)


@pytest.fixture(scope="session", autouse=True)
def empty_user_cache(tmp_path_factory):
    """A fresh user cache for the whole session: tests neither read what a user cached nor write into it."""
    previous = os.environ.get("CODECBENCH_CACHE")
    os.environ["CODECBENCH_CACHE"] = str(tmp_path_factory.mktemp("user-cache"))
    yield
    if previous is None:
        os.environ.pop("CODECBENCH_CACHE", None)
    else:
        os.environ["CODECBENCH_CACHE"] = previous


@pytest.fixture(scope="session")
def librispeech_root() -> Path:
    """The embedded LibriSpeech root; its one split is `sample` (`SAMPLE_SPLIT`)."""
    assert (EMBEDDED_ROOT / SAMPLE_SPLIT).is_dir(), f"the embedded LibriSpeech sample is missing at {EMBEDDED_ROOT}"
    return EMBEDDED_ROOT


@pytest.fixture(scope="session")
def speech(librispeech_root: Path) -> np.ndarray:
    """A real 16 kHz utterance (1688-142285-0003, about 5 s)."""
    from codecbench.audio import load_audio

    path = librispeech_root / SAMPLE_SPLIT / "1688" / "142285" / "1688-142285-0003.flac"
    return load_audio(path, 16000).samples


@pytest.fixture(scope="session")
def short_selection(librispeech_root: Path):
    """Three real utterances, one per speaker."""
    from codecbench.datasets import Selection, select

    everything = select("librispeech", librispeech_root, SAMPLE_SPLIT)
    picked = [u for u in everything.utterances if u.id.endswith("-0002")][:3]
    return Selection(everything.dataset, everything.root, everything.split, picked)


@pytest.fixture(scope="module")
def torch_one_thread():
    """Torch on one thread (module scope, so module-scoped fixtures that train can request it too): the
    test machines have two shared cores, where more threads only contend."""
    torch = pytest.importorskip("torch")
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)

"""Shared fixtures: the bundled real LibriSpeech sample (../shared/data/LibriSpeech beside the repo)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
LIBRISPEECH = REPO.parent / "shared" / "data" / "LibriSpeech"


@pytest.fixture(scope="session")
def librispeech_root() -> Path:
    if not (LIBRISPEECH / "test-other").is_dir():
        pytest.fail(f"the bundled LibriSpeech sample is missing at {LIBRISPEECH}")
    return LIBRISPEECH


@pytest.fixture(scope="session")
def speech(librispeech_root: Path) -> np.ndarray:
    """A real 16 kHz utterance (1688-142285-0003, about 5 s)."""
    from codecbench.audio import load_audio

    path = librispeech_root / "test-other" / "1688" / "142285" / "1688-142285-0003.flac"
    return load_audio(path, 16000).samples


@pytest.fixture(scope="session")
def short_selection(librispeech_root: Path):
    """Three real test-other utterances, one per speaker."""
    from codecbench.datasets import Selection, select

    everything = select("librispeech", librispeech_root, "test-other")
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

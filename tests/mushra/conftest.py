"""Fixtures of the MUSHRA tests: a real run and a test folder built from it."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def mushra_run(tmp_path_factory, librispeech_root):
    """A real run: Opus and Codec 2 on the embedded sample (two utterances of each of 7 speakers)."""
    from codecbench.datasets import select
    from codecbench.runner import run_benchmark

    out = tmp_path_factory.mktemp("mushra_run")
    run_benchmark(select("librispeech", librispeech_root, "sample"), ["opus@12", "codec2@2.4"], [], out,
                  progress=False)
    return out


@pytest.fixture(scope="session")
def stimulus_folder(tmp_path_factory, librispeech_root):
    """Seven items of the embedded LibriSpeech sample as a `--stimuli` folder (a reference.wav each; the anchors
    are made by the build)."""
    import soundfile as sf

    folder = tmp_path_factory.mktemp("stimuli")
    for path in sorted(librispeech_root.rglob("*.flac"))[:7]:
        x, rate = sf.read(str(path))
        (folder / path.stem).mkdir()
        sf.write(str(folder / path.stem / "reference.wav"), x, rate)
    return folder


MIN_PLAY_S = 1.0  # the fixture's listening rule: short, so that browser tests can meet it in real time


@pytest.fixture(scope="session")
def mushra_test_dir(tmp_path_factory, mushra_run):
    """A test folder built from the run: 5 test items and 1 training item, 5 stimuli per trial (hidden
    reference, lowpass@3.5k, lowpass@5k, opus@12, codec2@2.4); every stimulus must be heard for 1 s."""
    from codecbench.listening_test.build import Protocol, build_test
    from codecbench.listening_test.events import ListeningRule

    out = tmp_path_factory.mktemp("mushra_test") / "test"
    build_test(out, run=mushra_run, items=5, training_items=1, progress=False,
               protocol=Protocol(ListeningRule(MIN_PLAY_S)))
    return out

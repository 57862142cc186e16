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


TYPED_MIN_PLAY_S = 0.25  # ACR and A/B tests: scripted listeners and browsers wait out the rule in real time
TYPED_TESTS = {  # kind -> build_typed_test arguments (the conditions: reference, opus@12, codec2@2.4; no anchors)
    "acr": {"kind": "acr"},
    "dcr": {"kind": "dcr", "min_play_s": 0.05},  # two stimuli a trial: a shorter rule keeps their panel short
    "ccr": {"kind": "ccr", "min_play_s": 0.05},
    "ab": {"kind": "ab", "ab_reference": True},  # with the reference and "no preference"
    "ab-forced": {"kind": "ab", "no_preference": False},  # without the reference, forced choice
}


@pytest.fixture(scope="session")
def typed_test_dir(tmp_path_factory, mushra_run):
    """name (`TYPED_TESTS`) -> a test folder of that type built on first use: 5 test items and 1
    training item; ACR, DCR and CCR rate reference, opus@12 and codec2@2.4 (15 test trials), A/B compares
    opus@12 with codec2@2.4 (5 test trials); every stimulus must be heard for 0.25 s (DCR, CCR: 0.05 s)."""
    from codecbench.listening_test.anchors import Anchors
    from codecbench.listening_test.build import Protocol
    from codecbench.listening_test.events import ListeningRule
    from codecbench.listening_test.types.build import build_typed_test

    built = {}

    def get(name: str):
        if name not in built:
            # the ACR test is built from the run (its codecs re-run); the others from its stimuli folder, which
            # has the `--stimuli` layout and the same condition labels (no codec runs again)
            source = {"run": mushra_run} if name == "acr" else {"stimuli": get("acr") / "stimuli"}
            out = tmp_path_factory.mktemp(f"typed_{name}") / "test"
            arguments = dict(TYPED_TESTS[name])
            rule = ListeningRule(arguments.pop("min_play_s", TYPED_MIN_PLAY_S))
            build_typed_test(out=out, items=5, training_items=1, progress=False,
                             protocol=Protocol(rule, anchors=Anchors(enabled=False)), **source, **arguments)
            built[name] = out
        return built[name]
    return get

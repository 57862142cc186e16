"""Trapping trials (shipped audio, the trap stimulus, build, plan, screening, the listeners export) and the
`--require-headphones` deployment mode, on a test built from real speech and a real store."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from mushra_helpers import Clock
from mushra_helpers import ratings as crafted

from codecbench.listening_test import headphones, traps
from codecbench.listening_test.analysis import analyze, screen_listeners
from codecbench.listening_test.attention import attention, listeners_export
from codecbench.listening_test.build import Protocol, build_test
from codecbench.listening_test.client import playback_events
from codecbench.listening_test.events import ListeningRule
from codecbench.listening_test.platforms import Completion
from codecbench.listening_test.store import MushraStore, SubmissionError
from codecbench.listening_test.testdef import load_test

pytest.importorskip("pyloudnorm")


@pytest.fixture(scope="module")
def trap_test(tmp_path_factory, stimulus_folder):
    out = tmp_path_factory.mktemp("trap_test") / "test"
    build_test(out, stimuli=stimulus_folder, items=6, training_items=1, progress=False,
               protocol=Protocol(ListeningRule(0.5), traps=2, require_headphones=True))
    return load_test(out)


def test_shipped_instructions_at_every_rate_with_their_licence():
    readme = (traps.DATA / "README.md").read_text()
    assert "CC0" in readme and "espeak" in readme.lower()
    for expected in traps.EXPECTED:
        lengths = set()
        for rate in traps.SHIPPED_RATES:
            info = sf.info(str(traps.DATA / f"trap{expected}_{rate // 1000}k.flac"))
            assert info.samplerate == rate and info.channels == 1
            lengths.add(round(info.duration, 2))
        assert len(lengths) == 1 and 2.5 < lengths.pop() < 4.5
        resampled = traps.instruction(expected, 44100)  # a rate not shipped: resampled from 48 kHz
        assert abs(len(resampled) / 44100 - len(traps.instruction(expected, 48000)) / 48000) < 0.001


def test_a_trap_stimulus_speaks_then_continues_as_the_reference(speech):
    from codecbench.listening_test.stimuli import integrated_loudness

    reference = speech[:, None].astype(np.float64)
    trap = traps.trap_signal(reference, 16000, 0)
    spoken = traps.instruction(0, 16000)
    start = len(spoken) + round(traps.GAP_S * 16000)
    assert trap.shape == reference.shape
    head = trap[:len(spoken), 0]
    assert np.corrcoef(head, spoken)[0, 1] > 0.999  # the sentence, scaled
    assert abs(integrated_loudness(head[:, None], 16000) - integrated_loudness(reference, 16000)) < 1.0
    assert np.all(trap[len(spoken):start] == 0)
    fade = round(traps.FADE_S * 16000)
    assert np.array_equal(trap[start + fade:], reference[start + fade:])
    with pytest.raises(ValueError, match="cannot hold a trap"):
        traps.trap_signal(reference[:16000], 16000, 100)


def test_build_puts_traps_in_chosen_items_and_seals_the_mode(trap_test):
    trapped = trap_test.traps
    assert len(trapped) == 2 and sorted(trapped.values()) == [0, 100]
    assert trap_test.require_headphones
    assert not any(traps.is_trap(c) for c in trap_test.conditions)
    for item in trap_test.items:
        extra = [c for c in item.stimuli if traps.is_trap(c)]
        assert extra == ([traps.condition(trapped[item.item])] if item.item in trapped else [])
        lengths = {sf.info(str(trap_test.path(f))).frames for f in item.stimuli.values()}
        assert len(lengths) == 1  # one length per trial, the trap included
    assert not any(traps.is_trap(c) for item in trap_test.training for c in item.stimuli)


def test_the_trap_rule_excludes_who_fails_one_and_analysis_never_pools_traps(tmp_path):
    table = crafted(4, 8)
    rows = [{"listener": f"L{n}", "session": 1, "trial": 9, "item": "i0", "condition": condition, "rating": rating,
             "phase": "test", "timestamp": "2026-01-01T00:00:00.000+00:00"}
            for n, (condition, rating) in enumerate([("trap@0", 4), ("trap@0", 35), ("trap@100", 91),
                                                     ("trap@100", 70)])]
    table = pd.concat([table, pd.DataFrame(rows)], ignore_index=True)
    screening = screen_listeners(table).listeners.set_index("listener")
    assert screening.loc[["L0", "L2"], "excluded"].tolist() == [False, False]
    assert screening.loc[["L1", "L3"], "excluded"].tolist() == [True, True]
    assert "failed 1 of 1 trapping trials" in screening.loc["L1", "reason"]
    assert screening["traps"].tolist() == [1, 1, 1, 1]
    result = analyze(table, tmp_path, plots=False)
    assert not any(traps.is_trap(c) for c in result.summary["condition"])
    measures = attention(table, "reference").set_index("listener")
    assert measures.loc["L1", "trap_pass_rate"] == 0 and measures.loc["L2", "trap_pass_rate"] == 1
    assert measures["hidden_reference_rate"].tolist() == [1.0] * 4


def _answers(store: MushraStore, token: str, right: int) -> dict[str, int]:
    """Answers to the headphone screen with `right` correct rounds (each round served first)."""
    with store._read() as db:
        rounds = db.execute("SELECT key, target FROM headphone_rounds h JOIN listeners l USING (listener) "
                            "WHERE l.token = ? ORDER BY round", (token,)).fetchall()
    for key, _ in rounds:
        store.deliver(key)
    return {key: target if n < right else target % headphones.INTERVALS + 1 for n, (key, target) in enumerate(rounds)}


def _take_trial(store: MushraStore, screen: dict) -> tuple[dict, bool]:
    """Hear and rate the trial on screen as an attentive listener would (traps as they ask); returns the next
    screen and whether the trial held a trap."""
    with store._read() as db:
        conditions = dict(db.execute("SELECT key, condition FROM stimuli WHERE listener = ? AND trial = ?",
                                     (screen["listener"], screen["trial"])).fetchall())
    for key in conditions:
        store.deliver(key)
    ratings = {s["key"]: traps.expected_rating(conditions[s["key"]]) if traps.is_trap(conditions[s["key"]])
               else 100 if conditions[s["key"]] == "reference" else 40 for s in screen["stimuli"]}
    submission = {"trial": screen["trial"], "ratings": ratings, "events": playback_events(screen)}
    return store.submit(screen["token"], screen["session"], submission), any(map(traps.is_trap, conditions.values()))


def test_require_headphones_screens_out_at_once_with_its_own_code(trap_test, tmp_path):
    store = MushraStore(tmp_path / "db.sqlite", trap_test, completion=Completion(code="DONE1"), clock=Clock(step=10),
                        screened_out=Completion("https://app.prolific.com/submissions/complete?cc=OUT9", "OUT9"))
    first = store.register("", info={"PROLIFIC_PID": "abc123"})
    assert first["screen"] == "level"
    with pytest.raises(SubmissionError, match="needs the checks"):
        store.submit(first["token"], first["session"], {"level": "skipped", "events": []})
    out = store.submit(first["token"], first["session"],
                       {"level": "level set", "huggins": _answers(store, first["token"], 4), "events": []})
    assert out["screen"] == "screened_out" and out["completion"]["code"] == "OUT9"
    assert store.resume(first["token"])["screen"] == "screened_out"  # never "done", never a trial
    again = store.register("", info={"PROLIFIC_PID": "abc123"})  # the same participant cannot start over
    assert again["screen"] == "screened_out"
    with pytest.raises(SubmissionError, match="ended this test"):
        store.submit(first["token"], first["session"], {"trial": 1, "ratings": {}, "events": []})

    second = store.register("")
    screen = store.submit(second["token"], second["session"],
                          {"level": "level set", "huggins": _answers(store, second["token"], 5), "events": []})
    assert screen["screen"] == "trial"
    _take_trial(store, screen)
    exported = listeners_export(store).set_index("listener")
    assert exported.loc[first["listener"], "screened_out"] == True  # noqa: E712
    assert exported.loc[second["listener"], "screened_out"] == False  # noqa: E712


def test_the_end_page_carries_the_completion_before_the_optional_answers(trap_test, tmp_path):
    store = MushraStore(tmp_path / "db.sqlite", trap_test, level_check=False, completion=Completion(code="DONE1"),
                        clock=Clock(step=10))
    screen = store.register("")
    assert screen["screen"] == "trial"
    trapped_seen = 0
    while screen["screen"] == "trial":
        screen, trapped = _take_trial(store, screen)
        trapped_seen += trapped
    assert trapped_seen == 2
    assert screen["screen"] == "done" and not screen["answered"] and screen["completion"] == {"code": "DONE1"}
    exported = listeners_export(store).iloc[0]
    assert (exported["traps"], exported["traps_passed"], exported["trap_pass_rate"]) == (2, 2, 1.0)
    assert exported["hidden_reference_rate"] == 1.0


def test_cli_builds_the_mode_and_serve_refuses_to_weaken_it(stimulus_folder, tmp_path, capsys):
    from codecbench.cli import main

    out = tmp_path / "test"
    assert main(["mushra", "build", "--stimuli", str(stimulus_folder), "--out", str(out), "--items", "6",
                 "--training-items", "0", "--traps", "1", "--require-headphones"]) == 0
    test = load_test(out)
    assert test.require_headphones and len(test.traps) == 1
    capsys.readouterr()
    assert main(["mushra", "serve", str(out), "--no-headphone-screen"]) == 2
    assert "built with --require-headphones" in capsys.readouterr().err
    assert main(["mushra", "build", "--stimuli", str(stimulus_folder), "--out", str(tmp_path / "t2"), "--items", "6",
                 "--traps", "7"]) == 2
    assert "7 traps need 7 test items" in capsys.readouterr().err

"""The rules behind the server's guards, in process: the login throttle, play time from an event log, the dither."""

from __future__ import annotations

import numpy as np
import pytest

from codecbench.listening_test.dither import dither_seed, tpdf_dither
from codecbench.listening_test.events import Event, Playback, parse_events, playback
from codecbench.listening_test.throttle import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_login_throttle_locks_one_address_only():
    clock = Clock()
    throttle = LoginThrottle(max_failures=3, window_s=60, lockout_s=300, clock=clock)
    for _ in range(2):
        throttle.record("a", False)
    throttle.record("a", True)  # a success clears the address' count
    for _ in range(2):
        throttle.record("a", False)
    assert throttle.retry_after("a") == 0
    throttle.record("a", False)
    assert throttle.retry_after("a") == 300 and throttle.retry_after("b") == 0
    clock.now += 61  # the old failures left the window; a's lockout still runs
    assert throttle.retry_after("a") == 239
    for address in "bcdefg" * 2:  # six addresses, two guesses each: none locked out, nor anyone else
        throttle.record(address, False)
    assert throttle.retry_after("z") == throttle.retry_after("b") == 0
    clock.now += 300
    assert throttle.retry_after("a") == 0


def test_play_time_per_stimulus_from_the_event_log():
    raw = [{"t": 0, "kind": "ready"}, {"t": 100, "kind": "play", "key": "R"}, {"t": 400, "kind": "seek", "key": "R"},
           {"t": 600, "kind": "switch", "key": "A"}, {"t": 1600, "kind": "stop", "key": "A"},
           {"t": 1700, "kind": "rate", "key": "A", "value": 50}, {"t": 2000, "kind": "play", "key": "A"},
           {"t": 2500, "kind": "switch", "key": "unknown"}, {"t": 2600, "kind": "play", "key": "B"},
           {"t": None, "kind": "switch", "key": "R"}, {"t": 3000, "kind": "next"}, "not an event",
           {"t": 10 ** 400, "kind": "=cmd" * 20, "key": {"a": 1}, "value": float("nan")}]
    events = parse_events(raw, {"R", "A", "B"})
    assert len(events) == 12 and events[-1] == Event(None, ("=cmd" * 8), "", None, "")
    assert playback(events) == {"R": Playback(2, 500.0), "A": Playback(2, 1500.0), "B": Playback(1, 0.0)}


def test_tpdf_dither_moves_a_quarter_of_the_samples_by_one_lsb():
    pcm = np.random.default_rng(0).integers(-3000, 3000, (48000, 2)).astype(np.int16)
    first, again, other = (tpdf_dither(pcm, dither_seed(b"secret", key)) for key in ("k1", "k1", "k2"))
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    change = first.astype(int) - pcm
    assert set(np.unique(change)) == {-1, 0, 1}
    assert np.mean(change != 0) == pytest.approx(0.25, abs=0.01) and abs(change.mean()) < 0.01
    assert dither_seed(b"secret", "k1") != dither_seed(b"other secret", "k1")
    assert tpdf_dither(np.array([32767, -32768], dtype=np.int16), 1).dtype == np.int16

"""Server-side integrity of a listening test, on the store with an injected clock (nothing sleeps): the
wall-clock listening check, play logs outside physical bounds, invitations, per-address limits, file modes."""

from __future__ import annotations

import sqlite3
import stat
from contextlib import closing
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from codecbench.listening_test.client import playback_events
from codecbench.listening_test.events import MAX_TRIAL_EVENTS
from codecbench.listening_test.store import INVITE_ONLY, TOO_MANY, MushraStore, Registration, SubmissionError
from codecbench.listening_test.testdef import load_test
from codecbench.listening_test.throttle import LoginThrottle, RateLimit


class Clock:
    """A clock that stands still until moved."""

    def __init__(self) -> None:
        self.moment = datetime(2026, 1, 1, tzinfo=timezone.utc)
        self.monotonic = 1000.0

    def __call__(self) -> datetime:
        return self.moment

    def seconds(self) -> float:
        return self.monotonic

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)
        self.monotonic += seconds


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(mushra_test_dir, tmp_path, clock):
    return MushraStore(tmp_path / "results.sqlite", load_test(mushra_test_dir), clock=clock, monotonic=clock.seconds)


def trial_screen(store: MushraStore) -> dict:
    """A new listener's first trial, its audio served (now, on the store's clock)."""
    screen = store.register("x")
    screen = store.submit(screen["token"], 1, {"level": "skipped"})
    for key in [s["key"] for s in screen["stimuli"]] + [screen["reference"]]:
        assert store.deliver(key)
    return screen


def send(store: MushraStore, screen: dict, events: list[dict]) -> dict:
    return store.submit(screen["token"], 1, {"trial": screen["trial"], "events": events,
                                             "ratings": {s["key"]: 50 for s in screen["stimuli"]}})


def test_a_trial_is_refused_until_its_stimuli_could_have_been_heard_one_after_another(store, clock):
    screen = trial_screen(store)
    stimuli = len(screen["stimuli"]) + 1
    least_s = stimuli * screen["min_play_ms"] / 1000  # every stimulus and the Reference, one at a time
    clock.advance(0.08)  # the scripted trials of the review: sent 0.08 s after the audio was served
    with pytest.raises(SubmissionError, match=f"sent 0.1 s after .* takes at least {least_s:g} s"):
        send(store, screen, playback_events(screen))
    clock.advance(least_s - 0.5)
    with pytest.raises(SubmissionError, match="takes at least"):
        send(store, screen, playback_events(screen))
    clock.advance(0.5)
    assert send(store, screen, playback_events(screen))["trial"] == screen["trial"] + 1


@pytest.mark.parametrize("tamper, message", [
    (lambda events: [{**e, "t": e["t"] - 10000} for e in events], "negative times"),
    (lambda events: events[:-1] + [{**events[-1], "t": 1e9}], "an event at 1000000.0 s"),
    (lambda events: events[:1] + events[2:3] + events[1:2] + events[3:], "go backwards"),
    (lambda events: [{**e, "t": e["t"] * 12} for e in events], "claims 72.0 s of listening"),
    (lambda events: events + [{"t": events[-1]["t"], "kind": "rate_move", "key": "", "value": 1}] * MAX_TRIAL_EVENTS,
     f"at most {MAX_TRIAL_EVENTS} entries"),
])
def test_play_logs_outside_physical_bounds_are_refused(store, clock, tamper, message):
    screen = trial_screen(store)
    clock.advance(60)
    with pytest.raises(SubmissionError, match=message):
        send(store, screen, tamper(playback_events(screen)))
    assert send(store, screen, playback_events(screen))["trial"] == screen["trial"] + 1  # the true log goes in


def test_a_platform_id_does_not_open_an_invitation_only_test(mushra_test_dir, tmp_path):
    store = MushraStore(tmp_path / "results.sqlite", load_test(mushra_test_dir), registration=Registration(True))
    code = store.create_invites(1)[0]
    invited = store.register("Ada", invite=code, info={"PROLIFIC_PID": "pid-ada"})
    with pytest.raises(SubmissionError, match=INVITE_ONLY):
        store.register("", info={"PROLIFIC_PID": "pid-ada"})  # knows Ada's id, has no invitation
    again = store.register("", invite=code, info={"PROLIFIC_PID": "someone-else"})
    assert (again["listener"], again["token"]) == (invited["listener"], invited["token"])


def test_open_registration_is_limited_per_address_not_for_everyone(mushra_test_dir, tmp_path, clock):
    store = MushraStore(tmp_path / "results.sqlite", load_test(mushra_test_dir), registration=Registration(per_hour=3),
                        clock=clock, monotonic=clock.seconds)
    for i in range(3):
        store.register(f"flood-{i}", address="203.0.113.9")
    for i in range(57):  # the review's flood: 60 requests in 2.6 s
        with pytest.raises(SubmissionError, match=TOO_MANY):
            store.register(f"flood-{i}", address="203.0.113.9")
    assert store.register("someone", address="198.51.100.7")["screen"] == "level"  # registration is still open
    clock.advance(3601)
    assert store.register("later", address="203.0.113.9")["screen"] == "level"


def test_admin_login_lockout_is_per_address(clock):
    throttle = LoginThrottle(clock=clock.seconds)
    for n in range(30):  # 30 wrong logins from 30 addresses
        throttle.record(f"203.0.113.{n}", False)
    assert throttle.retry_after("198.51.100.7") == 0  # the admin is not locked out
    for _ in range(5):
        throttle.record("203.0.113.200", False)
    assert throttle.retry_after("203.0.113.200") == 900
    clock.advance(901)
    assert throttle.retry_after("203.0.113.200") == 0


def test_rate_limit_window(clock):
    limit = RateLimit(2, 10, clock.seconds)
    assert limit.take("a") and limit.take("a") and not limit.take("a") and limit.take("b")
    assert limit.retry_after("a") == 10
    clock.advance(10)
    assert limit.take("a")


def test_the_database_is_private(store):
    """It holds every listener's token and the dither secret: mode 600, and so are the files SQLite adds."""
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    with closing(sqlite3.connect(store.path)) as db:  # a writer keeps the write-ahead log and its index open
        db.execute("INSERT INTO meta VALUES ('probe', 'x')")
        added = [store.path.with_name(store.path.name + suffix) for suffix in ("-wal", "-shm")]
        assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in added} == {p.name: 0o600 for p in added}


def test_exports_number_trials_within_their_phase_and_time_them_on_the_server_clock(store, clock):
    screen = trial_screen(store)
    assert screen["phase"] == "training"
    clock.advance(30)
    screen = send(store, screen, playback_events(screen))
    for key in [s["key"] for s in screen["stimuli"]] + [screen["reference"]]:
        store.deliver(key)
    clock.advance(12.5)
    send(store, screen, playback_events(screen))
    ratings = store.ratings()
    assert sorted(set(zip(ratings["phase"], ratings["trial"]))) == [("test", 1), ("training", 1)]
    trials = store.trials().set_index(["phase", "trial"])
    assert trials.loc[("test", 1), "wall_s"] == 12.5 and trials.loc[("training", 1), "wall_s"] == 30
    assert trials.loc[("test", 1), "least_wall_s"] == 6 * screen["min_play_ms"] / 1000
    assert trials.loc[("test", 1), "timing"] == "ok" and trials.loc[("test", 2), "timing"] == ""
    events = store.events()
    assert set(events.loc[events["phase"] == "test", "trial"]) == {1}
    person = store.listeners().iloc[0]
    assert (person["timed_trials"], person["too_fast_trials"], person["impossible_trials"]) == (1, 0, 0)


def test_analyze_excludes_listeners_with_impossible_or_too_fast_trials(tmp_path):
    from mushra_helpers import ratings

    from codecbench.listening_test.analysis import analyze

    people = pd.DataFrame({"listener": [f"L{n}" for n in range(8)], "huggins_correct": 6, "huggins_rounds": 6,
                           "timed_trials": 10, "too_fast_trials": [0, 0, 0, 0, 0, 1, 2, 0],
                           "impossible_trials": [0, 0, 0, 0, 0, 0, 0, 1]})
    result = analyze(ratings(8, 10), tmp_path, listeners=people, plots=False)
    excluded = pd.read_csv(tmp_path / "excluded_listeners.csv")
    assert excluded["listener"].tolist() == ["L6", "L7"]  # 2 of 10 too fast is over 15 %; 1 of 10 is not
    assert excluded["reason"].str.startswith("timings failed").all()
    assert "1 impossible and 0 too fast of 10" in excluded["reason"].iloc[1]
    reported = analyze(ratings(8, 10), tmp_path / "report", listeners=people, plots=False, timing_rule="report")
    assert reported.screening.excluded.empty and result.screening.listeners["timing_passed"].tolist()[5:] == \
        [True, False, False]


def test_a_bot_passes_the_headphone_screen_from_the_audio_alone():
    """Why the headphone screen is no bot defence: the tone's interval is the one whose channels differ."""
    from codecbench.benchmarks.mushra_bot import huggins_answer
    from codecbench.listening_test import headphones

    rounds = [headphones.HugginsRound(target, seed) for seed, target in enumerate([1, 2, 3, 3, 1, 2])]
    assert [huggins_answer(headphones.huggins_wav(r, -26.0)) for r in rounds] == [r.target for r in rounds]

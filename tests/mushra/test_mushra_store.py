"""The SQLite store: plans, opaque screens, idempotent and validated submissions, resume."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from codecbench.listening_test.client import playback_events
from codecbench.listening_test.plan import plan_trials
from codecbench.listening_test.store import MushraStore, SubmissionError
from codecbench.listening_test.testdef import load_test


class Clock:
    """The store's clock: stands still until moved (`advance`), or moves `step` on every reading."""

    def __init__(self, step: float = 0.0) -> None:
        self.moment, self.step = datetime(2026, 1, 1, tzinfo=timezone.utc), timedelta(seconds=step)

    def __call__(self) -> datetime:
        self.moment += self.step
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@pytest.fixture
def store(mushra_test_dir, tmp_path):
    """A store whose clock moves 10 s at every reading: every trial is sent long after its audio was served."""
    return MushraStore(tmp_path / "results.sqlite", load_test(mushra_test_dir), clock=Clock(step=10))


def served(store, screen):
    """Fetch every stimulus of a trial screen, as the page does before anything can be rated."""
    for key in [s["key"] for s in screen["stimuli"]] + [screen["reference"]]:
        assert store.deliver(key)
    return screen


def to_trial(store, name="x"):
    screen = store.register(name)
    assert screen["screen"] == "level"
    return served(store, store.submit(screen["token"], 1, {"level": "skipped", "events": [{"t": 1, "kind": "play"}]}))


def ratings_for(screen, value=50):
    return {s["key"]: value + i for i, s in enumerate(screen["stimuli"])}


def test_plan_order_is_seeded_and_labels_are_shuffled(mushra_test_dir):
    test = load_test(mushra_test_dir)
    plan = plan_trials(test, 7)
    assert plan == plan_trials(test, 7)
    assert [t.phase for t in plan] == ["training"] + ["test"] * 5
    assert sorted(t.item for t in plan[1:]) == sorted(e.item for e in test.items)
    for trial in plan:
        assert [s[0] for s in trial.stimuli] == list("ABCDE")
        assert sorted(s[1] for s in trial.stimuli) == sorted(test.conditions)
    orders = {tuple(t.item for t in plan_trials(test, seed)) for seed in range(6)}
    layouts = {tuple(s[1] for s in plan_trials(test, seed)[1].stimuli) for seed in range(6)}
    assert len(orders) > 1 and len(layouts) > 1


def test_screens_are_opaque(store):
    screen = to_trial(store)
    text = json.dumps(screen)
    for secret in [*store.test.conditions[1:], *(e.item for e in store.test.items + store.test.training), ".wav"]:
        assert secret not in text
    keys = [s["key"] for s in screen["stimuli"]] + [screen["reference"]]
    assert len(set(keys)) == 6  # the open reference's key differs from the hidden reference's
    assert all(store.deliver(k)[:4] == b"RIFF" for k in keys) and store.deliver("nope") is None


def test_submission_is_stored_once(store):
    screen = to_trial(store)
    submission = {"trial": screen["trial"], "ratings": ratings_for(screen), "client_id": "c1",
                  "events": playback_events(screen) + [{"t": 9000.0, "kind": "rate", "key": screen["stimuli"][0]["key"],
                                                        "value": 50}]}
    following = served(store, store.submit(screen["token"], 1, submission))
    assert following["trial"] == screen["trial"] + 1 and following["phase"] == "test"
    assert store.submit(screen["token"], 1, submission) == following  # a retried submit changes nothing
    table = store.ratings()
    assert len(table) == 5 and not table.duplicated(["listener", "trial", "condition"]).any()
    assert set(table["phase"]) == {"training"} and sorted(table["rating"]) == [50, 51, 52, 53, 54]
    events = store.events()
    assert events[events["trial"] == 1]["kind"].tolist() == ["ready", "play"] + ["switch"] * 5 + ["stop", "rate"]
    assert events[events["trial"] == 1]["role"].tolist()[1:3] == ["open-reference", "rated"]
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        key = screen["stimuli"][0]["key"]
        with pytest.raises(sqlite3.IntegrityError):  # the database itself refuses a duplicate rating
            db.execute("INSERT INTO ratings VALUES ('L001', 1, 1, ?, 'i', 'c', 5, 'training', 't')", (key,))


@pytest.mark.parametrize("change, message", [
    (lambda s, r: {"trial": s["trial"], "ratings": dict(list(r.items())[:-1])}, "exactly one rating"),
    (lambda s, r: {"trial": s["trial"], "ratings": {**r, "bogus": 3}}, "exactly one rating"),
    (lambda s, r: {"trial": s["trial"], "ratings": {**r, next(iter(r)): 101}}, "0 to 100"),
    (lambda s, r: {"trial": s["trial"], "ratings": {**r, next(iter(r)): 50.5}}, "0 to 100"),
    (lambda s, r: {"trial": s["trial"], "ratings": {**r, next(iter(r)): True}}, "0 to 100"),
    (lambda s, r: {"trial": s["trial"] + 1, "ratings": r}, "not the current trial"),
    (lambda s, r: {"ratings": r}, "names no trial"),
])
def test_bad_submissions_store_nothing(store, change, message):
    screen = to_trial(store)
    with pytest.raises(SubmissionError, match=message):
        store.submit(screen["token"], 1, change(screen, ratings_for(screen)))
    assert store.ratings().empty


def test_unknown_token_and_session_are_refused(store):
    screen = to_trial(store)
    submission = {"trial": screen["trial"], "ratings": ratings_for(screen)}
    with pytest.raises(SubmissionError, match="unknown listener"):
        store.submit("not-a-token", 1, submission)
    with pytest.raises(SubmissionError, match="session"):
        store.submit(screen["token"], 9, submission)
    with pytest.raises(SubmissionError, match="unknown listener"):
        store.resume("not-a-token")


def test_resume_continues_where_the_listener_stopped(store):
    first = to_trial(store)
    second = served(store, store.submit(first["token"], 1, {"trial": first["trial"], "ratings": ratings_for(first),
                                                            "events": playback_events(first)}))
    again = store.resume(first["token"], "agent")
    assert again["session"] == 2 and again["trial"] == second["trial"]
    assert again["stimuli"] == second["stimuli"] and again["reference"] == second["reference"]
    store.submit(first["token"], 2, {"trial": again["trial"], "ratings": ratings_for(again, 10),
                                     "events": playback_events(again)})
    table = store.ratings()
    assert table.groupby("phase")["session"].first().to_dict() == {"training": 1, "test": 2}
    assert set(table["trial"]) == {1}  # each the first of its phase
    progress = store.progress().iloc[0]
    assert (progress["sessions"], progress["training_done"], progress["test_done"]) == (2, 1, 1)
    assert progress["headphone_check"] == "skipped"


def test_database_of_another_test_is_refused(store, mushra_test_dir):
    other = load_test(mushra_test_dir)
    other = type(other)(other.root, other.name, other.conditions, other.training, other.items, "f" * 64, other.spec)
    with pytest.raises(ValueError, match="another test"):
        MushraStore(store.path, other)

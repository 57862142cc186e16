"""The listening-test database as the server writes it: SQLite in WAL mode, one transaction per trial.

Every write runs in its own `BEGIN IMMEDIATE` transaction on its own connection, so concurrent
listeners are serialised by SQLite (waiting up to `BUSY_TIMEOUT_MS`), never by the web server.
A trial's ratings, its event log and the play time of each of its stimuli are committed together when
the listener presses Next (`synchronous=FULL`: a committed trial survives a killed server or a power
cut); a trial is stored at most once (primary key (listener, trial) of `submissions`, unique
(listener, trial, stimulus) of `ratings`), so a retried submission changes nothing.

Serving records: every time a stimulus goes out (freshly dithered, see `dither`), a row of `deliveries`
says which key and when (see `deliver` for its durability); a trial is accepted only once every stimulus
of it was served to that listener, and only when the wall-clock time from the first serving of any of its
stimuli to the submission, on the server's clock, covers what the listening rule asks
(`ListeningRule.wall_ms`) and the play log fits in it (`events.physical_bounds`).
`plays` holds, per stimulus of a submitted trial, how often playback started on it and for how long (from
the trial's event log, see `events`); a trial whose stimuli were not all heard as long as the test's
`ListeningRule` asks is refused.

`listener_info` keeps what a listener said about themselves (expertise, headphones, consent), the ids a
crowdsourcing platform's link carried (see `platforms`), their headphone-screen score and their answers on
the end page; `headphone_rounds` the Huggins-pitch rounds of the check screen (see `headphones`), served by
opaque key like the stimuli.

Registration: with invitations only, a listener gets in (or back) through their invitation link alone;
a crowdsourcing platform's participant id resumes a listener only under open registration. Open
registrations are limited per client address (`Registration.per_hour`, see `throttle.RateLimit`), so no
one can close registration for everybody. The database file and its write-ahead log are mode 600: they
hold every listener's token and the dither secret.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from codecbench.listening_test import headphones
from codecbench.listening_test.dither import dither_seed, dithered_wav
from codecbench.listening_test.events import CLOCK_TOLERANCE_MS, MAX_TRIAL_EVENTS, Event, parse_events, physical_bounds, playback
from codecbench.listening_test.platforms import PARTICIPANT_IDS, PLATFORM_IDS, Completion
from codecbench.listening_test.results import BUSY_TIMEOUT_MS, ResultsDB
from codecbench.listening_test.testdef import MushraTest
from codecbench.listening_test.throttle import RateLimit
from codecbench.listening_test.types import type_of

MAX_ID = 2 ** 31  # sessions and trials are positive numbers below this
MAX_INFO_CHARS = 200  # a listener's answer about themselves
MAX_ANSWER_CHARS = 2000  # an answer on the end page
SELF_REPORTED = ("expertise", "headphones", "consent")  # what the welcome page asks
DEFAULT_REGISTRATIONS_PER_HOUR = 60

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS listeners (
    listener TEXT PRIMARY KEY,
    token TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    seed INTEGER NOT NULL,
    created TEXT NOT NULL,
    headphone_check TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS listeners_by_created ON listeners (created);
CREATE TABLE IF NOT EXISTS invites (
    code TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    listener TEXT UNIQUE REFERENCES listeners (listener),
    used TEXT
);
CREATE TABLE IF NOT EXISTS sessions (
    listener TEXT NOT NULL REFERENCES listeners (listener),
    session INTEGER NOT NULL,
    started TEXT NOT NULL,
    user_agent TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (listener, session)
);
CREATE TABLE IF NOT EXISTS trials (
    listener TEXT NOT NULL REFERENCES listeners (listener),
    trial INTEGER NOT NULL,
    phase TEXT NOT NULL CHECK (phase IN ('training', 'test')),
    item TEXT NOT NULL,
    PRIMARY KEY (listener, trial)
);
CREATE TABLE IF NOT EXISTS stimuli (
    key TEXT PRIMARY KEY,
    listener TEXT NOT NULL REFERENCES listeners (listener),
    trial INTEGER NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('rated', 'open-reference', 'level')),
    label TEXT NOT NULL,
    condition TEXT NOT NULL,
    file TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS stimuli_by_trial ON stimuli (listener, trial);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY,
    stimulus TEXT NOT NULL REFERENCES stimuli (key),
    served TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_by_stimulus ON deliveries (stimulus);
CREATE TABLE IF NOT EXISTS submissions (
    listener TEXT NOT NULL,
    trial INTEGER NOT NULL,
    session INTEGER NOT NULL,
    submitted TEXT NOT NULL,
    client_id TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (listener, trial),
    FOREIGN KEY (listener, trial) REFERENCES trials (listener, trial)
);
CREATE TABLE IF NOT EXISTS ratings (
    listener TEXT NOT NULL,
    session INTEGER NOT NULL,
    trial INTEGER NOT NULL,
    stimulus TEXT NOT NULL REFERENCES stimuli (key),
    item TEXT NOT NULL,
    condition TEXT NOT NULL,
    rating INTEGER NOT NULL CHECK (rating BETWEEN 0 AND 100),
    phase TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    UNIQUE (listener, trial, stimulus),
    FOREIGN KEY (listener, trial) REFERENCES submissions (listener, trial)
);
CREATE TABLE IF NOT EXISTS plays (
    stimulus TEXT PRIMARY KEY REFERENCES stimuli (key),
    session INTEGER NOT NULL,
    starts INTEGER NOT NULL,
    play_ms REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS listener_info (
    listener TEXT NOT NULL REFERENCES listeners (listener),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    recorded TEXT NOT NULL,
    PRIMARY KEY (listener, key)
);
CREATE INDEX IF NOT EXISTS listener_info_by_key ON listener_info (key, value);
CREATE TABLE IF NOT EXISTS headphone_rounds (
    key TEXT PRIMARY KEY,
    listener TEXT NOT NULL REFERENCES listeners (listener),
    round INTEGER NOT NULL,
    target INTEGER NOT NULL,
    served TEXT,
    answer INTEGER
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    listener TEXT NOT NULL,
    session INTEGER NOT NULL,
    trial INTEGER NOT NULL,
    t_ms REAL,
    kind TEXT NOT NULL,
    stimulus TEXT NOT NULL DEFAULT '',
    value REAL,
    detail TEXT NOT NULL DEFAULT '',
    received TEXT NOT NULL
);
"""

INVITE_ONLY = "This test takes listeners by invitation only: open the personal link of your invitation."
UNKNOWN_INVITE = "This invitation link is not valid: check that you opened the whole link of your invitation."
TOO_MANY = "Too many new listeners joined from your address in the last hour: please try again later."
REGISTRATION_WINDOW_S = 3600.0


class SubmissionError(ValueError):
    """A request that does not fit the listener's state (nothing was stored); the message is for the listener."""


@dataclass(frozen=True)
class Registration:
    """Who may become a listener.

    Args:
        invite_only: only through an invitation link (`codecbench mushra invite`).
        per_hour: open registrations accepted from one client address in any hour (invited listeners
            and returning listeners do not count).
    """

    invite_only: bool = False
    per_hour: int = DEFAULT_REGISTRATIONS_PER_HOUR

    def __post_init__(self) -> None:
        if self.per_hour < 1:
            raise ValueError(f"--registrations-per-hour must be >= 1, not {self.per_hour}")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def now() -> str:
    return stamp(utc_now())


def stamp(moment: datetime) -> str:
    """A time as the database stores it (ISO 8601, UTC, milliseconds)."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")


class MushraStore(ResultsDB):
    """The database of one test, opened for writing (the server; `codecbench mushra invite`).

    Args:
        path: the SQLite file (created with its folder if missing).
        test: the loaded test; a database opened with another test is refused.
        level_check: show the level and left/right check before the training.
        registration: who may register.
        headphone_screen: add the Huggins-pitch headphone screen to the check screen.
        completion: where listeners go, and what they are shown, when they are done.
        screened_out: the same for a listener a `--require-headphones` test screened out.
        clock: the time now, timezone-aware (time stamps and the wall-clock listening check).
        monotonic: seconds, monotonic (the per-address registration limit).

    Raises:
        ValueError: another test's database, or one that cannot be written (a one-line reason).
    """

    def __init__(self, path: str | Path, test: MushraTest, level_check: bool = True,
                 registration: Registration = Registration(), headphone_screen: bool = True,
                 completion: Completion = Completion(), screened_out: Completion = Completion(),
                 clock: Callable[[], datetime] = utc_now, monotonic: Callable[[], float] | None = None) -> None:
        self.path = Path(path)
        self.clock = clock
        self.registrations = RateLimit(registration.per_hour, REGISTRATION_WINDOW_S,
                                       *(() if monotonic is None else (monotonic,)))
        self.test = test
        self.kind = type_of(test)  # the test type: its trials and valid answers
        self.level_check = level_check
        self.registration = registration
        self.headphone_screen = headphone_screen and level_check
        self.completion = completion
        self.screened_out = screened_out
        self.require_headphones = test.require_headphones
        self.rule = test.rule
        self.questions = {q["id"] for q in test.texts["questionnaire"]}
        self.loudness_lufs = float(test.spec["loudness"]["aligned_lufs"])
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            db = self._connect()
            try:
                db.execute("PRAGMA journal_mode = WAL")
                db.executescript(SCHEMA)
                with self._transaction(db):  # also the proof that this process may write here
                    found = db.execute("SELECT value FROM meta WHERE key = 'test_digest'").fetchone()
                    self._check_digest(found[0] if found else None)
                    defaults = [("test_digest", test.digest), ("test_name", test.name), ("created", self._now()),
                                ("dither_secret", secrets.token_hex(32))]
                    db.executemany("INSERT OR IGNORE INTO meta VALUES (?, ?)", defaults)
                    db.execute("INSERT OR REPLACE INTO meta VALUES ('last_opened', ?)", (self._now(),))
                    self._secret = bytes.fromhex(
                        db.execute("SELECT value FROM meta WHERE key = 'dither_secret'").fetchone()[0])
            finally:
                db.close()
            for suffix in ("", "-wal", "-shm"):
                private(self.path.with_name(self.path.name + suffix))
        except (sqlite3.Error, OSError) as exc:
            raise ValueError(f"cannot write the results database {self.path} ({exc}): the server needs write "
                             "access to it and to its folder; choose another place with --db") from None

    def _now(self) -> str:
        return stamp(self.clock())

    def _connect(self, synchronous: str = "FULL") -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute(f"PRAGMA synchronous = {synchronous}")
        db.execute("PRAGMA foreign_keys = ON")
        return db

    @staticmethod
    @contextmanager
    def _transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        db.execute("BEGIN IMMEDIATE")  # take the write lock now: no deadlock on a later upgrade
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @contextmanager
    def _write(self, synchronous: str = "FULL") -> Iterator[sqlite3.Connection]:
        db = self._connect(synchronous)
        try:
            with self._transaction(db):
                yield db
        finally:
            db.close()

    # -- listeners -------------------------------------------------------------------------------------

    def register(self, name: str = "", user_agent: str = "", invite: str | None = None,
                 info: dict[str, str] | None = None, address: str = "") -> dict[str, Any]:
        """Create a listener with a fresh random seed and plan; returns their first screen.

        With an invitation code: a new listener bound to it, or, if the invitation was used before, a new
        session of its listener (the invitation link doubles as their personal link). Without one: open
        registration, if allowed and fewer than `registration.per_hour` opened from `address` in the last
        hour. Under open registration and without an invitation, a platform participant id
        (`info["PROLIFIC_PID"]`, `info["workerId"]`) seen before resumes its listener.

        Args:
            name: the name or code the listener typed.
            user_agent: the browser's.
            invite: the invitation code of the link.
            info: self-reported `SELF_REPORTED` answers and `platforms.PLATFORM_IDS` (other keys are ignored).
            address: the client's address (see `gate.client_address`).

        Raises:
            SubmissionError: invitation only, an unknown invitation, or too many registrations this hour.
        """
        info = {k: str(v)[:MAX_INFO_CHARS] for k, v in (info or {}).items()
                if k in SELF_REPORTED + PLATFORM_IDS and isinstance(v, str) and v}
        seed = secrets.randbits(31)
        plan = self.kind.plan(self.test, seed)
        open_registration = invite is None and not self.registration.invite_only
        with self._write() as db:
            for participant in (k for k in PARTICIPANT_IDS if k in info and open_registration):
                row = db.execute("SELECT l.listener, l.token FROM listener_info i JOIN listeners l USING (listener) "
                                 "WHERE i.key = ? AND i.value = ?", (participant, info[participant])).fetchone()
                if row is not None:
                    return self._screen(db, row[0], self._new_session(db, row[0], user_agent), row[1])
            if invite is not None:
                row = db.execute("SELECT listener FROM invites WHERE code = ?", (str(invite),)).fetchone()
                if row is None:
                    raise SubmissionError(UNKNOWN_INVITE)
                if row[0] is not None:
                    token = db.execute("SELECT token FROM listeners WHERE listener = ?", (row[0],)).fetchone()[0]
                    return self._screen(db, row[0], self._new_session(db, row[0], user_agent), token)
            elif self.registration.invite_only:
                raise SubmissionError(INVITE_ONLY)
            elif not self.registrations.take(address):
                raise SubmissionError(TOO_MANY)
            listener, token = self._new_listener(db, name, user_agent, seed, plan)
            self._record_info(db, listener, info)
            if invite is not None:
                db.execute("UPDATE invites SET listener = ?, used = ? WHERE code = ?", (listener, self._now(), invite))
            return self._screen(db, listener, 1, token)

    def _new_listener(self, db: sqlite3.Connection, name: str, user_agent: str, seed: int,
                      plan: list) -> tuple[str, str]:
        count = db.execute("SELECT COUNT(*) FROM listeners").fetchone()[0]
        listener, token = f"L{count + 1:03d}", secrets.token_urlsafe(18)
        db.execute("INSERT INTO listeners (listener, token, name, seed, created) VALUES (?, ?, ?, ?, ?)",
                   (listener, token, name.strip()[:100], seed, self._now()))
        db.execute("INSERT INTO sessions VALUES (?, 1, ?, ?)", (listener, self._now(), user_agent[:300]))
        level_file = (self.test.training or self.test.items)[0].stimuli[self.test.spec["reference"]]
        stimuli = [(_key(), listener, 0, "level", "LEVEL", self.test.spec["reference"], level_file)]
        for trial in plan:
            db.execute("INSERT INTO trials VALUES (?, ?, ?, ?)", (listener, trial.trial, trial.phase, trial.item))
            if trial.reference_file is not None:
                stimuli.append((_key(), listener, trial.trial, "open-reference", "R", self.test.spec["reference"],
                                trial.reference_file))
            stimuli += [(_key(), listener, trial.trial, "rated", label, condition, file)
                        for label, condition, file in trial.stimuli]
        db.executemany("INSERT INTO stimuli VALUES (?, ?, ?, ?, ?, ?, ?)", stimuli)
        if self.headphone_screen:
            targets = headphones.plan_rounds(np.random.default_rng(seed))
            db.executemany("INSERT INTO headphone_rounds (key, listener, round, target) VALUES (?, ?, ?, ?)",
                           [(_key(), listener, n, target) for n, target in enumerate(targets, start=1)])
        return listener, token

    def _record_info(self, db: sqlite3.Connection, listener: str, info: dict[str, str]) -> None:
        db.executemany("INSERT OR REPLACE INTO listener_info VALUES (?, ?, ?, ?)",
                       [(listener, key, value, self._now()) for key, value in info.items()])

    def create_invites(self, count: int) -> list[str]:
        """`count` new invitation codes (random, 144 bits), each good for one listener."""
        codes = [secrets.token_urlsafe(18) for _ in range(count)]
        with self._write() as db:
            db.executemany("INSERT INTO invites (code, created) VALUES (?, ?)", [(c, self._now()) for c in codes])
        return codes

    def invited_token(self, invite: str) -> str | None:
        """The personal token of the listener who used this invitation (None: unknown or not used yet)."""
        with self._read() as db:
            row = db.execute("SELECT l.token FROM invites i JOIN listeners l ON l.listener = i.listener "
                             "WHERE i.code = ?", (str(invite),)).fetchone()
        return None if row is None else row[0]

    def token_of(self, listener: str) -> str | None:
        """A listener's personal token, for the admin to send them their link again (None: no such listener)."""
        with self._read() as db:
            row = db.execute("SELECT token FROM listeners WHERE listener = ?", (str(listener),)).fetchone()
        return None if row is None else row[0]

    def resume(self, token: str, user_agent: str = "") -> dict[str, Any]:
        """Open a new session for a returning listener; returns the screen they are at.

        Raises:
            SubmissionError: unknown token.
        """
        with self._write() as db:
            listener = self._listener(db, token)
            return self._screen(db, listener, self._new_session(db, listener, user_agent), token)

    def _new_session(self, db: sqlite3.Connection, listener: str, user_agent: str) -> int:
        session = db.execute("SELECT COALESCE(MAX(session), 0) + 1 FROM sessions WHERE listener = ?",
                             (listener,)).fetchone()[0]
        db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?)", (listener, session, self._now(), user_agent[:300]))
        return session

    @staticmethod
    def _listener(db: sqlite3.Connection, token: str) -> str:
        row = db.execute("SELECT listener FROM listeners WHERE token = ?", (str(token),)).fetchone()
        if row is None:
            raise SubmissionError("unknown listener link: start a new session from the welcome page")
        return row[0]

    # -- screens ---------------------------------------------------------------------------------------

    def _screen(self, db: sqlite3.Connection, listener: str, session: int, token: str) -> dict[str, Any]:
        """What the listener sees next: the level check, the next unsubmitted trial, or the end."""
        base = {"token": token, "listener": listener, "session": session}
        check = db.execute("SELECT headphone_check FROM listeners WHERE listener = ?", (listener,)).fetchone()[0]
        if self.level_check and not check:
            key = db.execute("SELECT key FROM stimuli WHERE listener = ? AND role = 'level'", (listener,)).fetchone()[0]
            rounds = [r[0] for r in db.execute("SELECT key FROM headphone_rounds WHERE listener = ? ORDER BY round",
                                               (listener,))]
            return {**base, "screen": "level", "sample": key, "huggins": rounds if self.headphone_screen else [],
                    "tone_amplitude": round(headphones.tone_amplitude(self.loudness_lufs), 5)}
        row = db.execute("SELECT trial, phase FROM trials t WHERE listener = ? AND NOT EXISTS (SELECT 1 FROM "
                         "submissions s WHERE s.listener = t.listener AND s.trial = t.trial) ORDER BY trial LIMIT 1",
                         (listener,)).fetchone()
        if self._is_screened_out(db, listener):
            info = dict(db.execute("SELECT key, value FROM listener_info WHERE listener = ?", (listener,)).fetchall())
            return {**base, "screen": "screened_out", "completion": self.screened_out.for_listener(info)}
        if row is None:
            return {**base, **self._end(db, listener)}
        trial, phase = row
        index, count = db.execute("SELECT SUM(trial <= ?), COUNT(*) FROM trials WHERE listener = ? AND phase = ?",
                                  (trial, listener, phase)).fetchone()
        stimuli = db.execute("SELECT key, label, role FROM stimuli WHERE listener = ? AND trial = ? ORDER BY label",
                             (listener, trial)).fetchall()
        item = db.execute("SELECT item FROM trials WHERE listener = ? AND trial = ?", (listener, trial)).fetchone()[0]
        return {**base, "screen": "trial", "trial": trial, "phase": phase, "index": index, "count": count,
                "stimuli": [{"key": s["key"], "label": s["label"]} for s in stimuli if s["role"] == "rated"],
                "reference": next((s["key"] for s in stimuli if s["role"] == "open-reference"), None),
                "min_play_ms": self.rule.required_ms(self.test.duration_s(item))}

    def _end(self, db: sqlite3.Connection, listener: str) -> dict[str, Any]:
        """The end page: how many trials were saved; once the end page's answers are in, the way back to the
        listener's crowdsourcing platform."""
        counts = dict(db.execute("SELECT phase, COUNT(*) FROM trials WHERE listener = ? GROUP BY phase", (listener,)))
        info = dict(db.execute("SELECT key, value FROM listener_info WHERE listener = ?", (listener,)).fetchall())
        end = {"screen": "done", "trials": counts.get("test", 0), "training": counts.get("training", 0),
               "answered": "answered" in info, "completion": self.completion.for_listener(info)}
        return end

    def _is_screened_out(self, db: sqlite3.Connection, listener: str) -> bool:
        """A `--require-headphones` test's listener who took the checks and did not pass the headphone screen."""
        if not self.require_headphones:
            return False
        check = db.execute("SELECT headphone_check FROM listeners WHERE listener = ?", (listener,)).fetchone()[0]
        correct = db.execute("SELECT value FROM listener_info WHERE listener = ? AND key = 'huggins_correct'",
                             (listener,)).fetchone()
        return bool(check) and (correct is None or not headphones.passed(int(correct[0])))

    # -- stimuli -----------------------------------------------------------------------------------------

    def deliver(self, key: str) -> bytes | None:
        """The stimulus behind an opaque key as WAV bytes, freshly dithered for this key, recorded as served
        (None for an unknown key).

        The record is committed without waiting for the disk (`synchronous=NORMAL`, about 100 times
        faster here): it survives a killed server, and the next durable commit (a trial) carries it to the
        disk; a power cut can lose the last ones, and then the page has to fetch the stimulus again.
        """
        with self._write("NORMAL") as db:
            row = db.execute("SELECT file FROM stimuli WHERE key = ?", (str(key),)).fetchone()
            if row is None:
                return self._deliver_round(db, str(key))
            db.execute("INSERT INTO deliveries (stimulus, served) VALUES (?, ?)", (key, self._now()))
        return dithered_wav(self.test.path(row[0]), dither_seed(self._secret, key))

    def _deliver_round(self, db: sqlite3.Connection, key: str) -> bytes | None:
        """A headphone-screen round's stimulus (its noise seeded by the key), first serving recorded."""
        row = db.execute("SELECT target FROM headphone_rounds WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        db.execute("UPDATE headphone_rounds SET served = ? WHERE key = ? AND served IS NULL", (self._now(), key))
        return headphones.huggins_wav(headphones.HugginsRound(row[0], dither_seed(self._secret, key)),
                                      self.loudness_lufs)

    # -- submissions -----------------------------------------------------------------------------------

    def submit(self, token: str, session: int, submission: dict[str, Any]) -> dict[str, Any]:
        """Store one trial's ratings, events and play times (or the level check) in one transaction; returns
        the next screen.

        A trial already stored is not stored again: the call returns the next screen unchanged.

        Args:
            token: the listener's token.
            session: the session the browser is in.
            submission: `{"trial": n, "ratings": {key: rating}, "events": [...], "client_id": str}` (0..100 in
                MUSHRA; see `types` for the others), `{"level": "level set; ..." | "skipped", "huggins": {round
                key: 1..3}, "events": [...]}` or, on
                the end page, `{"answers": {"comment": text, question id: text}}`.

        Raises:
            SubmissionError: unknown token or session, a trial that is not the current one, not every
                stimulus of which was served or heard as long as the listening rule asks, missing, unknown
                or out-of-range ratings or answers. Nothing is stored.
        """
        if not isinstance(session, int) or isinstance(session, bool) or not 0 < session < MAX_ID:
            raise SubmissionError("this page's session is not valid: reload the page")
        if not isinstance(submission, dict):
            raise SubmissionError("a submission must be an object")
        events = submission.get("events") or []
        if not isinstance(events, list) or len(events) > MAX_TRIAL_EVENTS:
            raise SubmissionError(f"events must be a list of at most {MAX_TRIAL_EVENTS} entries")
        with self._write() as db:
            listener = self._listener(db, token)
            known = db.execute("SELECT 1 FROM sessions WHERE listener = ? AND session = ?",
                               (listener, session)).fetchone()
            if known is None:
                raise SubmissionError(f"session {session} does not belong to this listener: reload the page")
            if "level" not in submission and self._is_screened_out(db, listener):
                raise SubmissionError("the headphone check ended this test for you: thank you for your time")
            if "level" in submission:
                if self.require_headphones and str(submission["level"]) == "skipped":
                    raise SubmissionError("this test needs the checks: play the sample and answer the questions")
                self._store_level(db, listener, session, str(submission["level"])[:40], events)
                self._store_rounds(db, listener, submission.get("huggins"))
            elif "answers" in submission:
                self._store_answers(db, listener, submission["answers"])
            else:
                self._store_trial(db, listener, session, submission, events)
            return self._screen(db, listener, session, token)

    def _store_level(self, db: sqlite3.Connection, listener: str, session: int, result: str,
                     events: list[Any]) -> None:
        if not result:
            raise SubmissionError("the level check result is empty")
        updated = db.execute("UPDATE listeners SET headphone_check = ? WHERE listener = ? AND headphone_check = ''",
                             (result, listener)).rowcount
        if updated:
            keys = {r[0] for r in db.execute("SELECT key FROM stimuli WHERE listener = ? AND role = 'level'",
                                             (listener,))}
            self._store_events(db, listener, session, 0, parse_events(events, keys), keys)

    def _store_trial(self, db: sqlite3.Connection, listener: str, session: int, submission: dict[str, Any],
                     events: list[Any]) -> None:
        trial = submission.get("trial")
        if not isinstance(trial, int) or isinstance(trial, bool) or not 0 < trial < MAX_ID:
            raise SubmissionError("the submission names no trial")
        if db.execute("SELECT 1 FROM submissions WHERE listener = ? AND trial = ?", (listener, trial)).fetchone():
            return  # stored before: a retried submission
        current = db.execute("SELECT MIN(trial) FROM trials t WHERE listener = ? AND NOT EXISTS (SELECT 1 FROM "
                             "submissions s WHERE s.listener = t.listener AND s.trial = t.trial)",
                             (listener,)).fetchone()[0]
        if trial != current:
            raise SubmissionError(f"trial {trial} is not the current trial ({current}): reload the page")
        phase, item = db.execute("SELECT phase, item FROM trials WHERE listener = ? AND trial = ?",
                                 (listener, trial)).fetchone()
        rows = db.execute("SELECT key, role, condition, EXISTS (SELECT 1 FROM deliveries d WHERE d.stimulus = s.key) "
                          "AS served FROM stimuli s WHERE listener = ? AND trial = ?", (listener, trial)).fetchall()
        rated = {r["key"]: r["condition"] for r in rows if r["role"] == "rated"}
        ratings = submission.get("ratings")
        refused = self.kind.check(ratings, rated, trial)
        if refused:
            raise SubmissionError(refused)
        unserved = sum(not r["served"] for r in rows)
        if unserved:
            raise SubmissionError(f"play every stimulus of this trial before pressing Next ({unserved} of "
                                  f"{len(rows)} never reached this page): reload the page")
        keys = {r["key"] for r in rows}
        logged = parse_events(events, keys)
        self._check_timing(db, listener, trial, logged, len(keys), self.test.duration_s(item))
        required = self.rule.required_ms(self.test.duration_s(item))
        short = self.rule.short(playback(logged), keys, required)
        if short:
            raise SubmissionError(f"listen to every stimulus and the Reference for at least {required / 1000:g} s "
                                  f"before pressing Next ({len(short)} of {len(keys)} were heard for less)")
        at = self._now()
        db.execute("INSERT INTO submissions VALUES (?, ?, ?, ?, ?)",
                   (listener, trial, session, at, str(submission.get("client_id", ""))[:64]))
        db.executemany("INSERT INTO ratings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       [(listener, session, trial, key, item, rated[key], ratings[key], phase, at) for key in rated])
        self._store_events(db, listener, session, trial, logged, keys)

    def _check_timing(self, db: sqlite3.Connection, listener: str, trial: int, logged: list[Event], stimuli: int,
                      duration_s: float) -> None:
        """Refuse a trial submitted sooner after its audio was first served than hearing its `stimuli` (of
        `duration_s` seconds) one after the other takes, or whose play log cannot be true (server's clock)."""
        first = db.execute("SELECT MIN(d.served) FROM deliveries d JOIN stimuli s ON s.key = d.stimulus "
                           "WHERE s.listener = ? AND s.trial = ?", (listener, trial)).fetchone()[0]
        elapsed_ms = (self.clock() - datetime.fromisoformat(first)).total_seconds() * 1000
        required_ms, least_ms = self.rule.required_ms(duration_s), self.rule.wall_ms(duration_s, stimuli)
        if elapsed_ms + CLOCK_TOLERANCE_MS < least_ms:
            raise SubmissionError(f"this trial was sent {elapsed_ms / 1000:.1f} s after its audio reached this page, "
                                  f"but hearing its {stimuli} stimuli for {required_ms / 1000:g} s each takes at "
                                  f"least {least_ms / 1000:g} s: listen to each before pressing Next")
        impossible = physical_bounds(logged, elapsed_ms)
        if impossible:
            raise SubmissionError(f"{impossible}: this trial's play log cannot be right; reload the page")

    def _store_rounds(self, db: sqlite3.Connection, listener: str, answers: Any) -> None:
        """Score the headphone screen once: a round counts as correct only if its stimulus was served."""
        if not isinstance(answers, dict) or not answers:
            return
        rounds = db.execute("SELECT key, target, served, answer FROM headphone_rounds WHERE listener = ?",
                            (listener,)).fetchall()
        if not rounds or any(r["answer"] is not None for r in rounds):
            return
        chosen = {r["key"]: answers.get(r["key"]) for r in rounds}
        valid = {k: a for k, a in chosen.items() if isinstance(a, int) and not isinstance(a, bool)
                 and 1 <= a <= headphones.INTERVALS}
        db.executemany("UPDATE headphone_rounds SET answer = ? WHERE key = ?", [(a, k) for k, a in valid.items()])
        correct = sum(valid.get(r["key"]) == r["target"] and r["served"] is not None for r in rounds)
        self._record_info(db, listener, {"huggins_correct": str(correct), "huggins_rounds": str(len(rounds))})

    def _store_answers(self, db: sqlite3.Connection, listener: str, answers: Any) -> None:
        """The end page's comment and questionnaire answers, once, after the last trial."""
        if not isinstance(answers, dict) or set(answers) - {"comment"} - self.questions:
            raise SubmissionError("these answers do not belong to this test's questions: reload the page")
        open_trials = db.execute("SELECT COUNT(*) FROM trials t WHERE listener = ? AND NOT EXISTS (SELECT 1 FROM "
                                 "submissions s WHERE s.listener = t.listener AND s.trial = t.trial)",
                                 (listener,)).fetchone()[0]
        if open_trials:
            raise SubmissionError("answer the questions after the last trial: reload the page")
        if db.execute("SELECT 1 FROM listener_info WHERE listener = ? AND key = 'answered'", (listener,)).fetchone():
            return  # sent before: a retried submission
        given = {("comment" if k == "comment" else f"q_{k}"): str(v)[:MAX_ANSWER_CHARS]
                 for k, v in answers.items() if isinstance(v, (str, int, float)) and str(v).strip()}
        self._record_info(db, listener, {**given, "answered": self._now()})

    def _store_events(self, db: sqlite3.Connection, listener: str, session: int, trial: int, events: list[Event],
                      keys: set[str]) -> None:
        """The event log of one screen and the play time of each of its stimuli `keys` (0 for one never played)."""
        at = self._now()
        db.executemany("INSERT INTO events (listener, session, trial, t_ms, kind, stimulus, value, detail, received) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       [(listener, session, trial, e.t_ms, e.kind, e.key, e.value, e.detail, at) for e in events])
        heard = playback(events)
        db.executemany("INSERT OR IGNORE INTO plays VALUES (?, ?, ?, ?)",
                       [(key, session, heard[key].starts if key in heard else 0,
                         heard[key].play_ms if key in heard else 0.0) for key in sorted(keys)])


def private(path: Path) -> None:
    """Make an existing file readable and writable by its owner only."""
    if path.exists():
        path.chmod(0o600)


def _key() -> str:
    """An opaque stimulus id: random, unrelated to the condition, item or listener."""
    return secrets.token_urlsafe(12)


def default_db(test_dir: str | Path) -> Path:
    """Where `serve` keeps a test's results unless told otherwise."""
    return Path(test_dir) / "results" / "mushra.sqlite"

"""The listening-test database: SQLite in WAL mode, one transaction per trial, idempotent submissions.

Every write runs in its own `BEGIN IMMEDIATE` transaction on its own connection, so concurrent
listeners are serialised by SQLite (waiting up to `BUSY_TIMEOUT_MS`), never by the web server.
A trial's ratings and its event log are committed together when the listener presses Next
(`synchronous=FULL`: a committed trial survives a killed server or a power cut); a trial is stored at
most once (primary key (listener, trial) of `submissions`, unique (listener, trial, stimulus) of
`ratings`), so a retried submission changes nothing.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from codecbench.listening_test.plan import plan_trials
from codecbench.listening_test.testdef import RATINGS_COLUMNS, MushraTest

BUSY_TIMEOUT_MS = 30000
MAX_EVENTS = 20000  # per submission

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


class SubmissionError(ValueError):
    """A submission that does not fit the listener's current trial (nothing was stored)."""


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class MushraStore:
    """The database of one test.

    Args:
        path: the SQLite file (created with its folder if missing).
        test: the loaded test; a database opened with another test is refused.
        level_check: show the level/headphone check before the training.
    """

    def __init__(self, path: str | Path, test: MushraTest, level_check: bool = True) -> None:
        self.path = Path(path)
        self.test = test
        self.level_check = level_check
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = self._connect()
        try:
            db.execute("PRAGMA journal_mode = WAL")
            db.executescript(SCHEMA)
            with self._transaction(db):
                found = db.execute("SELECT value FROM meta WHERE key = 'test_digest'").fetchone()
                if found is None:
                    db.execute("INSERT INTO meta VALUES ('test_digest', ?), ('test_name', ?), ('created', ?)",
                               (test.digest, test.name, now()))
                elif test.digest and found[0] != test.digest:
                    raise ValueError(f"{self.path} holds results of another test (digest {found[0][:12]}…, this "
                                     f"test is {test.digest[:12]}…): use another --db")
        finally:
            db.close()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA synchronous = FULL")
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
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        try:
            with self._transaction(db):
                yield db
        finally:
            db.close()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        try:
            yield db
        finally:
            db.close()

    # -- listeners -------------------------------------------------------------------------------------

    def register(self, name: str = "", user_agent: str = "") -> dict[str, Any]:
        """Create a listener with a fresh random seed and plan; returns their first screen."""
        seed = secrets.randbits(31)
        plan = plan_trials(self.test, seed)
        level_file = (self.test.training or self.test.items)[0].stimuli[self.test.spec["reference"]]
        with self._write() as db:
            count = db.execute("SELECT COUNT(*) FROM listeners").fetchone()[0]
            listener, token = f"L{count + 1:03d}", secrets.token_urlsafe(18)
            db.execute("INSERT INTO listeners (listener, token, name, seed, created) VALUES (?, ?, ?, ?, ?)",
                       (listener, token, name.strip()[:100], seed, now()))
            db.execute("INSERT INTO sessions VALUES (?, 1, ?, ?)", (listener, now(), user_agent[:300]))
            stimuli = [(_key(), listener, 0, "level", "LEVEL", self.test.spec["reference"], level_file)]
            for trial in plan:
                db.execute("INSERT INTO trials VALUES (?, ?, ?, ?)", (listener, trial.trial, trial.phase, trial.item))
                stimuli.append((_key(), listener, trial.trial, "open-reference", "R", self.test.spec["reference"],
                                trial.reference_file))
                stimuli += [(_key(), listener, trial.trial, "rated", label, condition, file)
                            for label, condition, file in trial.stimuli]
            db.executemany("INSERT INTO stimuli VALUES (?, ?, ?, ?, ?, ?, ?)", stimuli)
            return self._screen(db, listener, 1, token)

    def resume(self, token: str, user_agent: str = "") -> dict[str, Any]:
        """Open a new session for a returning listener; returns the screen they are at.

        Raises:
            SubmissionError: unknown token.
        """
        with self._write() as db:
            listener = self._listener(db, token)
            session = db.execute("SELECT COALESCE(MAX(session), 0) + 1 FROM sessions WHERE listener = ?",
                                 (listener,)).fetchone()[0]
            db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?)", (listener, session, now(), user_agent[:300]))
            return self._screen(db, listener, session, token)

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
            return {**base, "screen": "level", "sample": key}
        row = db.execute("SELECT trial, phase FROM trials t WHERE listener = ? AND NOT EXISTS (SELECT 1 FROM "
                         "submissions s WHERE s.listener = t.listener AND s.trial = t.trial) ORDER BY trial LIMIT 1",
                         (listener,)).fetchone()
        if row is None:
            done = db.execute("SELECT COUNT(*) FROM trials WHERE listener = ?", (listener,)).fetchone()[0]
            return {**base, "screen": "done", "trials": done}
        trial, phase = row
        index, count = db.execute("SELECT SUM(trial <= ?), COUNT(*) FROM trials WHERE listener = ? AND phase = ?",
                                  (trial, listener, phase)).fetchone()
        stimuli = db.execute("SELECT key, label, role FROM stimuli WHERE listener = ? AND trial = ? ORDER BY label",
                             (listener, trial)).fetchall()
        return {**base, "screen": "trial", "trial": trial, "phase": phase, "index": index, "count": count,
                "stimuli": [{"key": s["key"], "label": s["label"]} for s in stimuli if s["role"] == "rated"],
                "reference": next(s["key"] for s in stimuli if s["role"] == "open-reference")}

    # -- submissions -----------------------------------------------------------------------------------

    def submit(self, token: str, session: int, submission: dict[str, Any]) -> dict[str, Any]:
        """Store one trial's ratings and events (or the level check) in one transaction; returns the next screen.

        A trial already stored is not stored again: the call returns the next screen unchanged.

        Args:
            token: the listener's token.
            session: the session the browser is in.
            submission: `{"trial": n, "ratings": {key: 0..100}, "events": [...], "client_id": str}` or
                `{"level": "passed 3/3" | "failed 1/3" | "skipped", "events": [...]}`.

        Raises:
            SubmissionError: unknown token, a trial that is not the current one, missing, unknown or
                out-of-range ratings. Nothing is stored.
        """
        if not isinstance(submission, dict):
            raise SubmissionError("a submission must be an object")
        events = submission.get("events") or []
        if not isinstance(events, list) or len(events) > MAX_EVENTS:
            raise SubmissionError(f"events must be a list of at most {MAX_EVENTS} entries")
        with self._write() as db:
            listener = self._listener(db, token)
            known = db.execute("SELECT 1 FROM sessions WHERE listener = ? AND session = ?",
                               (listener, session)).fetchone()
            if known is None:
                raise SubmissionError(f"session {session!r} does not belong to this listener: reload the page")
            if "level" in submission:
                self._store_level(db, listener, session, str(submission["level"])[:40], events)
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
            self._store_events(db, listener, session, 0, events, set())

    def _store_trial(self, db: sqlite3.Connection, listener: str, session: int, submission: dict[str, Any],
                     events: list[Any]) -> None:
        trial = submission.get("trial")
        if not isinstance(trial, int) or isinstance(trial, bool):
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
        rows = db.execute("SELECT key, role, condition FROM stimuli WHERE listener = ? AND trial = ?",
                          (listener, trial)).fetchall()
        rated = {r["key"]: r["condition"] for r in rows if r["role"] == "rated"}
        ratings = submission.get("ratings")
        if not isinstance(ratings, dict) or set(ratings) != set(rated):
            raise SubmissionError(f"trial {trial} needs exactly one rating for each of its {len(rated)} stimuli")
        for value in ratings.values():
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
                raise SubmissionError(f"ratings are whole numbers from 0 to 100, not {value!r}")
        stamp = now()
        db.execute("INSERT INTO submissions VALUES (?, ?, ?, ?, ?)",
                   (listener, trial, session, stamp, str(submission.get("client_id", ""))[:64]))
        db.executemany("INSERT INTO ratings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       [(listener, session, trial, key, item, rated[key], ratings[key], phase, stamp) for key in rated])
        self._store_events(db, listener, session, trial, events, {r["key"] for r in rows})

    @staticmethod
    def _store_events(db: sqlite3.Connection, listener: str, session: int, trial: int, events: list[Any],
                      keys: set[str]) -> None:
        stamp, rows = now(), []
        for event in events:
            if not isinstance(event, dict):
                continue
            key = event.get("key") if event.get("key") in keys else ""
            rows.append((listener, session, trial, _number(event.get("t")), str(event.get("kind", ""))[:32], key,
                         _number(event.get("value")), str(event.get("detail", ""))[:64], stamp))
        db.executemany("INSERT INTO events (listener, session, trial, t_ms, kind, stimulus, value, detail, received) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    # -- reads -----------------------------------------------------------------------------------------

    def audio_file(self, key: str) -> Path | None:
        """The stimulus file behind an opaque key (None for an unknown key)."""
        with self._read() as db:
            row = db.execute("SELECT file FROM stimuli WHERE key = ?", (key,)).fetchone()
        return None if row is None else self.test.path(row[0])

    def ratings(self) -> pd.DataFrame:
        """Every committed rating in the export format (`RATINGS_COLUMNS`)."""
        with self._read() as db:
            table = pd.read_sql_query(f"SELECT {', '.join(RATINGS_COLUMNS)} FROM ratings "
                                      "ORDER BY listener, trial, condition", db)
        return table.astype({"rating": int, "session": int, "trial": int})

    def events(self) -> pd.DataFrame:
        """The event log with each opaque key resolved to its condition and role."""
        with self._read() as db:
            return pd.read_sql_query(
                "SELECT e.listener, e.session, e.trial, t.item, e.t_ms, e.kind, s.condition, s.role, s.label, "
                "e.value, e.detail, e.received FROM events e LEFT JOIN stimuli s ON s.key = e.stimulus "
                "LEFT JOIN trials t ON t.listener = e.listener AND t.trial = e.trial ORDER BY e.id", db)

    def progress(self) -> pd.DataFrame:
        """One row per listener: sessions, level check, trials done per phase, last submission."""
        with self._read() as db:
            return pd.read_sql_query(
                "SELECT l.listener, l.name, l.created, l.seed, l.headphone_check, "
                "(SELECT COUNT(*) FROM sessions s WHERE s.listener = l.listener) AS sessions, "
                "(SELECT COUNT(*) FROM submissions s JOIN trials t USING (listener, trial) "
                " WHERE s.listener = l.listener AND t.phase = 'training') AS training_done, "
                "(SELECT COUNT(*) FROM trials t WHERE t.listener = l.listener AND t.phase = 'training') "
                " AS training_total, "
                "(SELECT COUNT(*) FROM submissions s JOIN trials t USING (listener, trial) "
                " WHERE s.listener = l.listener AND t.phase = 'test') AS test_done, "
                "(SELECT COUNT(*) FROM trials t WHERE t.listener = l.listener AND t.phase = 'test') AS test_total, "
                "(SELECT MAX(submitted) FROM submissions s WHERE s.listener = l.listener) AS last_submission "
                "FROM listeners l ORDER BY l.listener", db)


def _key() -> str:
    """An opaque stimulus id: random, unrelated to the condition, item or listener."""
    return secrets.token_urlsafe(12)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def default_db(test_dir: str | Path) -> Path:
    """Where `serve` keeps a test's results unless told otherwise."""
    return Path(test_dir) / "results" / "mushra.sqlite"


def export_ratings(db_path: str | Path, test: MushraTest, out: str | Path) -> pd.DataFrame:
    """Write `ratings.csv` (the export contract) from a test's database; returns the table."""
    if not Path(db_path).exists():
        raise FileNotFoundError(f"{db_path} not found: no listener has started this test yet")
    table = MushraStore(db_path, test).ratings()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    return table

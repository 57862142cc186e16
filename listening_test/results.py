"""Read access to a test's results database: ratings, events, serving and listening records, progress.

`export` only reads, so it opens the database read-only (SQLite `mode=ro`) and writes nothing beside it.
On read-only media (a read-only mount, a folder or database the user may not write) SQLite cannot create
the write-ahead log's shared-memory index (`-shm`); a database without a pending write-ahead log is then
opened `immutable`, which needs neither. A database whose log still holds trials (its server was killed)
and whose `-shm` is gone cannot be read in place: the error says to copy the folder somewhere writable.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pandas as pd

from codecbench.listening_test.testdef import RATINGS_COLUMNS, MushraTest
from codecbench.safecsv import write_csv

BUSY_TIMEOUT_MS = 30000
LISTENING_COLUMNS = ["listener", "trial", "phase", "item", "role", "label", "condition", "deliveries",
                     "first_served", "session", "plays", "play_s"]


class ResultsDB:
    """The results of one test, read-only.

    Args:
        path: the SQLite file.
        test: the loaded test; a database of another test is refused.

    Raises:
        FileNotFoundError: no database at `path`.
        ValueError: the database holds another test's results, or cannot be read in place.
    """

    def __init__(self, path: str | Path, test: MushraTest) -> None:
        self.path = Path(path)
        self.test = test
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path} not found: no listener has started this test yet")
        self._uri = self._read_only_uri()
        with self._read() as db:
            found = db.execute("SELECT value FROM meta WHERE key = 'test_digest'").fetchone()
        self._check_digest(found[0] if found else None)

    def _read_only_uri(self) -> str:
        base = self.path.resolve().as_uri()
        try:
            with closing(sqlite3.connect(f"{base}?mode=ro", uri=True)) as db:
                db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return f"{base}?mode=ro"
        except sqlite3.OperationalError as exc:
            log = self.path.with_name(self.path.name + "-wal")
            if log.exists() and log.stat().st_size > 0:
                raise ValueError(f"cannot read {self.path} in place ({exc}): its write-ahead log {log.name} holds "
                                 "results; copy the folder somewhere writable and export from there") from None
            return f"{base}?immutable=1"

    def _check_digest(self, found: str | None) -> None:
        if self.test.digest and found and found != self.test.digest:
            raise ValueError(f"{self.path} holds results of another test (digest {found[:12]}…, this test is "
                             f"{self.test.digest[:12]}…): use another --db")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self._uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        db.row_factory = sqlite3.Row
        return db

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        try:
            yield db
        finally:
            db.close()

    @staticmethod
    def _has_table(db: sqlite3.Connection, name: str) -> bool:
        found = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone()
        return found is not None

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

    def listening(self) -> pd.DataFrame:
        """One row per stimulus planned for a listener (`LISTENING_COLUMNS`): how often the server served it
        and when first, and for a submitted trial how often playback started on it and for how long (s, the
        page's clock). `phase` is `level` for the level-check sample.

        Raises:
            ValueError: a database written before serving records were kept.
        """
        with self._read() as db:
            if not self._has_table(db, "deliveries"):
                raise ValueError(f"{self.path} predates serving and listening records: it has no listening table")
            return pd.read_sql_query(
                "SELECT s.listener, s.trial, COALESCE(t.phase, s.role) AS phase, t.item, s.role, s.label, "
                "s.condition, (SELECT COUNT(*) FROM deliveries d WHERE d.stimulus = s.key) AS deliveries, "
                "(SELECT MIN(d.served) FROM deliveries d WHERE d.stimulus = s.key) AS first_served, "
                "p.session, p.starts AS plays, p.play_ms / 1000.0 AS play_s FROM stimuli s "
                "LEFT JOIN trials t ON t.listener = s.listener AND t.trial = s.trial "
                "LEFT JOIN plays p ON p.stimulus = s.key ORDER BY s.listener, s.trial, s.role, s.label", db)

    def progress(self) -> pd.DataFrame:
        """One row per listener: how they registered, sessions, level check, trials done per phase, last submission."""
        with self._read() as db:
            return pd.read_sql_query(
                "SELECT l.listener, l.name, CASE WHEN EXISTS (SELECT 1 FROM invites i WHERE i.listener = l.listener) "
                "THEN 'invite' ELSE 'open' END AS registration, l.created, l.seed, l.headphone_check, "
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


def export_ratings(db_path: str | Path, test: MushraTest, out: str | Path) -> pd.DataFrame:
    """Write `ratings.csv` (the export contract, mode 600, formulas neutralised) from a test's database
    opened read-only; returns the table."""
    table = ResultsDB(db_path, test).ratings()
    write_csv(table, out, private=True)
    return table

"""Read access to a test's results database: ratings, events, serving and listening records, progress.

`export` only reads, so it opens the database read-only (SQLite `mode=ro`) and writes nothing beside it.
On read-only media (a read-only mount, a folder or database the user may not write) SQLite cannot create
the write-ahead log's shared-memory index (`-shm`); a database without a pending write-ahead log is then
opened `immutable`, which needs neither. A database whose log still holds trials (its server was killed)
and whose `-shm` is gone cannot be read in place: the error says to copy the folder somewhere writable.

Trial numbers in every export count within their phase: test trial 1 is the first test trial, whatever
training came before it (the database numbers a listener's trials across both phases); the level check's
events are trial 0. The trials export times each trial on the server's clock too (`wall_s`: from the first
serving of any of its stimuli to its submission) and flags trials that were too fast or cannot be true
(`timing`, see `trial_timing`); the listeners export counts them per listener for `analyze`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pandas as pd

from codecbench.listening_test.events import CLOCK_TOLERANCE_MS, PAGE_LEAD_MS
from codecbench.listening_test.headphones import passed
from codecbench.listening_test.platforms import PLATFORM_IDS
from codecbench.listening_test.testdef import RATINGS_COLUMNS, MushraTest
from codecbench.safecsv import write_csv

BUSY_TIMEOUT_MS = 30000
LISTENING_COLUMNS = ["listener", "trial", "phase", "item", "role", "label", "condition", "deliveries",
                     "first_served", "session", "plays", "play_s"]
TRIAL_COLUMNS = ["listener", "trial", "phase", "item", "submitted", "session", "duration_s", "listening_s",
                 "reference_s", "least_heard_s", "heard_whole", "stimuli", "excerpt_s", "required_s",
                 "first_served", "wall_s", "least_wall_s", "timing"]
LISTENER_COLUMNS = ["listener", "name", "registration", "created", "sessions", "user_agent", "expertise",
                    "headphones", "consent", "headphone_check", "huggins_correct", "huggins_rounds", "huggins_passed",
                    *PLATFORM_IDS, "training_done", "test_done", "test_total", "last_submission", "time_s",
                    "listening_s", "timed_trials", "too_fast_trials", "impossible_trials", "answered", "comment"]
NUMBERED = ("WITH numbered AS (SELECT listener, trial, phase, ROW_NUMBER() OVER (PARTITION BY listener, phase "
            "ORDER BY trial) AS number FROM trials) ")  # a trial's number within its phase
TOO_FAST, IMPOSSIBLE = "too fast", "impossible"


def trial_timing(table: pd.DataFrame) -> pd.Series:
    """Per submitted trial of a trials export: `impossible` when its play log claims more listening than the
    wall-clock time since its audio was first served (or spans more than that plus the page's lead), `too
    fast` when it was sent sooner than its stimuli can be heard one after the other as the listening rule
    asks, or one of them was heard for less than the rule asks; `ok` otherwise; '' when not submitted or
    not timed (no serving record)."""
    tolerance_s, lead_s = CLOCK_TOLERANCE_MS / 1000, PAGE_LEAD_MS / 1000
    impossible = (table["listening_s"] > table["wall_s"] + tolerance_s) | \
                 (table["duration_s"] > table["wall_s"] + lead_s)
    too_fast = (table["wall_s"] + tolerance_s < table["least_wall_s"]) | \
               (table["least_heard_s"] < table["required_s"] - 1e-9)
    flags = pd.Series("ok", index=table.index).mask(too_fast, TOO_FAST).mask(impossible, IMPOSSIBLE)
    return flags.where(table["submitted"].notna() & table["wall_s"].notna(), "")


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
            columns = ", ".join("n.number AS trial" if c == "trial" else f"r.{c}" for c in RATINGS_COLUMNS)
            table = pd.read_sql_query(NUMBERED + f"SELECT {columns} FROM ratings r JOIN numbered n "
                                      "USING (listener, trial) ORDER BY r.listener, r.trial, r.condition", db)
        return table.astype({"rating": int, "session": int, "trial": int})

    def events(self) -> pd.DataFrame:
        """The event log with each opaque key resolved to its condition and role."""
        with self._read() as db:
            return pd.read_sql_query(
                NUMBERED + "SELECT e.listener, e.session, COALESCE(n.number, e.trial) AS trial, "
                "COALESCE(t.phase, 'level') AS phase, t.item, e.t_ms, e.kind, s.condition, s.role, s.label, "
                "e.value, e.detail, e.received FROM events e LEFT JOIN stimuli s ON s.key = e.stimulus "
                "LEFT JOIN trials t ON t.listener = e.listener AND t.trial = e.trial "
                "LEFT JOIN numbered n ON n.listener = e.listener AND n.trial = e.trial ORDER BY e.id", db)

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
                NUMBERED + "SELECT s.listener, COALESCE(n.number, s.trial) AS trial, COALESCE(t.phase, s.role) AS phase, t.item, s.role, s.label, "
                "s.condition, (SELECT COUNT(*) FROM deliveries d WHERE d.stimulus = s.key) AS deliveries, "
                "(SELECT MIN(d.served) FROM deliveries d WHERE d.stimulus = s.key) AS first_served, "
                "p.session, p.starts AS plays, p.play_ms / 1000.0 AS play_s FROM stimuli s "
                "LEFT JOIN trials t ON t.listener = s.listener AND t.trial = s.trial "
                "LEFT JOIN numbered n ON n.listener = s.listener AND n.trial = s.trial "
                "LEFT JOIN plays p ON p.stimulus = s.key ORDER BY s.listener, s.trial, s.role, s.label", db)

    def trials(self) -> pd.DataFrame:
        """One row per planned trial (`TRIAL_COLUMNS`): when and in which session it was submitted, how long
        the listener spent on it (page clock, first event to Next) and listened in it: in total, to the open
        reference, to the stimulus heard least; how many of its stimuli were heard at least their whole
        length (`heard_whole` of `stimuli`), and the listening rule's minimum (`required_s`); on the server's
        clock, when its audio was first served, how long after that it was submitted (`wall_s`) and the
        least time hearing its stimuli one after the other takes (`least_wall_s`); `timing` (`trial_timing`)."""
        with self._read() as db:
            trials = pd.read_sql_query(
                "SELECT t.listener, t.trial, t.phase, t.item, s.submitted, s.session FROM trials t "
                "LEFT JOIN submissions s USING (listener, trial) ORDER BY t.listener, t.trial", db)
            plays = pd.read_sql_query(
                "SELECT s.listener, s.trial, s.role, p.play_ms FROM stimuli s JOIN plays p ON p.stimulus = s.key "
                "WHERE s.role != 'level'", db)
            spans = pd.read_sql_query(
                "SELECT listener, trial, MIN(t_ms) AS first_ms, MAX(CASE WHEN kind = 'next' THEN t_ms END) AS next_ms "
                "FROM events WHERE trial > 0 GROUP BY listener, trial", db)
            served = pd.read_sql_query(
                NUMBERED + "SELECT s.listener, s.trial, n.number, COUNT(*) AS planned, (SELECT MIN(d.served) FROM "
                "deliveries d JOIN stimuli k ON k.key = d.stimulus WHERE k.listener = s.listener AND "
                "k.trial = s.trial) AS first_served FROM stimuli s JOIN numbered n USING (listener, trial) "
                "WHERE s.role != 'level' GROUP BY s.listener, s.trial", db)
        trials["excerpt_s"] = [self.test.duration_s(item) for item in trials["item"]]
        trials["required_s"] = [self.test.rule.required_ms(d) / 1000 for d in trials["excerpt_s"]]
        grouped = plays.assign(play_s=plays["play_ms"] / 1000).groupby(["listener", "trial"])
        heard = pd.DataFrame({
            "listening_s": grouped["play_s"].sum(),
            "reference_s": plays[plays["role"] == "open-reference"].groupby(["listener", "trial"])["play_ms"].sum() / 1000,
            "least_heard_s": grouped["play_s"].min(), "stimuli": grouped["play_s"].size()}).reset_index()
        table = trials.merge(heard, on=["listener", "trial"], how="left").merge(spans, on=["listener", "trial"],
                                                                                 how="left")
        whole = plays.merge(trials[["listener", "trial", "excerpt_s"]], on=["listener", "trial"])
        whole = (whole["play_ms"] / 1000 >= whole["excerpt_s"]).groupby([whole["listener"], whole["trial"]]).sum()
        table = table.merge(whole.rename("heard_whole").reset_index(), on=["listener", "trial"], how="left")
        table["duration_s"] = (table["next_ms"] - table["first_ms"]) / 1000
        table = table.merge(served, on=["listener", "trial"], how="left")
        table["wall_s"] = (pd.to_datetime(table["submitted"], format="ISO8601")
                           - pd.to_datetime(table["first_served"], format="ISO8601")).dt.total_seconds()
        table["least_wall_s"] = table["planned"] * table["required_s"]
        table["timing"] = trial_timing(table)
        table["trial"] = table["number"].astype(int)
        return table[TRIAL_COLUMNS]

    def listeners(self) -> pd.DataFrame:
        """One row per listener (`LISTENER_COLUMNS`, then `q_<id>` per questionnaire answer): who they said they
        are, the ids their platform's link carried, their checks (the headphone screen passed with at least
        `headphones.MIN_CORRECT` correct), their progress, how long they took (registration to last trial)
        and listened, and their end-page answers."""
        progress = self.progress()
        with self._read() as db:
            info = pd.read_sql_query("SELECT listener, key, value FROM listener_info", db) \
                if self._has_table(db, "listener_info") else pd.DataFrame(columns=["listener", "key", "value"])
            agents = pd.read_sql_query("SELECT listener, user_agent FROM sessions WHERE session = 1", db)
        wide = info.pivot(index="listener", columns="key", values="value") if len(info) else pd.DataFrame()
        table = progress.merge(agents, on="listener", how="left").merge(wide, left_on="listener", right_index=True,
                                                                         how="left")
        trials = self.trials()
        timed = trials[(trials["phase"] == "test") & (trials["timing"] != "")]
        counts = pd.DataFrame({"listening_s": trials.groupby("listener")["listening_s"].sum(),
                               "timed_trials": timed.groupby("listener").size(),
                               "too_fast_trials": (timed["timing"] == TOO_FAST).groupby(timed["listener"]).sum(),
                               "impossible_trials": (timed["timing"] == IMPOSSIBLE).groupby(timed["listener"]).sum()})
        table = table.merge(counts.reset_index(names="listener"), on="listener", how="left")
        for column in ("timed_trials", "too_fast_trials", "impossible_trials"):
            table[column] = table[column].fillna(0).astype(int)
        table["time_s"] = (pd.to_datetime(table["last_submission"]) - pd.to_datetime(table["created"])).dt.total_seconds()
        for column in LISTENER_COLUMNS:
            if column not in table:
                table[column] = None
        correct = pd.to_numeric(table["huggins_correct"], errors="coerce")
        table["huggins_passed"] = [None if pd.isna(c) else passed(int(c)) for c in correct]
        questions = sorted(c for c in table.columns if c.startswith("q_"))
        return table[LISTENER_COLUMNS + questions]

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

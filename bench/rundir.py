"""A run folder and its one writer: `RunDir` owns the journal, the tables, `manifest.csv`, `run.json` and
`summary.csv`; `RunInfo` is what `run.json` holds and merges on every resume.

Layout of `OUT/`: `rows.journal` (the source of truth, see `codecbench.journal`), `utterances.parquet` and
`utterances.csv` (rewritten from the journal), `summary.csv`, `manifest.csv` (every input with its SHA-256)
and `run.json`. A resume is checked before anything is written: the same metrics, seed and data, every
input unchanged, and a selection (utterances and specs) equal to the run's or a superset of it.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import pandas as pd

from codecbench import kept_audio
from codecbench.journal import Journal, Tail
from codecbench.provenance import MANIFEST_COLUMNS
from codecbench.rows import KEY, N_SEEDS, SEED_STD_SUFFIX, Row, column_order, record_key
from codecbench.safecsv import read_csv, write_csv

JOURNAL = "rows.journal"
LEGACY_JOURNAL = "rows.jsonl"  # runs of codecbench before the framed journal
PARQUET = "utterances.parquet"
CSV = "utterances.csv"
SUMMARY = "summary.csv"
MANIFEST = "manifest.csv"
RUN_JSON = "run.json"
FORMAT = "codecbench-run/2"
IDENTITY = ("metrics", "working_rate", "max_delay_s", "align", "seed", "dataset", "dataset_root", "split", "channels", "inputs")


class RunFolderError(ValueError):
    """A run folder that cannot be used as asked; the message says what to do."""


@dataclass
class RunInfo:
    """The provenance of a run (`run.json`), kept across resumes.

    Args:
        command: the first invocation's command line.
        config: what defines the run (the `IDENTITY` keys, fixed at creation) and `specs`, the union of every
            invocation's codec specs in order.
        dataset: name, root, split, utterances and `manifest_sha256` of the whole manifest.
        metrics: metric name -> metadata (columns, direction, range, rate, class, distribution, version), so
            a report needs no installed plugin to read the run.
        codecs: spec -> description and provenance, from the invocation that first loaded it.
        skipped: spec -> why it never ran (unavailable).
        unavailable_metrics: metric -> why its columns are NaN.
        statistics: how `summary.csv` computes its intervals.
        versions, environment: of the first invocation (each invocation records its own too).
        invocations: every call: command, times, engine, workers, device, todo, versions, codec provenance.
    """

    command: str
    config: dict[str, Any]
    dataset: dict[str, Any]
    metrics: dict[str, dict[str, Any]]
    codecs: dict[str, dict[str, Any]]
    skipped: dict[str, str]
    unavailable_metrics: dict[str, str]
    statistics: dict[str, Any]
    versions: dict[str, str]
    environment: dict[str, Any]
    invocations: list[dict[str, Any]] = field(default_factory=list)
    format: str = FORMAT

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunInfo":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def check_resumable_by(self, new: "RunInfo", out: Path) -> None:
        """Raise RunFolderError unless `new` (this invocation) may add rows to this run."""
        if self.format != new.format:
            raise RunFolderError(f"{out} was written by another codecbench run format ({self.format}): use a new --out")
        for key in IDENTITY:
            if self.config.get(key) != new.config.get(key):
                raise RunFolderError(f"--resume with a different {key} ({new.config.get(key)!r}) than the run in "
                                     f"{out} ({self.config.get(key)!r}): use a new --out")
        for name, meta in self.metrics.items():
            if meta["columns"] != new.metrics[name]["columns"]:
                raise RunFolderError(f"metric {name} now writes columns {new.metrics[name]['columns']}, the run in "
                                     f"{out} has {meta['columns']}: use a new --out")
        missing = [s for s in self.config["specs"] if s not in new.config["specs"]]
        if missing:
            raise RunFolderError(f"--resume leaves out codec specs of the run in {out}: {missing}; resume with "
                                 f"all of {self.config['specs']} (more extend the run)")

    def merged(self, new: "RunInfo", specs_with_rows: set[str]) -> "RunInfo":
        """This run extended by invocation `new`: every spec, codec description and invocation kept.
        `skipped` lists the specs unavailable now that have no row yet."""
        specs = list(dict.fromkeys([*self.config["specs"], *new.config["specs"]]))
        skipped = {s: r for s, r in {**self.skipped, **new.skipped}.items()
                   if s not in specs_with_rows and s not in new.codecs}
        return RunInfo(self.command, {**self.config, "specs": specs}, new.dataset, self.metrics,
                       {**new.codecs, **self.codecs}, skipped, {**self.unavailable_metrics, **new.unavailable_metrics},
                       self.statistics, self.versions, self.environment, [*self.invocations, *new.invocations],
                       self.format)

    def weights_changes(self, new: "RunInfo", specs: Iterable[str]) -> list[str]:
        """Specs among `specs` whose weights checksums differ between this run and `new`."""
        return [s for s in specs if s in self.codecs and s in new.codecs
                and _checksums(self.codecs[s]) != _checksums(new.codecs[s])]


def _checksums(value: Any) -> list[Any]:
    """Every value stored under a `sha256` key, depth first (a codec's weights identity)."""
    found: list[Any] = []
    if isinstance(value, dict):
        for key, item in sorted(value.items()):
            found += [item] if key == "sha256" else _checksums(item)
    return found


def check_manifest(previous: pd.DataFrame, current: pd.DataFrame, out: Path) -> pd.DataFrame:
    """The manifest of a resumed run: `previous`, extended by the new utterances of `current`.

    Raises:
        RunFolderError: an input changed (its SHA-256 differs), or `current` leaves out utterances of the run.
    """
    old = previous.set_index("utterance")
    both = current[current["utterance"].isin(old.index)]
    changed = both[both["sha256"].to_numpy() != old.loc[both["utterance"], "sha256"].to_numpy()]
    if len(changed):
        first = changed.iloc[0]
        raise RunFolderError(f"input {first['utterance']} ({first['path']}) changed since the run in {out}: sha256 "
                             f"{first['sha256'][:16]}... is not {old.loc[first['utterance'], 'sha256'][:16]}... of "
                             f"its manifest ({len(changed)} changed inputs): use a new --out")
    missing = sorted(set(old.index) - set(current["utterance"]))
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise RunFolderError(f"--resume selects {len(current)} utterances but the run in {out} has {len(old)}; "
                             f"not selected: {shown}. Resume with the run's selection (or a superset to extend it)")
    added = current[~current["utterance"].isin(old.index)]
    return pd.concat([previous, added], ignore_index=True)[MANIFEST_COLUMNS]


def _extra_column_order(table: pd.DataFrame, fixed: list[str]) -> list[str]:
    """The codec-measured columns in order of their first value in the key-sorted table (not in the order rows
    arrived, which depends on the engine's scheduling), then `n_seeds` and the `_seed_std` columns."""
    position = {column: i for i, column in enumerate(table.columns)}

    def rank(column: str) -> tuple[bool, int, int]:
        first = table[column].first_valid_index()
        seeds = column == N_SEEDS or column.endswith(SEED_STD_SUFFIX)
        return seeds, len(table) if first is None else int(first), position[column]

    return sorted((c for c in table.columns if c not in fixed), key=rank)


class RunDir:
    """The one writer of a run folder.

    Args:
        path: the folder (`--out`).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.journal = Journal(self.path / JOURNAL)

    def holds_run(self) -> bool:
        return any((self.path / name).exists() for name in (JOURNAL, LEGACY_JOURNAL, RUN_JSON))

    def read_info(self) -> RunInfo | None:
        path = self.path / RUN_JSON
        return RunInfo.from_dict(json.loads(path.read_text())) if path.exists() else None

    def read_manifest(self) -> pd.DataFrame | None:
        path = self.path / MANIFEST
        return read_csv(path, dtype=str, keep_default_na=False) if path.exists() else None

    def read_rows(self, *needed: str) -> pd.DataFrame:
        """The table of a finished run (`utterances.parquet`, as `write_tables` wrote it).

        Args:
            needed: further files the caller reads (e.g. `MANIFEST`); `run.json` is always needed.

        Raises:
            FileNotFoundError: the folder holds no finished run (the message names the missing file).
        """
        for name in (PARQUET, RUN_JSON, *needed):
            if not (self.path / name).is_file():
                raise FileNotFoundError(f"{self.path} is not a finished codecbench run: {name} is missing "
                                        "(make one with `codecbench run --out DIR`)")
        return pd.read_parquet(self.path / PARQUET)

    def resumed_manifest(self, previous: RunInfo, request: RunInfo, files: pd.DataFrame,
                         check: Callable[[pd.DataFrame, pd.DataFrame, Path], pd.DataFrame]) -> pd.DataFrame:
        """The manifest of a resume: `request` must continue `previous` and `check` the stored manifest against
        `files` (the inputs as they are now); marks the request's invocation as resumed."""
        request.invocations[-1]["resumed"] = True
        previous.check_resumable_by(request, self.path)
        stored = self.read_manifest()
        if stored is None:
            raise RunFolderError(f"{self.path} holds no manifest.csv: its inputs cannot be checked, use a new --out")
        return check(stored, files, self.path)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder for writing (one writer at a time; released when the process ends, however)."""
        self.path.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_RDONLY)
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RunFolderError(f"another codecbench process is writing {self.path}") from None
            yield
        finally:
            self.journal.close()
            os.close(descriptor)

    def check_reusable(self, resume: bool, overwrite: bool) -> None:
        """Raise RunFolderError if the folder holds a run that neither `resume` nor `overwrite` accounts for."""
        if (self.path / LEGACY_JOURNAL).exists() and not overwrite:
            raise RunFolderError(f"{self.path} holds a run of an older codecbench (rows.jsonl) that cannot be resumed: "
                                 "use a new --out (or --overwrite)")
        if self.holds_run() and not (resume or overwrite):
            raise RunFolderError(f"{self.path} already holds a run: pass --resume to finish it or --overwrite to redo it")

    def clear(self) -> None:
        """Remove a previous run's files (for --overwrite)."""
        for name in (JOURNAL, LEGACY_JOURNAL, PARQUET, CSV, SUMMARY, MANIFEST, RUN_JSON):
            (self.path / name).unlink(missing_ok=True)
        kept_audio.clear(self.path)

    def repair(self) -> Tail | None:
        """Cut a torn journal tail before appending (see `Journal.repair`) and remove the half-written audio files
        of a killed `--keep-audio` run."""
        kept_audio.remove_temporaries(self.path)
        return self.journal.repair()

    def completed(self, conditions: Iterable[str] = (), audio: bool = False) -> set[tuple[str, ...]]:
        """The keys of the stored rows; with `audio`, without the rows whose kept audio file is missing or altered
        (`kept_audio.problem`: they are to be coded again)."""
        conditions = list(conditions)
        latest = {record_key(r, conditions): r for r in self.journal.records()}
        if not audio:
            return set(latest)
        return {key for key, record in latest.items()
                if not kept_audio.kept_sha256(record) or not kept_audio.problem(self.path, record, key)}

    def append(self, row: Row) -> None:
        """Store one row durably (fsynced before returning)."""
        self.journal.append(row.record())

    def table(self, metric_columns: list[str], conditions: list[str] | None = None) -> pd.DataFrame:
        """The stored rows in contract column order, one per key, sorted by key."""
        conditions = conditions or []
        columns = column_order(metric_columns, conditions)
        table = pd.DataFrame(self.journal.records())
        if table.empty:
            return pd.DataFrame(columns=columns)
        key = [*KEY, *conditions]
        table = table.drop_duplicates(subset=key, keep="last").sort_values(key, kind="stable").reset_index(drop=True)
        table = table.reindex(columns=columns + _extra_column_order(table, columns))
        table["error"] = table["error"].fillna("")
        return table

    def write_tables(self, metric_columns: list[str], conditions: list[str] | None = None) -> pd.DataFrame:
        """Rewrite `utterances.parquet` and `utterances.csv` from the journal; returns the table."""
        table = self.table(metric_columns, conditions)
        self._replace(PARQUET, lambda path: table.to_parquet(path, index=False))
        self._replace(CSV, lambda path: write_csv(table, path))
        return table

    def write_summary(self, summary: pd.DataFrame) -> None:
        self._replace(SUMMARY, lambda path: write_csv(summary, path))

    def write_manifest(self, manifest: pd.DataFrame) -> None:
        self._replace(MANIFEST, lambda path: write_csv(manifest[MANIFEST_COLUMNS], path))

    def write_info(self, info: RunInfo) -> None:
        self._replace(RUN_JSON, lambda path: path.write_text(json.dumps(asdict(info), indent=2, default=str)))

    def _replace(self, name: str, write: Any) -> None:
        """Write `name` through a temporary file and an atomic rename (a failed write leaves the old file).

        Raises:
            OSError: the write failed (e.g. a full disk), naming the file.
        """
        temporary = self.path / (name + ".tmp")
        try:
            write(temporary)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            if exc.errno is None or exc.filename is not None:
                raise
            raise OSError(exc.errno, exc.strerror, str(self.path / name)) from exc
        temporary.replace(self.path / name)

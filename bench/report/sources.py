"""Read the stored results a report is made from: run directories, latency.csv and MUSHRA results.

Nothing here runs a codec or a metric. A run is read through `RunDir` (its `RunInfo`, tables and manifest); the
rows get the SHA-256 of their input file from `manifest.csv` (column `input_sha256`), so rows of different runs
join on (utterance, input SHA-256). A run's numeric columns are reported only when a metric of the run produces
them; their metadata (`higher_is_better`, range) comes from `run.json`, which records it, so a run whose metric
plugins are not installed here still reports (runs older than that record fall back to the metric registry).
A metric's score of the reference input itself (`ref_*` columns, the same for every spec) is reported apart
and never ranked or tested. Every other column is listed, with the reason, in `RunData.ignored`. Per-seed
spread of stochastic decoders is read from columns named `<metric column>_seed_std` (the per-utterance standard
deviation of that metric over the decoder seeds).

A run with `channel` or `input` columns (`codecbench run --channel/--input`) compares every spec under every
condition: its rows' `spec` becomes the system's label (`codecbench.rows.system_label`: `opus@6`, `opus@6 ·
loss@10%`), the spec itself moves to `codec_spec`, and the condition columns stay beside it. A run with input
conditions also scores every metric against the clean talker (`<metric>_e2e`, `codecbench.rows.E2E_SUFFIX`):
those columns are reported like the metric's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from codecbench.metrics import get_metric_class, metric_names
from codecbench.listening_test.testdef import RATINGS_COLUMNS
from codecbench.metrics.base import REFERENCE_PREFIX
from codecbench.provenance import table_digest
from codecbench.resources import file_digest
from codecbench.rows import (CLEAN, CONDITIONS, E2E_SUFFIX, ERROR, LEADING_COLUMNS, SEED_STD_SUFFIX, TRAILING_COLUMNS,
                             run_systems, system_labels)
from codecbench.rundir import CSV, MANIFEST, PARQUET, RUN_JSON, SUMMARY, RunDir, RunInfo
from codecbench.safecsv import read_csv
from codecbench.summary import metric_order

INPUT_SHA256 = "input_sha256"  # added from manifest.csv: with `utterance`, the key rows of runs join on
JOIN_KEY = ["utterance", INPUT_SHA256]
CODEC_SPEC = "codec_spec"  # in a condition run: the spec of a system (its `spec` is the system's label)
BOOKKEEPING = frozenset([*LEADING_COLUMNS, *TRAILING_COLUMNS, ERROR, INPUT_SHA256, CODEC_SPEC, *CONDITIONS])
REFERENCE_CODEC = "reference"  # the identity condition: listed, never ranked


@dataclass(frozen=True)
class MetricColumn:
    """A reportable column and what the metric registry says about it.

    Args:
        reference_only: a score of the reference input itself (`ref_*`): the same for every spec, never ranked.
    """

    column: str
    metric: str
    higher_is_better: bool
    value_range: tuple[float, float]
    reference_only: bool = False

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"

    @property
    def decimals(self) -> int:
        low, high = self.value_range
        return 3 if np.isfinite(high - low) and high - low <= 2 else 2


@dataclass
class SourceRun:
    """One run directory a report reads: its `RunInfo`, manifest and file checksums."""

    root: Path
    info: RunInfo
    manifest: pd.DataFrame | None
    checksums: dict[str, str]
    manifest_verified: bool | None

    @property
    def finished(self) -> datetime:
        """When its last invocation finished (started, if it never finished)."""
        last = self.info.invocations[-1] if self.info.invocations else {}
        return datetime.fromisoformat(last.get("finished") or last.get("started") or "1970-01-01T00:00:00+00:00")

    def provenance(self, specs: list[str]) -> dict[str, Any]:
        """What the report's JSON records of this run (`specs`: the specs the report took from it)."""
        return {"run": str(self.root), "specs": specs, "command": self.info.command,
                "run_json_sha256": self.checksums.get(RUN_JSON), "files_sha256": self.checksums,
                "manifest_sha256": self.info.dataset.get("manifest_sha256"), "manifest_verified": self.manifest_verified,
                "dataset": self.info.dataset, "config": self.info.config, "metrics": self.info.metrics,
                "versions": self.info.versions, "environment": self.info.environment,
                "invocations": [{k: i.get(k) for k in ("command", "started", "finished", "engine", "device")}
                                for i in self.info.invocations]}


@dataclass
class RunData:
    """The rows a report is made from: one run directory or several merged (`codecbench.report.merge.load_runs`).

    Args:
        rows: the stored rows of every reported spec, with `input_sha256`.
        specs: reported specs in order (per run, in the run's order).
        metrics: the ranked metric columns, in `metric_order`.
        reference_columns: the reference input's own scores (`ref_*`), reported apart.
        sources: the run directories, in the order given.
        spec_sources: spec -> index into `sources` of the run it was taken from.
    """

    rows: pd.DataFrame
    specs: list[str]
    skipped: dict[str, str]
    metrics: list[MetricColumn]
    reference_columns: list[MetricColumn]
    seed_columns: dict[str, str]
    ignored: dict[str, str]
    sources: list[SourceRun]
    spec_sources: dict[str, int] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        """The run directory of a single-run report."""
        assert len(self.sources) == 1, "a merged report has several run directories"
        return self.sources[0].root

    def metric(self, column: str) -> MetricColumn:
        return next(m for m in [*self.metrics, *self.reference_columns] if m.column == column)

    def limited_to(self, wanted: list[str]) -> "RunData":
        """This run with only the metric columns named in `wanted` (column names, or metric names for all of a
        metric's columns).

        Raises:
            ValueError: a name that is neither a reported column nor a metric of the run.
        """
        every = [*self.metrics, *self.reference_columns]
        unknown = [w for w in wanted if not any(w in (m.column, m.metric) for m in every)]
        if unknown:
            raise ValueError(f"--metrics {', '.join(unknown)}: not a metric of the report; its metric columns are "
                             f"{', '.join(m.column for m in every)}")
        keep = [m for m in every if m.column in wanted or m.metric in wanted]
        columns = {m.column for m in keep}
        return replace(self, metrics=[m for m in self.metrics if m.column in columns],
                       reference_columns=[m for m in self.reference_columns if m.column in columns],
                       seed_columns={m: c for m, c in self.seed_columns.items() if m in columns})


def registered_columns(preferred: list[str]) -> tuple[dict[str, MetricColumn], dict[str, str]]:
    """Every column a registered metric produces (metrics in `preferred` first), and the metrics
    that failed to load with their error."""
    known: dict[str, MetricColumn] = {}
    broken: dict[str, str] = {}
    names = list(dict.fromkeys([*preferred, *metric_names()]))
    for name in names:
        try:
            cls = get_metric_class(name)
        except Exception as exc:  # an unknown or broken plugin: its columns stay unreported
            broken[name] = str(exc)
            continue
        for column in cls.output_columns():
            known.setdefault(column, MetricColumn(column, name, bool(cls.higher_is_better),
                                                  tuple(float(v) for v in cls.value_range),
                                                  _reference_only(column, cls.scores_reference)))
    return known, broken


def _reference_only(column: str, scores_reference: bool) -> bool:
    return bool(scores_reference) and column.startswith(REFERENCE_PREFIX)


def recorded_columns(metrics: dict[str, dict[str, Any]]) -> dict[str, MetricColumn]:
    """The columns of the metrics a run recorded in `run.json` (`RunInfo.metrics`), with their metadata."""
    return {column: MetricColumn(column, name, bool(meta["higher_is_better"]),
                                 tuple(float(v) for v in meta["value_range"]),
                                 _reference_only(column, meta.get("scores_reference", False)))
            for name, meta in metrics.items() for column in meta["columns"]}


def classify_columns(rows: pd.DataFrame, preferred: list[str], recorded: dict[str, MetricColumn]):
    """(metric columns in `metric_order`, seed-spread columns, ignored columns with the reason) of `rows`."""
    known, broken = (recorded, {}) if recorded else registered_columns(preferred)
    known = {**known, **{column + E2E_SUFFIX: replace(m, column=column + E2E_SUFFIX) for column, m in known.items()}}
    metrics, seed_columns, ignored = [], {}, {}
    for column in rows.columns:
        if column in BOOKKEEPING:
            continue
        if column in known and pd.api.types.is_numeric_dtype(rows[column]):
            metrics.append(known[column])
        elif column.endswith(SEED_STD_SUFFIX) and column[: -len(SEED_STD_SUFFIX)] in known:
            seed_columns[column[: -len(SEED_STD_SUFFIX)]] = column
        elif not pd.api.types.is_numeric_dtype(rows[column]):
            ignored[column] = "not numeric"
        else:
            ignored[column] = "numeric, but no metric of this run produces it"
    for name, reason in broken.items():
        if name in preferred:
            ignored[f"({name})"] = f"metric of this run failed to load: {reason}"
    seed_columns = {m: c for m, c in seed_columns.items() if any(x.column == m for x in metrics)}
    order = metric_order([m.column for m in metrics])
    metrics.sort(key=lambda m: order.index(m.column))
    return metrics, seed_columns, ignored


def read_source(run_dir: str | Path) -> tuple[SourceRun, pd.DataFrame]:
    """One run directory through `RunDir`: the run and its rows (with `input_sha256` from its manifest).

    Raises:
        FileNotFoundError: the directory holds no finished run.
        ValueError: the run has no rows, or its run.json is not a codecbench run record.
    """
    root = Path(run_dir)
    folder = RunDir(root)
    rows = folder.read_rows()
    if rows.empty:
        raise ValueError(f"{root / PARQUET} holds no rows: nothing to report")
    rows["error"] = rows["error"].fillna("").astype(str)
    if any(c in rows for c in CONDITIONS):  # a condition run: every spec x conditions is a compared system
        rows = rows.assign(**{CODEC_SPEC: rows["spec"], "spec": system_labels(rows)})
    try:
        info = folder.read_info()
    except TypeError as exc:
        raise ValueError(f"{root / RUN_JSON} is not a run record of this codecbench ({exc}); re-run it with "
                         "`codecbench run`") from exc
    manifest = folder.read_manifest()
    checksums = {name: file_digest(root / name) for name in (PARQUET, CSV, RUN_JSON, MANIFEST, SUMMARY)
                 if (root / name).is_file()}
    verified = None
    if manifest is not None and "manifest_sha256" in info.dataset:
        verified = table_digest(manifest) == info.dataset["manifest_sha256"]
    digests = dict(zip(manifest["utterance"], manifest["sha256"])) if manifest is not None else {}
    rows[INPUT_SHA256] = rows["utterance"].map(digests).fillna("")
    return SourceRun(root, info, manifest, checksums, verified), rows


def run_specs(info: RunInfo, rows: pd.DataFrame) -> list[str]:
    """The specs (systems, in a condition run) with rows, in the run's order: specs it names first, each spec's
    systems in the order of its `--channel`, then `--input` conditions."""
    present = list(dict.fromkeys(rows["spec"]))
    named = list(run_systems(info.config.get("specs", []), {c: info.config.get(f"{c}s") or [] for c in CONDITIONS
                                                            if c in rows}))
    return [s for s in named if s in present] + [s for s in present if s not in named]


def fill_conditions(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows of several runs, some without condition columns: theirs are `clean` and their system is their spec."""
    present = [c for c in CONDITIONS if c in rows]
    if not present:
        return rows
    return rows.assign(**{c: rows[c].fillna(CLEAN) for c in present},
                       **{CODEC_SPEC: rows[CODEC_SPEC].fillna(rows["spec"])})


def run_data(sources: list[SourceRun], rows: pd.DataFrame, specs: list[str], spec_sources: dict[str, int]) -> RunData:
    """The report's view of `rows` taken from `sources` (metric metadata from the runs' records)."""
    recorded: dict[str, MetricColumn] = {}
    preferred: list[str] = []
    skipped: dict[str, str] = {}
    for source in sources:
        recorded.update(recorded_columns(source.info.metrics))
        preferred += source.info.config.get("metrics", [])
        skipped.update(source.info.skipped)
    metrics, seed_columns, ignored = classify_columns(rows, list(dict.fromkeys(preferred)), recorded)
    return RunData(rows, specs, {s: r for s, r in skipped.items() if s not in specs},
                   [m for m in metrics if not m.reference_only], [m for m in metrics if m.reference_only],
                   seed_columns, ignored, sources, spec_sources)


@dataclass
class LatencyData:
    """`latency.csv` of `codecbench latency`: one row per codec x setting x stage.

    Required columns: `spec` (or `codec`) and `p50_ms`; `setting`, `stage` and `p95_ms` are used when
    present. The end-to-end time of a spec is its `stage == "total"` row, else the sum of its `encode`
    and `decode` rows, else its single row.
    """

    table: pd.DataFrame
    source: Path
    sha256: str

    def end_to_end(self, spec: str, setting: str | None = None) -> dict[str, Any] | None:
        """p50/p95 end-to-end milliseconds of `spec` in `setting` (default: its first setting)."""
        rows = self.table[self.table["spec"] == spec]
        if rows.empty:
            return None
        if "setting" in rows:
            chosen = setting if setting is not None else rows["setting"].iloc[0]
            rows = rows[rows["setting"] == chosen]
            if rows.empty:
                return None
        else:
            chosen = ""
        if "stage" in rows and len(rows) > 1:
            total = rows[rows["stage"].str.lower() == "total"]
            rows = total if not total.empty else rows[rows["stage"].str.lower().isin(["encode", "decode"])]
            if rows.empty:
                return None
        p95 = rows["p95_ms"].sum() if "p95_ms" in rows else float("nan")
        return {"spec": spec, "setting": chosen, "p50_ms": float(rows["p50_ms"].sum()), "p95_ms": float(p95),
                "stages": ",".join(rows["stage"]) if "stage" in rows else ""}


def load_latency(path: str | Path) -> LatencyData:
    """Read `latency.csv` from a file or the directory holding it."""
    path = Path(path)
    path = path / "latency.csv" if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"no latency results at {path} (write them with `codecbench latency --out DIR`)")
    table = read_csv(path)
    if "spec" not in table:
        if "codec" not in table:
            raise ValueError(f"{path} has neither a `spec` nor a `codec` column")
        table["spec"] = table["codec"]
    if "p50_ms" not in table:
        raise ValueError(f"{path} has no `p50_ms` column; columns: {', '.join(table.columns)}")
    for column in ("setting", "stage"):
        if column in table:
            table[column] = table[column].fillna("").astype(str)
    return LatencyData(table, path, file_digest(path))


@dataclass
class MushraData:
    """Per-condition MUSHRA scores: condition, n, mean, ci95_low, ci95_high."""

    summary: pd.DataFrame
    source: Path
    sha256: str
    screened: bool
    notes: list[str] = field(default_factory=list)


MUSHRA_SUMMARY = ["condition", "n", "mean", "ci95_low", "ci95_high"]


def _summary_from_ratings(ratings: pd.DataFrame) -> pd.DataFrame:
    """The test phase's per-condition summary by `mushra analyze`'s own rule (`listening_test.analysis.summarize`)."""
    from codecbench.listening_test.analysis import summarize

    test = ratings[ratings["phase"].astype(str) == "test"].assign(condition=lambda t: t["condition"].astype(str))
    return summarize(test, ["condition"], list(dict.fromkeys(test["condition"])))[MUSHRA_SUMMARY]


def load_mushra(path: str | Path) -> MushraData:
    """Read MUSHRA results: `codecbench mushra analyze`'s `summary.csv` (screened), or a `ratings.csv`
    export (test-phase ratings pooled per condition, t-based CI, without BS.1534-3 screening).

    `path` is either file or a directory holding one (summary.csv preferred).
    """
    path = Path(path)
    if path.is_dir():
        found = [path / n for n in ("summary.csv", "ratings.csv") if (path / n).is_file()]
        if not found:
            raise FileNotFoundError(f"{path} holds neither summary.csv nor ratings.csv of a MUSHRA test")
        path = found[0]
    if not path.is_file():
        raise FileNotFoundError(f"no MUSHRA results at {path}")
    table = read_csv(path)
    if set(MUSHRA_SUMMARY) <= set(table.columns):
        summary = table[MUSHRA_SUMMARY].copy()
        return MushraData(summary, path, file_digest(path), screened=True)
    if set(RATINGS_COLUMNS) <= set(table.columns):
        note = (f"{path.name}: test-phase ratings pooled per condition without BS.1534-3 post-screening; "
                "run `codecbench mushra analyze` for screened results")
        return MushraData(_summary_from_ratings(table), path, file_digest(path), screened=False, notes=[note])
    raise ValueError(f"{path} is neither a MUSHRA summary ({', '.join(MUSHRA_SUMMARY)}) nor a ratings export "
                     f"({', '.join(RATINGS_COLUMNS)})")

"""Read the stored results a report is made from: a run directory, latency.csv and MUSHRA results.

Nothing here runs a codec or a metric. A run's numeric columns are reported only when a metric of the run
produces them; their metadata (`higher_is_better`, range) comes from `run.json`, which records it, so a run
whose metric plugins are not installed here still reports (runs older than that record fall back to the
metric registry). Every other column is listed, with the reason, in `RunData.ignored`. Per-seed spread of stochastic decoders
is read from columns named `<metric column>_seed_std` (the per-utterance standard deviation of that
metric over the decoder seeds).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from codecbench.resources import file_digest
from codecbench.metrics import get_metric_class, metric_names
from codecbench.provenance import table_digest
from codecbench.rows import ERROR, LEADING_COLUMNS, SEED_STD_SUFFIX, TRAILING_COLUMNS
from codecbench.rundir import CSV, MANIFEST, PARQUET, RUN_JSON, SUMMARY
from codecbench.stats import mean_ci

BOOKKEEPING = frozenset([*LEADING_COLUMNS, *TRAILING_COLUMNS, ERROR])
REFERENCE_CODEC = "reference"  # the identity condition: listed, never ranked


@dataclass(frozen=True)
class MetricColumn:
    """A reportable column and what the metric registry says about it."""

    column: str
    metric: str
    higher_is_better: bool
    value_range: tuple[float, float]

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"

    @property
    def decimals(self) -> int:
        low, high = self.value_range
        return 3 if np.isfinite(high - low) and high - low <= 2 else 2


@dataclass
class RunData:
    """One run directory as stored by `codecbench run`."""

    root: Path
    rows: pd.DataFrame
    run_info: dict[str, Any]
    specs: list[str]
    skipped: dict[str, str]
    metrics: list[MetricColumn]
    seed_columns: dict[str, str]
    ignored: dict[str, str]
    checksums: dict[str, str]
    manifest_verified: bool | None

    def metric(self, column: str) -> MetricColumn:
        return next(m for m in self.metrics if m.column == column)


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
                                                  tuple(float(v) for v in cls.value_range)))
    return known, broken


def recorded_columns(metrics: dict[str, dict[str, Any]]) -> dict[str, MetricColumn]:
    """The columns of the metrics a run recorded in `run.json` (`RunInfo.metrics`), with their metadata."""
    return {column: MetricColumn(column, name, bool(meta["higher_is_better"]),
                                 tuple(float(v) for v in meta["value_range"]))
            for name, meta in metrics.items() for column in meta["columns"]}


def _classify_columns(rows: pd.DataFrame, preferred: list[str], recorded: dict[str, MetricColumn]):
    known, broken = (recorded, {}) if recorded else registered_columns(preferred)
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
    return metrics, seed_columns, ignored


def load_run(run_dir: str | Path) -> RunData:
    """Read `utterances.parquet`, `run.json` and `manifest.csv` of a run.

    Raises:
        FileNotFoundError: the directory holds no finished run.
        ValueError: the run has no rows.
    """
    root = Path(run_dir)
    parquet, run_json = root / PARQUET, root / RUN_JSON
    for path in (parquet, run_json):
        if not path.is_file():
            raise FileNotFoundError(f"{root} is not a finished codecbench run: {path.name} is missing "
                                    "(make one with `codecbench run --out DIR`)")
    rows = pd.read_parquet(parquet)
    if rows.empty:
        raise ValueError(f"{parquet} holds no rows: nothing to report")
    rows["error"] = rows["error"].fillna("").astype(str)
    run_info = json.loads(run_json.read_text())
    config = run_info.get("config", {})
    present = list(dict.fromkeys(rows["spec"]))
    specs = [s for s in config.get("specs", []) if s in present] + [
        s for s in present if s not in config.get("specs", [])]
    metrics, seed_columns, ignored = _classify_columns(rows, list(config.get("metrics", [])),
                                                       recorded_columns(run_info.get("metrics", {})))
    checksums = {name: file_digest(root / name) for name in (PARQUET, CSV, RUN_JSON, MANIFEST, SUMMARY)
                 if (root / name).is_file()}
    verified = None
    if (root / MANIFEST).is_file() and "manifest_sha256" in run_info.get("dataset", {}):
        manifest = pd.read_csv(root / MANIFEST, dtype=str)
        verified = table_digest(manifest) == run_info["dataset"]["manifest_sha256"]
    return RunData(root, rows, run_info, specs, dict(run_info.get("skipped", {})), metrics, seed_columns,
                   ignored, checksums, verified)


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
    table = pd.read_csv(path)
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
MUSHRA_RATINGS = ["listener", "session", "trial", "item", "condition", "rating", "phase", "timestamp"]


def _summary_from_ratings(ratings: pd.DataFrame) -> pd.DataFrame:
    test = ratings[ratings["phase"].astype(str) == "test"]
    records = []
    for condition, group in test.groupby("condition", sort=False):
        estimate = mean_ci(group["rating"].to_numpy(dtype=float))
        records.append({"condition": condition, "n": len(group), "mean": estimate.mean, "ci95_low": estimate.low,
                        "ci95_high": estimate.high})
    return pd.DataFrame(records, columns=MUSHRA_SUMMARY)


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
    table = pd.read_csv(path)
    if set(MUSHRA_SUMMARY) <= set(table.columns):
        summary = table[MUSHRA_SUMMARY].copy()
        return MushraData(summary, path, file_digest(path), screened=True)
    if set(MUSHRA_RATINGS) <= set(table.columns):
        note = (f"{path.name}: test-phase ratings pooled per condition without BS.1534-3 post-screening; "
                "run `codecbench mushra analyze` for screened results")
        return MushraData(_summary_from_ratings(table), path, file_digest(path), screened=False, notes=[note])
    raise ValueError(f"{path} is neither a MUSHRA summary ({', '.join(MUSHRA_SUMMARY)}) nor a ratings export "
                     f"({', '.join(MUSHRA_RATINGS)})")

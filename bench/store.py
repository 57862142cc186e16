"""Result store of a run: an append-only journal (one fsynced JSON line per row) and the tables made from it.

The journal is the source of truth: a crash or Ctrl-C loses at most the rows still in flight, and a
resumed run reads it to skip finished (utterance, spec) pairs. `utterances.parquet` / `utterances.csv`
are rewritten from it, deduplicated (the last row of a pair wins).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

JOURNAL = "rows.jsonl"
PARQUET = "utterances.parquet"
CSV = "utterances.csv"
KEY = ["utterance", "spec"]

LEADING_COLUMNS = [
    "utterance", "speaker", "split", "duration_s", "codec", "spec", "target_kbps", "measured_kbps",
    "delay_samples", "encode_s", "decode_s",
]  # then the metric columns, then "error", then TRAILING_COLUMNS
TRAILING_COLUMNS = ["payload_bytes", "metrics_s", "seed", "conversion"]


class ResultStore:
    """The rows of one run directory.

    Args:
        out: the run directory.
    """

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self.journal = self.out / JOURNAL

    def exists(self) -> bool:
        return self.journal.exists()

    def read_rows(self) -> list[dict[str, Any]]:
        """All journal rows; a torn last line (crash mid-write) is ignored."""
        if not self.journal.exists():
            return []
        rows = []
        for line in self.journal.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return rows

    def completed(self) -> set[tuple[str, str]]:
        """The (utterance, spec) pairs already stored."""
        return {(r["utterance"], r["spec"]) for r in self.read_rows()}

    def append(self, row: dict[str, Any]) -> None:
        """Write one row durably before returning."""
        self.out.mkdir(parents=True, exist_ok=True)
        try:
            with open(self.journal, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(row) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, str(self.journal)) from exc

    def frame(self, metric_columns: list[str]) -> pd.DataFrame:
        """The deduplicated rows in contract column order."""
        rows = self.read_rows()
        table = pd.DataFrame(rows)
        columns = LEADING_COLUMNS + metric_columns + ["error"] + TRAILING_COLUMNS
        if table.empty:
            return pd.DataFrame(columns=columns)
        table = table.drop_duplicates(subset=KEY, keep="last")
        extra = [c for c in table.columns if c not in columns]
        table = table.reindex(columns=columns + extra)
        table["error"] = table["error"].fillna("")
        return table.sort_values(KEY, kind="stable").reset_index(drop=True)

    def write_tables(self, metric_columns: list[str]) -> pd.DataFrame:
        """Rewrite `utterances.parquet` and `utterances.csv` atomically; returns the table."""
        table = self.frame(metric_columns)
        for name, writer in ((PARQUET, table.to_parquet), (CSV, table.to_csv)):
            tmp = self.out / (name + ".tmp")
            writer(tmp, index=False)
            tmp.replace(self.out / name)
        return table

    def clear(self) -> None:
        """Remove a previous run's rows and tables (for --overwrite)."""
        for name in (JOURNAL, PARQUET, CSV):
            (self.out / name).unlink(missing_ok=True)

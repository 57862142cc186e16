"""CSV files that are safe to open in a spreadsheet: text cells that would run as a formula are made inert.

A text cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is run as a formula by Excel,
LibreOffice and Google Sheets (CSV injection, OWASP). Such a cell gets a leading `'`, which spreadsheets
show as text and which keeps the rest of the value readable. Numbers are written as numbers (`-1.5` stays
`-1.5`): only text cells are touched.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(value: object) -> object:
    """`value` with a leading `'` if it is text a spreadsheet would run as a formula."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text cells (and column names) cannot run as formulas."""
    frame = frame.rename(columns=inert)
    for column in [c for c in frame.columns if frame[c].dtype == object or isinstance(frame[c].dtype, pd.StringDtype)]:
        frame[column] = frame[column].map(inert)
    return frame


def csv_text(frame: pd.DataFrame) -> str:
    """`frame` as CSV text (no index), formulas neutralised."""
    return neutralise(frame).to_csv(index=False)


def write_csv(frame: pd.DataFrame, path: str | Path, private: bool = False) -> Path:
    """Write `frame` as CSV (no index), formulas neutralised; `private` files get mode 600 from the start.

    The file is written beside its final name and renamed into place, so a reader never sees half a file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o666)
    if private:
        os.fchmod(descriptor, 0o600)  # a leftover partial file keeps its old mode through O_CREAT
    with os.fdopen(descriptor, "w", newline="") as handle:
        handle.write(csv_text(frame))
    os.replace(partial, path)
    return path

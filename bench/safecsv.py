r"""CSV files that are safe to open in a spreadsheet: text cells that would run as a formula are made inert.
Every CSV codecbench writes goes through `write_csv` (or `csv_text`); one it reads back goes through `read_csv`.

A text cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is run as a formula by Excel,
LibreOffice and Google Sheets (CSV injection, OWASP). Such a cell gets a leading `'`, which spreadsheets
show as text and which keeps the rest of the value readable. Numbers are written as numbers (`-1.5` stays
`-1.5`): only text cells are touched.

A line break inside a (quoted) cell ends the row for some readers, which then read the rest of the file out
of step with its quotes: the text after it, and the commas inside later quoted cells, start cells that no
guard covers. So no line break is written inside a cell: a cell holding one is written as `'\` followed by the
text with `\\`, `\r` and `\n` escapes (`a\rb` becomes `'\a\rb`). Text starting with `'` gets one more, so
`restore` undoes the guard exactly: a file written here reads back (`read_csv`) as the frame that was written.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_GUARDED = (*FORMULA_STARTS, "'")  # what gets a `'` at the start of a cell
ESCAPED = "'\\"  # the start of a cell whose line breaks are escaped
_ESCAPES = {"\\": "\\\\", "\r": "\\r", "\n": "\\n"}
_UNESCAPES = {"\\": "\\", "r": "\r", "n": "\n"}
_LINE_BREAK = re.compile(r"[\r\n]")


def inert(value: object) -> object:
    """`value` as a spreadsheet shows it without running it and every reader splits it (see the module)."""
    if not isinstance(value, str):
        return value
    if _LINE_BREAK.search(value):
        return ESCAPED + re.sub(r"[\\\r\n]", lambda m: _ESCAPES[m.group()], value)
    return "'" + value if value.startswith(_GUARDED) else value


def restore(value: object) -> object:
    """The value `inert` made `value` from."""
    if not isinstance(value, str) or not value.startswith("'"):
        return value
    if value.startswith(ESCAPED):
        return re.sub(r"\\([\\rn])", lambda m: _UNESCAPES[m.group(1)], value[len(ESCAPED):])
    return value[1:]


def _text_columns(frame: pd.DataFrame) -> list:
    return [c for c in frame.columns if frame[c].dtype == object or isinstance(frame[c].dtype, pd.StringDtype)]


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text cells (and column names) cannot run as formulas."""
    frame = frame.rename(columns=inert)
    for column in _text_columns(frame):
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


def read_csv(path: str | Path, **options) -> pd.DataFrame:
    """A CSV written by `write_csv`, with the guard undone (in any other CSV, a text cell's leading `'` is read
    as the guard); `options` go to `pandas.read_csv`."""
    frame = pd.read_csv(path, **options)
    frame = frame.rename(columns=restore)
    for column in _text_columns(frame):
        frame[column] = frame[column].map(restore)
    return frame

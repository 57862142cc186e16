"""CSV files safe to open in a spreadsheet."""

from __future__ import annotations

import stat

import pandas as pd

from codecbench.safecsv import csv_text, neutralise, write_csv


def test_formulas_become_text_and_numbers_stay_numbers(tmp_path):
    frame = pd.DataFrame({"=name": ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\t=x", "plain", None],
                          "value": [-1.5, 2.0, -3.0, 0.0, 1.0, 2.0, 3.0]})
    safe = neutralise(frame)
    assert safe.columns.tolist() == ["'=name", "value"]
    assert safe["'=name"].tolist()[:6] == ["'=1+1", "'+cmd", "'-2+3", "'@SUM(A1)", "'\t=x", "plain"]
    assert safe["value"].tolist() == frame["value"].tolist() and frame.columns[0] == "=name"  # the input is kept
    assert csv_text(frame).splitlines()[1] == "'=1+1,-1.5"
    private = write_csv(frame, tmp_path / "deep" / "private.csv", private=True)
    shared = write_csv(frame, tmp_path / "shared.csv")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600 and stat.S_IMODE(shared.stat().st_mode) != 0o600
    assert pd.read_csv(private)["value"].tolist() == frame["value"].tolist()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["deep", "private.csv", "shared.csv"]


def test_line_breaks_never_reach_the_file_and_every_value_reads_back(tmp_path):
    """A line break inside a cell ends the row for some readers, and the text after it would start unguarded
    cells: cells with one are escaped instead, and `read_csv` gives back exactly what was written."""
    import csv
    import re

    from codecbench.safecsv import FORMULA_STARTS, read_csv

    texts = ["a\r@SUM(1+1)", "x\n=1,\n-2", "'quoted", "'=already", "back\\slash\r", "plain", "-1+2,\r=3", "\r\n"]
    frame = pd.DataFrame({"text": texts, "value": [-1.5, *range(len(texts) - 1)]})
    path = write_csv(frame, tmp_path / "breaks.csv")
    text = path.read_text()
    assert "\r" not in text and text.count("\n") == len(texts) + 1
    naive = [cell for line in re.split(r"\r\n|\r|\n", text) for row in csv.reader([line]) for cell in row]
    assert [cell for cell in naive if cell.startswith(FORMULA_STARTS) and cell != "-1.5"] == []
    assert csv_text(frame).splitlines()[1] == "'\\a\\r@SUM(1+1),-1.5"
    pd.testing.assert_frame_equal(read_csv(path, dtype={"text": str}), frame)

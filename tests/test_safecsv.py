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

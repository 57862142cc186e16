"""Every CSV a run, its report and its robustness analysis write is safe in a spreadsheet: a folder dataset's
file names (formulas, line breaks) reach utterances.csv, manifest.csv and error messages guarded, for readers
that honour the quotes and for readers that split rows at every line break; and they read back exactly."""

from __future__ import annotations

import csv
import importlib.util
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from codecbench.cli import main
from codecbench.safecsv import FORMULA_STARTS, read_csv

PACKAGES = ("codecbench", "codecbench.codecs", "codecbench.listening_test")  # bench/, codecs/, listening_test/
NAMES = ['=HYPERLINK("http:evil","x")', "@SUM(1+1)", "a\r-2+3", "b\n+cmd|' -C calc'!A0", "-1+2,\r=3"]


def naive_cells(text: str) -> list[str]:
    """The cells as a reader that ends a row at every line break (even inside quotes) sees them."""
    return [cell for line in re.split(r"\r\n|\r|\n", text) for row in csv.reader([line]) for cell in row]


def runs_as_formula(cell: str) -> bool:
    if not cell.startswith(FORMULA_STARTS):
        return False
    try:
        float(cell)  # a negative number is written as a number
        return False
    except ValueError:
        return True


def run_command(data: Path, out: Path, *extra: str) -> list[str]:
    return ["run", "--dataset", "folder", "--root", str(data), "--codecs", "opus@6", "--metrics", "stoi", "--channel",
            "clean,loss@10%", "--workers", "1", "--threads", "1", "--no-progress", "--out", str(out), *extra]


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory, librispeech_root) -> Path:
    """A run of a folder whose file names are formulas and line breaks (one of them not audio at all), with a
    clean and a lossy channel, its report and its robustness analysis."""
    data, out = tmp_path_factory.mktemp("formulas"), tmp_path_factory.mktemp("run") / "run"
    source = next(Path(librispeech_root).rglob("1688-142285-0002.flac"))
    for name in NAMES[:-1]:
        shutil.copyfile(source, data / f"{name}.flac")
    (data / f"{NAMES[-1]}.flac").write_bytes(b"fLaC not audio")  # an error row whose message names the file
    assert main(run_command(data, out)) == 0
    assert main(["report", str(out)]) == 0
    assert main(["robustness", str(out)]) == 0
    return out


def test_no_cell_of_any_csv_runs_as_a_formula(run_folder: Path) -> None:
    written = sorted(run_folder.rglob("*.csv"))
    assert {"utterances.csv", "manifest.csv", "summary.csv", "robustness.csv"} <= {p.name for p in written}
    assert any(p.parent.name == "report" for p in written)
    for path in written:
        text = path.read_text()
        assert "\r" not in text, path  # no line break inside a cell
        live = [cell for cell in naive_cells(text) if runs_as_formula(cell)]
        assert not live, (path.name, live)


def test_the_guarded_names_read_back_exactly(run_folder: Path) -> None:
    rows = read_csv(run_folder / "utterances.csv", dtype={"utterance": str})
    assert sorted(set(rows["utterance"])) == sorted(NAMES)
    stored = pd.read_parquet(run_folder / "utterances.parquet")
    assert rows["error"].fillna("").tolist() == stored["error"].tolist()
    assert rows.loc[rows["utterance"] == NAMES[-1], "error"].str.startswith("cannot read audio").all()
    manifest = read_csv(run_folder / "manifest.csv", dtype=str, keep_default_na=False)
    assert sorted(manifest["utterance"]) == sorted(NAMES)
    data = Path(manifest["path"][0]).parent
    assert main(run_command(data, run_folder, "--resume")) == 0  # the read-back manifest equals the inputs


def test_every_csv_is_written_through_the_guard() -> None:
    """One helper writes CSV: no module of the package writes one by itself."""
    folders = [Path(f) for name in PACKAGES for f in importlib.util.find_spec(name).submodule_search_locations]
    sources = sorted({path.resolve() for folder in folders for path in folder.rglob("*.py")})  # installed as is
    writes = re.compile(r"\.to_csv\(|csv\.(Dict)?[wW]riter")
    direct = [f"{path}:{number}" for path in sources if path.name != "safecsv.py"
              for number, line in enumerate(path.read_text().splitlines(), 1) if writes.search(line)]
    assert len(sources) > 150 and not direct, direct

"""codecbench's own listening tests: a `mushra export` `ratings.csv` (with the test folder for the stimulus
files) and a `mushra analyze` output folder (its ratings, limited to the listeners post-screening kept)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from codecbench.ratings.table import Ratings

ANALYSIS_JSON = "analysis.json"


def is_analysis(path: Path) -> bool:
    """Whether `path` is a `mushra analyze` output folder."""
    return path.is_dir() and (path / ANALYSIS_JSON).is_file()


def is_export(path: Path) -> bool:
    """Whether `path` is a CSV with the `ratings.csv` export columns."""
    from codecbench.listening_test.testdef import RATINGS_COLUMNS

    if not (path.is_file() and path.suffix.lower() == ".csv"):
        return False
    return all(c in pd.read_csv(path, nrows=0).columns for c in RATINGS_COLUMNS)


def _anchors(conditions: list[str]) -> tuple[str, ...]:
    from codecbench.listening_test.anchors import cutoff_of

    found = []
    for condition in dict.fromkeys(conditions):
        try:
            cutoff_of(condition)
        except ValueError:
            continue
        found.append(condition)
    return tuple(found)


def read_export(path: str | Path, test_dir: str | Path | None = None) -> Ratings:
    """A `ratings.csv` export's test-phase ratings; with the test folder (`mushra build --out`), each
    stimulus's file (checksums verified).

    Raises:
        ValueError: invalid ratings (see `listening_test.analysis.validate_ratings`) or test folder.
    """
    from codecbench.listening_test.analysis import read_ratings
    from codecbench.listening_test.testdef import REFERENCE, load_test

    table = read_ratings(path)
    table = table[table["phase"] == "test"]
    files: dict[tuple[str, str], str] = {}
    if test_dir is not None:
        test = load_test(test_dir)
        files = {(item.item, condition): str(test.path(relative))
                 for item in test.items for condition, relative in item.stimuli.items()}
    long = pd.DataFrame({"listener": table["listener"], "item": table["item"], "condition": table["condition"],
                         "rating": table["rating"],
                         "file": [files.get((i, c), "") for i, c in zip(table["item"], table["condition"])]})
    from codecbench.listening_test.analysis import find_mid_anchor

    return Ratings(long, REFERENCE, _anchors(long["condition"].tolist()), f"codecbench MUSHRA export ({path})",
                   mid_anchor=find_mid_anchor(long["condition"].tolist()))


def read_analysis(folder: str | Path, test_dir: str | Path | None = None) -> Ratings:
    """The ratings a `mushra analyze` output analysed (the `ratings` file its `analysis.json` names), limited
    to the listeners it kept; the rules it applied are kept in the notes.

    Raises:
        ValueError: the analysis read a table rather than a file, or that file is gone.
    """
    folder = Path(folder)
    info = json.loads((folder / ANALYSIS_JSON).read_text())
    source = Path(str(info.get("ratings", "")))
    if not source.is_file():
        raise ValueError(f"{folder / ANALYSIS_JSON} names the ratings {str(source)!r}, which is not a file here: "
                         "pass the ratings.csv itself")
    ratings = read_export(source, test_dir).kept([str(x) for x in info.get("kept", [])])
    excluded = ", ".join(str(e["listener"]) for e in info.get("excluded", [])) or "none"
    return Ratings(ratings.table, ratings.reference, ratings.anchors, f"mushra analyze output ({folder})",
                   notes=(f"listeners excluded by that analysis: {excluded}",), mid_anchor=ratings.mid_anchor)

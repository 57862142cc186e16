"""codecbench's own listening tests: a `mushra export` `ratings.csv` (with the test folder for the stimulus
files), a `mushra analyze` output folder (its ratings, limited to the listeners post-screening kept) and a
`mushra analyze --type acr|dcr` output folder (the kept listeners' votes, 1-5)."""

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


def is_listening_analysis(path: Path) -> bool:
    """Whether `path` is a `mushra analyze --type acr|dcr|ccr` output folder."""
    from codecbench.listening_test.types.analysis import LISTENING_JSON, VOTES_CSV

    return path.is_dir() and (path / LISTENING_JSON).is_file() and (path / VOTES_CSV).is_file()


def read_listening_analysis(folder: str | Path, test_dir: str | Path | None = None) -> Ratings:
    """The votes of the listeners a `mushra analyze --type acr|dcr` kept (P.808 screening: gold clips, rating
    behaviour), one per listener and stimulus on the 1-5 scale, the reference (a rated condition of these types)
    included; with the test folder, each stimulus's file. The result is marked screened, so that `validity`
    does not apply MUSHRA's rules to it.

    Raises:
        ValueError: a CCR analysis (its votes are differences against the reference, not a quality per
            stimulus), or an invalid test folder.
    """
    from codecbench.listening_test.testdef import load_test
    from codecbench.listening_test.types.analysis import LISTENING_JSON, VOTES_CSV

    folder = Path(folder)
    info = json.loads((folder / LISTENING_JSON).read_text())
    kind = str(info.get("type"))
    if kind not in ("acr", "dcr"):
        raise ValueError(f"{folder} is a {kind.upper()} analysis: metric validity reads ACR and DCR votes (a "
                         "quality per stimulus); CCR votes are differences against the reference")
    votes = pd.read_csv(folder / VOTES_CSV, dtype={"listener": str, "item": str, "condition": str})
    files: dict[tuple[str, str], str] = {}
    if test_dir is not None:
        test = load_test(test_dir)
        files = {(item.item, condition): str(test.path(relative))
                 for item in test.items for condition, relative in item.stimuli.items()}
    votes["file"] = [files.get((i, c), "") for i, c in zip(votes["item"], votes["condition"])]
    excluded = ", ".join(str(e["listener"]) for e in info.get("excluded", [])) or "none"
    scale = "1 (Bad) to 5 (Excellent)" if kind == "acr" else "1 (very annoying) to 5 (inaudible)"
    return Ratings(votes, str(info.get("gold", "reference")), _anchors(votes["condition"].tolist()),
                   f"mushra analyze --type {kind} output ({folder})",
                   notes=(f"{kind.upper()} votes, {scale}", f"listeners excluded by that analysis (P.808 "
                          f"screening): {excluded}"), screened=True)

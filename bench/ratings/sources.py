"""Read listeners' ratings from a path, choosing the reader by the layout found there."""

from __future__ import annotations

from pathlib import Path

from codecbench.ratings.exports import (is_analysis, is_export, is_listening_analysis, read_analysis, read_export,
                                        read_listening_analysis)
from codecbench.ratings.odaq import is_odaq, read_odaq
from codecbench.ratings.stahl import is_stahl, read_stahl
from codecbench.ratings.table import Ratings
from codecbench.ratings.webmushra import is_webmushra, read_webmushra

AUTO = "auto"
KINDS = (AUTO, "stahl2024", "codecbench", "analysis", "listening", "webmushra", "odaq")


def detect(path: Path) -> str:
    """The kind of ratings at `path`.

    Raises:
        ValueError: none of the known layouts.
    """
    for kind, test in (("stahl2024", is_stahl), ("analysis", is_analysis), ("listening", is_listening_analysis),
                       ("codecbench", is_export), ("webmushra", is_webmushra), ("odaq", is_odaq)):
        if test(path):
            return kind
    raise ValueError(f"{path} is none of the known ratings layouts: a Stahl et al. 2024 folder "
                     "(ratings_formated.csv), a `mushra analyze` output folder (MUSHRA, or --type acr|dcr), a "
                     "codecbench ratings.csv export, "
                     "webMUSHRA's mushra.csv, or an ODAQ folder (listeners' XML results)")


def read_source(path: str | Path, kind: str = AUTO, stimuli: str | Path | None = None,
                filtered: bool = False) -> Ratings:
    """Listeners' ratings as one long table.

    Args:
        path: the ratings (see `detect`).
        kind: one of `KINDS` (`auto`: detected from the layout).
        stimuli: where the stimulus files are: the `mushra build` test folder of a codecbench export or
            analysis, webMUSHRA's YAML configuration (unused for the Stahl dataset, which holds its audio).
        filtered: the Stahl dataset's authors' post-screened ratings instead of the raw ones.

    Raises:
        ValueError: an unknown kind or layout, or invalid ratings.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path} not found")
    if kind not in KINDS:
        raise ValueError(f"unknown ratings kind {kind!r}; select one of {list(KINDS)}")
    kind = detect(path) if kind == AUTO else kind
    if kind == "stahl2024":
        return read_stahl(path, filtered)
    if kind == "analysis":
        return read_analysis(path, stimuli)
    if kind == "listening":
        return read_listening_analysis(path, stimuli)
    if kind == "codecbench":
        return read_export(path, stimuli)
    if kind == "odaq":
        return read_odaq(path)
    return read_webmushra(path, stimuli)

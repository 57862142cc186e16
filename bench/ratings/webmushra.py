"""webMUSHRA's MUSHRA results (`results/<testId>/mushra.csv`, written by its `service/write.php`).

Columns: `session_test_id`, one column per participant field the test asks (e.g. `email`, `age`), then
`trial_id, rating_stimulus, rating_score, rating_time, rating_comment`; one row per rated stimulus. The
hidden reference's stimulus id is `reference`; anchors are the stimulus ids starting with `anchor` (`anchor70`, the
7 kHz low-pass, is the mid anchor of the screening). The test's
YAML configuration (`configs/<test>.yaml`: pages of `type: mushra` with `id`, `reference` and `stimuli`)
gives each stimulus's file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from codecbench.ratings.table import Ratings

TRIAL_COLUMNS = ["trial_id", "rating_stimulus", "rating_score", "rating_time", "rating_comment"]
REFERENCE = "reference"
ANCHOR_PREFIX = "anchor"
MID_ANCHOR = "anchor70"  # webMUSHRA's 7 kHz low-pass anchor (its configurations' convention), BS.1534-3's mid anchor


def is_webmushra(path: Path) -> bool:
    """Whether `path` is a CSV with webMUSHRA's MUSHRA columns."""
    if not (path.is_file() and path.suffix.lower() == ".csv"):
        return False
    header = pd.read_csv(path, nrows=0).columns
    return "session_test_id" in header and all(c in header for c in TRIAL_COLUMNS[:3])


def _mushra_pages(node: Any) -> list[dict[str, Any]]:
    """Every `type: mushra` page of a webMUSHRA configuration (pages may nest in lists, e.g. random groups)."""
    if isinstance(node, list):
        return [page for child in node for page in _mushra_pages(child)]
    if isinstance(node, dict):
        if node.get("type") == "mushra":
            return [node]
        return _mushra_pages(node.get("pages", []))
    return []


def stimulus_files(config: str | Path) -> dict[tuple[str, str], str]:
    """(trial id, stimulus id) -> file path (relative paths against the configuration's parent's parent, the
    webMUSHRA folder, as the browser resolves them) from a webMUSHRA YAML configuration."""
    import yaml

    config = Path(config)
    spec = yaml.safe_load(config.read_text())
    base = config.resolve().parent.parent
    files = {}
    for page in _mushra_pages(spec):
        trial = str(page["id"])
        for stimulus, path in {REFERENCE: page.get("reference"), **(page.get("stimuli") or {})}.items():
            if path:
                files[(trial, str(stimulus))] = str(path if Path(path).is_absolute() else base / path)
    return files


def read_webmushra(path: str | Path, config: str | Path | None = None, listener_column: str | None = None) -> Ratings:
    """webMUSHRA's `mushra.csv` as one long table: item = trial id, condition = stimulus id.

    Args:
        config: the test's YAML configuration, for the stimulus files (None: no files; the ratings can be
            analysed but not scored).
        listener_column: the participant field naming the listener (default: the first participant column;
            without any, each `session_test_id` x block of consecutive rows of one trial order is not
            identifiable, so one is required).

    Raises:
        ValueError: missing columns, or no column identifies the listener.
    """
    path = Path(path)
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in ["session_test_id", *TRIAL_COLUMNS[:3]] if c not in table.columns]
    if missing:
        raise ValueError(f"{path} lacks webMUSHRA's columns {missing}")
    participant = [c for c in table.columns if c not in ("session_test_id", *TRIAL_COLUMNS)]
    column = listener_column or (participant[0] if participant else None)
    if column is None or column not in table.columns:
        raise ValueError(f"{path}: no participant column names the listener (found {participant}); configure a "
                         "participant field (e.g. name or email) in the webMUSHRA test, or pass the listener column")
    files = stimulus_files(config) if config is not None else {}
    long = pd.DataFrame({
        "listener": table[column], "item": table["trial_id"], "condition": table["rating_stimulus"],
        "rating": table["rating_score"],
        "file": [files.get((t, s), "") for t, s in zip(table["trial_id"], table["rating_stimulus"])]})
    anchors = tuple(sorted(c for c in long["condition"].unique() if c.lower().startswith(ANCHOR_PREFIX)))
    return Ratings(long, REFERENCE, anchors, f"webMUSHRA ({path})",
                   notes=(f"listener = the participant column {column!r}",),
                   mid_anchor=MID_ANCHOR if MID_ANCHOR in anchors else None)

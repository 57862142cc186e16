"""The Neural Codec MUSHRA rating dataset (Stahl, Windtner & Sontacchi, IEEE Access 12, 2024, CC BY 4.0).

Layout (the `mushra_results_dataset/` folder of BenjSta/bernoulli-var-speech-codec): `ratings_formated.csv`
(raw) and `ratings_formated_filtered.csv` (after the authors' post-screening), one row per item x condition
with columns `signal, condition, ratings, participant_ids, file`, where `ratings` and `participant_ids` are
Python lists and `file` is the stimulus under `audio/`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd

from codecbench.ratings.table import Ratings
from codecbench.resources import Resource, locate

RAW = "ratings_formated.csv"
FILTERED = "ratings_formated_filtered.csv"
AUDIO_DIR = "audio"
REFERENCE = "Reference"
ANCHORS = ("Anchor",)
STAHL2024 = Resource("Stahl et al. 2024 MUSHRA ratings", (RAW, FILTERED), env_var="CODECBENCH_STAHL2024",
                     cache_path="mushra/stahl2024", shared_path="data/mushra/stahl2024",
                     embedded=Path(__file__).parent / "data" / "stahl2024")  # embedded: 2 items' audio only
CITATION = ("B. Stahl, S. Windtner, A. Sontacchi, \"A Bitrate-Scalable Variational Recurrent Mel-Spectrogram Coder "
            "for Real-Time Resynthesis-Based Speech Coding\", IEEE Access 12, 159239-159251, 2024, "
            "doi:10.1109/ACCESS.2024.3482359 (ratings CC BY 4.0)")


def is_stahl(path: Path) -> bool:
    """Whether `path` is a folder of this dataset's layout."""
    return path.is_dir() and (path / RAW).is_file()


def locate_stahl(explicit: str | Path | None = None) -> Path:
    """The dataset: `explicit`, `$CODECBENCH_STAHL2024`, the user cache, `../shared/data/mushra/stahl2024`, else
    the subset embedded in the package (every rating, the audio of two items)."""
    located = locate(STAHL2024, explicit)
    assert located is not None, "the embedded subset is package data"
    return Path(located.path)


def stimulus_file(root: Path, relative: str) -> str:
    """The stimulus `relative` (as the CSV names it, `stim_01/prop_13.wav`) under `root/audio`, or the FLAC of the
    same name (the embedded subset), or '' where the audio is not here."""
    if not relative:
        return ""
    path = root / AUDIO_DIR / relative
    for candidate in (path, path.with_suffix(".flac")):
        if candidate.is_file():
            return str(candidate)
    return ""


def _parse_list(text: str, what: str, where: str) -> list:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError) as exc:
        raise ValueError(f"{where}: {what} is not a list: {text[:40]!r}") from exc
    if not isinstance(value, list):
        raise ValueError(f"{where}: {what} is not a list: {text[:40]!r}")
    return value


def read_stahl(root: str | Path, filtered: bool = False) -> Ratings:
    """The dataset's ratings as one long table; `file` is each stimulus's path.

    Args:
        root: the dataset folder.
        filtered: read the authors' post-screened ratings instead of the raw ones.

    Raises:
        ValueError: a missing file or column, or lists of ratings and participants of different lengths.
    """
    root = Path(root)
    path = root / (FILTERED if filtered else RAW)
    if not path.is_file():
        raise ValueError(f"{path} not found: not the Stahl et al. 2024 layout ({RAW}, {FILTERED}, {AUDIO_DIR}/)")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in ("signal", "condition", "ratings", "participant_ids", "file") if c not in table.columns]
    if missing:
        raise ValueError(f"{path} lacks the columns {missing}")
    records = []
    for number, row in enumerate(table.to_dict("records"), start=2):
        where = f"{path.name} line {number}"
        ratings = _parse_list(row["ratings"], "ratings", where)
        listeners = _parse_list(row["participant_ids"], "participant_ids", where)
        if len(ratings) != len(listeners):
            raise ValueError(f"{where}: {len(ratings)} ratings but {len(listeners)} participant ids")
        file = stimulus_file(root, row["file"])
        records += [(str(listener), row["signal"], row["condition"], float(rating), file)
                    for listener, rating in zip(listeners, ratings)]
    table = pd.DataFrame(records, columns=["listener", "item", "condition", "rating", "file"])
    stimuli = table.drop_duplicates(["item", "condition"])
    stimuli = stimuli[~stimuli["condition"].isin(ANCHORS)]
    absent = stimuli[stimuli["file"] == ""]
    notes = (f"{len(absent)} of {len(stimuli)} stimuli have no audio in {root} (their ratings count for screening "
             f"and listener statistics, not for scoring)",) if len(absent) else ()
    return Ratings(table, REFERENCE, ANCHORS, f"Stahl et al. 2024 ({path.name})", CITATION, notes)

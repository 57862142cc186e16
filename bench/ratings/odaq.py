"""ODAQ, the Open Dataset of Audio Quality (Torcoli et al., ICASSP 2024; Zenodo 10.5281/zenodo.10405774).

Layout (`ODAQ/ODAQ_listening_test/` of the Zenodo archive): one XML file per listener, as written by Netflix's
listening-test-app (`<info subjectName=... testName=...>`, then `<trial trialName=...>` holding one
`<testFile fileName=... score=...>` per rated stimulus), and one folder per trial, named as the trial, holding
`reference.wav` and the stimuli by their `fileName`. This reader follows the authors' own benchmark
(`benchmark/ProcessAndAnalyzeODAQScores.py` in Fraunhofer-IIS/ODAQ): item = trial name, condition = file name
without `.wav`, the file whose name contains `reference` is the reference, names with `lp35`/`lp70` are the
3.5 and 7 kHz low-pass anchors. The ODAQ v1 BSU cohorts (Zenodo 10.5281/zenodo.13377284) use the same XML.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd

from codecbench.ratings.table import Ratings

LISTENING_DIR = "ODAQ_listening_test"
REFERENCE = "reference"
ANCHOR_TAGS = ("lp35", "lp70")
MID_ANCHOR_TAG = "lp70"
CITATION = ("M. Torcoli, C.-W. Wu, S. Dick, P. A. Williams, M. M. Halimeh, W. Wolcott, E. A. P. Habets, \"ODAQ: Open "
            "Dataset of Audio Quality\", ICASSP 2024; data: Zenodo, doi:10.5281/zenodo.10405774")


def listening_folder(path: Path) -> Path:
    """The folder holding the listeners' XML files: `path` itself, or its `ODAQ_listening_test` (directly or under
    `ODAQ/`)."""
    for candidate in (path, path / LISTENING_DIR, path / "ODAQ" / LISTENING_DIR):
        if candidate.is_dir() and any(_is_result(p) for p in candidate.glob("*.xml")):
            return candidate
    raise ValueError(f"{path} holds no ODAQ listener results (<{LISTENING_DIR}>/*.xml with <trial> and <testFile>)")


def _is_result(path: Path) -> bool:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:
        return False
    return root.find("info") is not None and root.find(".//trial/testFile") is not None


def is_odaq(path: Path) -> bool:
    """Whether `path` is an ODAQ download (or its listening-test folder)."""
    if not path.is_dir():
        return False
    try:
        listening_folder(path)
    except ValueError:
        return False
    return True


def read_odaq(path: str | Path, results: list[str | Path] | None = None) -> Ratings:
    """Every listener's ratings as one long table; `file` is the stimulus under the trial's folder ('' if absent).

    Args:
        path: the ODAQ folder (or its `ODAQ_listening_test`).
        results: further folders of listener XML files rating the same stimuli (the BSU cohorts).

    Raises:
        ValueError: no results, an XML file without a subject name, a score that is not a number, or no
            reference among the rated stimuli.
    """
    folder = listening_folder(Path(path))
    records = []
    for source in [folder, *(Path(r) for r in results or ())]:
        for xml in sorted(source.glob("*.xml")):
            if not _is_result(xml):
                continue
            root = ET.parse(xml).getroot()
            listener = root.find("info").get("subjectName") or ""
            if not listener:
                raise ValueError(f"{xml}: <info> has no subjectName")
            for trial in root.iter("trial"):
                item = trial.get("trialName") or ""
                for test_file in trial.findall("testFile"):
                    name = test_file.get("fileName") or ""
                    try:
                        score = float(test_file.get("score", ""))
                    except ValueError:
                        raise ValueError(f"{xml}: trial {item}, {name}: score {test_file.get('score')!r} is not a "
                                         "number") from None
                    stimulus = folder / item / name
                    records.append((listener, item, name.removesuffix(".wav"), score,
                                    str(stimulus) if stimulus.is_file() else ""))
    table = pd.DataFrame(records, columns=["listener", "item", "condition", "rating", "file"])
    references = sorted({c for c in table["condition"] if REFERENCE in c.lower()})
    if len(references) != 1:
        raise ValueError(f"{folder}: expected one rated reference condition (a file named *reference*), found "
                         f"{references}")
    conditions = list(dict.fromkeys(table["condition"]))
    anchors = tuple(c for c in conditions if any(tag in c.lower() for tag in ANCHOR_TAGS))
    mid = [c for c in anchors if MID_ANCHOR_TAG in c.lower()]
    return Ratings(table, references[0], anchors, f"ODAQ ({folder})", CITATION,
                   notes=("item = trial, condition = file name (ODAQ's own benchmark does the same)",),
                   mid_anchor=mid[0] if len(mid) == 1 else None)

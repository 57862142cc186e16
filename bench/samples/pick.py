"""What a samples page shows: which utterances (a balanced pick across speakers), which systems in which order
(the reference first, then by measured bitrate), and where each cell's audio lies.

Only cells whose audio the run kept (`--keep-audio`) can be shown: an utterance is a candidate where every shown
system has a row without error whose kept file is there (`kept_audio.present`; the files shown are hashed when
copied, so an altered one stops the build). Among the
candidates, `listening_test.selection.pick_balanced` takes turns over speakers (and over speaker gender where the
LibriSpeech `SPEAKERS.TXT` names it), in a seeded order, so no speaker gives two utterances before every speaker
gave one -- the rule `mushra build` uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from codecbench import kept_audio
from codecbench.listening_test.selection import find_speakers_txt, pick_balanced, read_speakers_txt
from codecbench.report.sources import CODEC_SPEC, RunData, SourceRun
from codecbench.rows import CONDITIONS

REFERENCE = "reference"


@dataclass(frozen=True)
class Cell:
    """One system's audio of one utterance.

    Args:
        system: the system's label (`opus@6`, `opus@6 · loss@10%`).
        run_dir: the run folder that keeps its audio.
        record: its stored row.
        key: the row's key in its run (`kept_audio.relative_path`).
    """

    system: str
    run_dir: Path
    record: dict[str, Any]
    key: tuple[str, ...]


@dataclass(frozen=True)
class Utterance:
    """One shown utterance: its reference input and a cell per system, in page order."""

    id: str
    speaker: str
    reference: Path
    duration_s: float
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class Pick:
    """The page's content.

    Args:
        systems: the shown systems in column order (reference excluded: it always comes first).
        utterances: the shown utterances, in pick order.
        candidates: how many utterances had every system's audio.
        notes: what was left out and why (systems without kept audio, balance warnings).
    """

    systems: tuple[str, ...]
    utterances: tuple[Utterance, ...]
    candidates: int
    notes: tuple[str, ...]


def _conditions(source: SourceRun) -> list[str]:
    """The condition columns of a source run's keys (those it was run with)."""
    return [c for c in CONDITIONS if source.info.config.get(f"{c}s") is not None]


def _key(row: pd.Series, source: SourceRun) -> tuple[str, ...]:
    spec = row[CODEC_SPEC] if CODEC_SPEC in row and pd.notna(row[CODEC_SPEC]) else row["spec"]
    return (str(row["utterance"]), str(spec), *(str(row[c]) for c in _conditions(source)))


def system_order(run: RunData, systems: list[str]) -> list[str]:
    """`systems` by mean measured kbps, lowest first (systems without a measured rate last, in run order)."""
    kbps = run.rows.groupby("spec")["measured_kbps"].mean()
    return sorted(systems, key=lambda s: (pd.isna(kbps.get(s)), kbps.get(s, 0.0), run.specs.index(s)))


def _reference_path(source: SourceRun, utterance: str) -> Path | None:
    """The reference input of an utterance from its run's manifest (a pairs run: the pair's reference file)."""
    if source.manifest is None:
        return None
    files = source.manifest[source.manifest["utterance"] == utterance]
    if REFERENCE in set(files["split"]):
        files = files[files["split"] == REFERENCE]
    return Path(files["path"].iloc[0]) if len(files) else None


def pick(run: RunData, count: int, seed: int = 0, systems: list[str] | None = None,
         utterances: list[str] | None = None) -> Pick:
    """Choose the page's utterances and systems.

    Args:
        run: one run or several merged (`report.merge.load_runs`).
        count: utterances to show (fewer where fewer have every system's audio: a note says so).
        seed: the balanced pick's seed.
        systems: systems to show (default: every system with kept audio), ordered by bitrate whatever the order given.
        utterances: utterance ids to show instead of the balanced pick, in the order given.

    Raises:
        ValueError: an unknown system or utterance, or no utterance with every system's kept audio.
    """
    if count < 1:
        raise ValueError(f"--utterances must be at least 1, not {count}")
    rows = run.rows[run.rows["error"].fillna("") == ""]
    sources = {s: run.sources[run.spec_sources.get(s, 0)] for s in run.specs}
    cells: dict[tuple[str, str], Cell] = {}
    for system, group in rows.groupby("spec", sort=False):
        source = sources.get(system, run.sources[0])
        for _, row in group.iterrows():
            record, key = row.to_dict(), _key(row, source)
            if kept_audio.present(source.root, record, key):  # hashed when copied (`samples.build`)
                cells[(str(row["utterance"]), str(system))] = Cell(str(system), source.root, record, key)
    kept = [s for s in run.specs if any(k[1] == s for k in cells)]
    notes = [f"{s}: no kept audio (run it with --keep-audio)" for s in run.specs if s not in kept]
    unknown = [s for s in systems or [] if s not in run.specs]
    if unknown:
        raise ValueError(f"--systems {unknown}: not in the runs; choose from {run.specs}")
    wanted = system_order(run, [s for s in (systems or kept)])
    lacking = [s for s in wanted if s not in kept]
    if lacking:
        raise ValueError(f"{lacking}: the runs kept no audio for them (run with --keep-audio)")
    if not wanted:
        raise ValueError("the runs kept no decoded audio: run them with --keep-audio (codecbench run --keep-audio)")
    speakers = dict(zip(rows["utterance"].astype(str), rows["speaker"].astype(str)))
    complete = sorted(u for u in speakers if all((u, s) in cells for s in wanted))
    if not complete:
        raise ValueError(f"no utterance has kept audio for every one of {wanted}")
    if utterances is not None:
        absent = [u for u in utterances if u not in complete]
        if absent:
            raise ValueError(f"--utterance {absent}: no kept audio for every shown system; choose from {complete}")
        chosen, balance = list(utterances), []
    else:
        first = _reference_path(sources[wanted[0]], complete[0])
        speakers_txt = find_speakers_txt(first) if first is not None else None
        genders = read_speakers_txt(speakers_txt) if speakers_txt else None
        selection = pick_balanced([(u, speakers[u]) for u in complete], min(count, len(complete)), seed, genders)
        chosen, balance = list(selection.items), list(selection.warnings)
        if count > len(complete):
            notes.append(f"{count} utterances asked, {len(complete)} have every system's kept audio")
    shown = []
    for utterance in chosen:
        row_cells = tuple(cells[(utterance, s)] for s in wanted)
        reference = _reference_path(sources[wanted[0]], utterance)
        if reference is None:
            raise ValueError(f"{utterance}: its run's manifest.csv does not list its input")
        shown.append(Utterance(utterance, speakers[utterance], reference,
                               float(row_cells[0].record["duration_s"]), row_cells))
    return Pick(tuple(wanted), tuple(shown), len(complete), tuple(notes + balance))

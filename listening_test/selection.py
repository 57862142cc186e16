"""Which items a test uses: spread over speakers and, where the corpus says who is who, over speaker gender.

LibriSpeech lists every reader's sex in `SPEAKERS.TXT` (`ID | SEX | SUBSET | MINUTES | NAME`) at the root
of the corpus; a stimulus folder may give a `gender` column in its `speakers.csv`. Without either, items
are balanced over speakers only, and `build` says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SPEAKERS_TXT = "SPEAKERS.TXT"


@dataclass(frozen=True)
class Selection:
    """The picked items and what could not be balanced.

    Args:
        items: item ids in the order picked (the first ones make the test, the rest the training).
        genders: per gender, how many of the items it gives ({} when unknown).
        warnings: why a balance could not be kept.
    """

    items: list[str]
    genders: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def read_speakers_txt(path: str | Path) -> dict[str, str]:
    """Speaker id -> `F` / `M` from a LibriSpeech `SPEAKERS.TXT`."""
    genders = {}
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith(";") or "|" not in line:
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) >= 2 and parts[1] in ("F", "M"):
            genders[parts[0]] = parts[1]
    return genders


def find_speakers_txt(audio_path: str | Path, levels: int = 4) -> Path | None:
    """The `SPEAKERS.TXT` of the LibriSpeech root above an utterance (ROOT/SPLIT/SPEAKER/CHAPTER/ID.flac)."""
    for parent in list(Path(audio_path).parents)[:levels]:
        if (parent / SPEAKERS_TXT).is_file():
            return parent / SPEAKERS_TXT
    return None


def pick_balanced(candidates: list[tuple[str, str]], count: int, seed: int,
                  genders: dict[str, str] | None = None) -> Selection:
    """`count` item ids spread evenly over speakers and, with `genders`, over speaker gender.

    Speakers, in a seeded random order, take turns giving their next item (each speaker's items in
    seeded random order), so no speaker gives two items before every speaker gave one. With genders
    known for every speaker, the genders take turns (the first one drawn at random) and the speakers of a
    gender take turns within it, so the genders' counts differ by at most one, as long as each has
    enough items; otherwise the other gender fills in, with a warning.

    Args:
        candidates: (item, speaker) pairs.
        count: how many to pick.
        seed: the selection seed.
        genders: speaker -> gender (`F`, `M`, ...); None or incomplete: balanced over speakers only.

    Raises:
        ValueError: fewer candidates than `count`.
    """
    if count > len(candidates):
        raise ValueError(f"asked for {count} items but only {len(candidates)} are usable")
    rng = np.random.default_rng(seed)
    by_speaker: dict[str, list[str]] = {}
    for item, speaker in sorted(candidates):
        by_speaker.setdefault(speaker, []).append(item)
    queues = {speaker: list(rng.permutation(items)) for speaker, items in sorted(by_speaker.items())}
    order = [sorted(queues)[i] for i in rng.permutation(len(queues))]
    warnings = []
    unknown = sorted(s for s in order if not genders or s not in genders)
    if unknown:
        warnings.append("no speaker gender known for " + (f"speakers {unknown[:8]}" + (" ..." if len(unknown) > 8
                        else "") if genders else "any speaker") + ": items are balanced over speakers only")
        groups = {"": order}
    else:
        groups = {}
        for speaker in order:
            groups.setdefault(genders[speaker], []).append(speaker)
        groups = {g: groups[g] for g in [sorted(groups)[i] for i in rng.permutation(len(groups))]}
    turns = {g: _speaker_turns(speakers, queues) for g, speakers in groups.items()}
    picked: list[str] = []
    taken = {g: 0 for g in groups}
    while len(picked) < count:
        for group, items in turns.items():
            if items and len(picked) < count:
                picked.append(items.pop(0))
                taken[group] += 1
    if not unknown and (len(groups) == 1 or max(taken.values()) - min(taken.values()) > 1):
        warnings.append("cannot balance speaker gender: " + ", ".join(f"{n} items from {g} speakers"
                                                                      for g, n in taken.items()))
    return Selection(picked, {g: n for g, n in taken.items() if g}, warnings)


def _speaker_turns(speakers: list[str], queues: dict[str, list[str]]) -> list[str]:
    """The items of these speakers in the order they give them: each speaker's next item, speaker by speaker."""
    queues = {s: list(queues[s]) for s in speakers}
    order = []
    while any(queues.values()):
        for speaker in speakers:
            if queues[speaker]:
                order.append(str(queues[speaker].pop(0)))
    return order

"""ITU-T P.808 Annex (P.800 Annex D) degradation category rating (DCR): the reference, then the processed
stimulus, rated on the 5-point degradation scale; the mean is the DMOS.

Every listener rates every (item, condition) once, in the order of ACR (`acr.cells`): training items first, then
the test items' stimuli in a seeded random order. The reference is always shown as the trial's open reference
(heard first: the page lists it first and the listening rule holds for both). The unprocessed reference is also
rated as a condition (the reference against itself): the gold clip, expected "Degradation is inaudible" (5),
one category off accepted (see `analysis`).
"""

from __future__ import annotations

from typing import Any

from codecbench.listening_test.plan import PlannedTrial
from codecbench.listening_test.types.acr import LABEL, CategoryType, cells

# ITU-T P.800 (08/1996) Annex D, D.4 / P.808 Annex: the degradation category scale, best first.
SCALE = {5: "Degradation is inaudible", 4: "Degradation is audible but not annoying",
         3: "Degradation is slightly annoying", 2: "Degradation is annoying", 1: "Degradation is very annoying"}
QUESTION = "Degradation of the recording compared with the Reference"
WELCOME = """\
# Listening test: {name}

In every trial you will hear a **Reference** recording and a processed version of it, and rate how much the
processed version is degraded compared with the Reference, from **Degradation is inaudible** to **Degradation
is very annoying**.

- Listen to the Reference first, then to the recording, each for at least {min_play} s (or to its end).
- Use headphones in a quiet room. It takes about {minutes} minutes: {items} excerpts, each in several versions,
  after a short **training** whose ratings are not counted.
- Your ratings are saved every time you press **Next**. If anything goes wrong, open your personal link (shown on
  every page) to continue where you stopped.
"""
INSTRUCTIONS = ("Listen to the Reference, then to the recording (at least {min_play} s each, or to the end), and "
                "rate the degradation of the recording compared with the Reference.")


def settings(reference: str) -> dict[str, Any]:
    """The `dcr:` section of a test.yaml: wording, scale and the gold clip (sealed with the stimuli)."""
    return {"question": QUESTION, "scale": dict(SCALE),
            "gold": {"condition": reference, "expected": 5, "tolerance": 1}}


class DcrType(CategoryType):
    """Reference-then-processed trials answered 1-5."""

    name, scale, question = "dcr", SCALE, QUESTION

    def plan(self, test: Any, seed: int) -> list[PlannedTrial]:
        reference = test.spec["reference"]
        return [PlannedTrial(number, entry.phase, entry.item, [(LABEL, condition, entry.stimuli[condition])],
                             entry.stimuli[reference])
                for number, (entry, condition) in enumerate(cells(test, seed), start=1)]

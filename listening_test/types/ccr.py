"""ITU-T P.808 Annex (P.800 Annex E) comparison category rating (CCR): the reference and the processed stimulus
in a random order per trial, the second compared with the first on the 7-point scale (+3 Much better ... -3 Much
worse); the mean, sign-corrected so that it is the processed stimulus against the reference, is the CMOS.

Every listener compares every (item, condition) once (`acr.cells`): the two stimuli are labelled A (played first
on the page) and B; which of them is the reference is drawn per condition on a seeded side and alternates over the
listener's items, so each condition comes first on half of them (one more on odd counts). The labels are in
`listening.csv`. The reference compared with itself is the gold clip: expected "About the same" (0), one category
off accepted.

Storage: the `ratings` table holds one integer 0-100 per stimulus, so an answer c (B compared with A) is stored as
3 + c for B and 3 - c for A: a stimulus's stored rating minus 3 is always its own score against the other one, and
the processed stimulus's is the sign-corrected CMOS vote whatever the order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from codecbench.listening_test.plan import PlannedTrial
from codecbench.listening_test.types.acr import CategoryType, cells

# ITU-T P.800 (08/1996) Annex E, E.2: the comparison category scale, best first.
SCALE = {3: "Much better", 2: "Better", 1: "Slightly better", 0: "About the same", -1: "Slightly worse",
         -2: "Worse", -3: "Much worse"}
OFFSET = 3  # a stimulus's stored rating: OFFSET + its score against the other stimulus of the trial (0-6)
QUESTION = "The quality of B compared with the quality of A is:"
WELCOME = """\
# Listening test: {name}

In every trial you will hear two versions, **A** and **B**, of a short speech recording, and rate the quality
of **B** compared with the quality of **A**, from **Much better** to **Much worse**.

- Listen to A, then to B, each for at least {min_play} s (or to its end).
- Use headphones in a quiet room. It takes about {minutes} minutes: {items} excerpts, each in several versions,
  after a short **training** whose ratings are not counted.
- Your ratings are saved every time you press **Next**. If anything goes wrong, open your personal link (shown on
  every page) to continue where you stopped.
"""
INSTRUCTIONS = ("Listen to A, then to B (at least {min_play} s each, or to the end), and rate the quality of B "
                "compared with the quality of A.")


def settings(reference: str) -> dict[str, Any]:
    """The `ccr:` section of a test.yaml: wording, scale and the gold clip (sealed with the stimuli)."""
    return {"question": QUESTION, "scale": dict(SCALE),
            "gold": {"condition": reference, "expected": 0, "tolerance": 1}}


class CcrType(CategoryType):
    """Two-stimulus trials (the reference and one condition, in a balanced random order) answered -3..+3."""

    name, scale, question = "ccr", SCALE, QUESTION

    def plan(self, test: Any, seed: int) -> list[PlannedTrial]:
        reference = test.spec["reference"]
        ordered = cells(test, seed)
        rng = np.random.default_rng([seed, 1])
        first = {c: bool(rng.integers(2)) for c in dict.fromkeys(c for _, c in ordered)}  # processed shown first?
        trials = []
        for number, (entry, condition) in enumerate(ordered, start=1):
            pair = [(reference, entry.stimuli[reference]), (condition, entry.stimuli[condition])]
            if first[condition]:
                pair.reverse()
            first[condition] = not first[condition]
            trials.append(PlannedTrial(number, entry.phase, entry.item,
                                       [(label, c, f) for label, (c, f) in zip("AB", pair)], None))
        return trials

    def check(self, ratings: Any, rated: dict[str, str], trial: int) -> str | None:
        if not isinstance(ratings, dict) or set(ratings) != set(rated):
            return f"trial {trial} needs one answer for each of its 2 stimuli"
        values = list(ratings.values())
        if any(not isinstance(v, int) or isinstance(v, bool) for v in values) or \
                sorted(v - OFFSET for v in values) not in [[-c, c] for c in range(4)]:
            return (f"a comparison is one answer c from -3 to +3, stored as {OFFSET} + c for B and {OFFSET} - c "
                    "for A")
        return None

    def player(self, test: Any) -> dict[str, Any]:
        return {**super().player(test), "offset": OFFSET}

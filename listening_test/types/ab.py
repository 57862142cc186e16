"""A/B paired comparison: two conditions of one item per trial, with or without the open reference.

The listener says which of A and B sounds better (with the reference: which is closer to it), or, where the
test allows it, that neither is preferred. The answer is stored as one integer per stimulus: 100 for the
preferred, 0 for the other, 50 each for "no preference" (so a condition's mean rating is its share of the
preference with ties counted half).

Order: every pair is compared on every item (training items first); the trials come in a seeded random order,
and within each pair the side a condition is shown on alternates over the listener's items, starting on a seeded
side, so each condition of a pair is A on half of the items (one more on odd counts). The listener's seed is in
the database, the labels each stimulus got in `listening.csv`.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np

from codecbench.listening_test.plan import PlannedTrial
from codecbench.listening_test.types.base import CHOICE_LABELS

PREFERRED, OTHER, TIE = 100, 0, 50
QUESTION = "Which one sounds better?"
QUESTION_REFERENCE = "Which one sounds closer to the Reference?"
WELCOME = """\
# Listening test: {name}

In every trial you will hear two versions, **A** and **B**, of a short speech recording and choose the one
you prefer.

- Listen to both (and to the Reference, where there is one) for at least {min_play} s (or to the end) before
  you choose.
- Use headphones in a quiet room. It takes about {minutes} minutes: {items} excerpts, each in a few pairs,
  after a short **training** whose answers are not counted.
- Your answers are saved every time you press **Next**. If anything goes wrong, open your personal link (shown on
  every page) to continue where you stopped.
"""
INSTRUCTIONS = ("Listen to A and B (and the Reference, where there is one) for at least {min_play} s each, then "
                "choose. Switching keeps the playback position.")


def pairs_from(conditions: list[str], given: list[tuple[str, str]] | None) -> list[list[str]]:
    """The pairs compared: `given` (checked against the conditions), else every pair of `conditions`.

    Raises:
        ValueError: a pair naming a condition the test does not have, a condition paired with itself, or no pair.
    """
    if given is None:
        chosen = [list(p) for p in combinations(conditions, 2)]
    else:
        chosen = [[str(a), str(b)] for a, b in given]
    for a, b in chosen:
        unknown = [c for c in (a, b) if c not in conditions]
        if unknown:
            raise ValueError(f"pair {a}:{b} names {', '.join(unknown)}, not a condition of this test "
                             f"(conditions: {', '.join(conditions)})")
        if a == b:
            raise ValueError(f"pair {a}:{b} compares a condition with itself")
    if not chosen:
        raise ValueError("an A/B test needs at least one pair: give two conditions or more, or --pairs A:B")
    return chosen


def settings(pairs: list[list[str]], reference: bool, no_preference: bool) -> dict[str, Any]:
    """The `ab:` section of a test.yaml (sealed with the stimuli)."""
    return {"pairs": pairs, "reference": reference, "no_preference": no_preference,
            "question": QUESTION_REFERENCE if reference else QUESTION}


class AbType:
    """Two-stimulus trials answered with a preference.

    Args:
        spec: the test's `ab:` section (`settings`).
    """

    name = "ab"

    def __init__(self, spec: dict[str, Any]) -> None:
        self.pairs = [tuple(p) for p in spec.get("pairs") or []]
        self.reference = bool(spec.get("reference", False))
        self.no_preference = bool(spec.get("no_preference", True))
        self.question = str(spec.get("question") or (QUESTION_REFERENCE if self.reference else QUESTION))

    def plan(self, test: Any, seed: int) -> list[PlannedTrial]:
        rng = np.random.default_rng(seed)
        training = [(e, p) for e in test.training for p in self.pairs]
        cells = [(e, p) for e in test.items for p in self.pairs]
        ordered = training + [cells[i] for i in rng.permutation(len(cells))]
        flip = {pair: bool(rng.integers(2)) for pair in self.pairs}  # the side each pair starts on
        trials = []
        for number, (entry, pair) in enumerate(ordered, start=1):
            first, second = (pair[1], pair[0]) if flip[pair] else pair
            flip[pair] = not flip[pair]
            stimuli = [("A", first, entry.stimuli[first]), ("B", second, entry.stimuli[second])]
            reference = entry.stimuli[test.spec["reference"]] if self.reference else None
            trials.append(PlannedTrial(number, entry.phase, entry.item, stimuli, reference))
        return trials

    def check(self, ratings: Any, rated: dict[str, str], trial: int) -> str | None:
        if not isinstance(ratings, dict) or set(ratings) != set(rated):
            return f"trial {trial} needs one answer for each of its 2 stimuli"
        values = list(ratings.values())
        allowed = [[OTHER, PREFERRED]] + ([[TIE, TIE]] if self.no_preference else [])
        if any(not isinstance(v, int) or isinstance(v, bool) for v in values) or sorted(values) not in allowed:
            choices = "A or B" + (", or no preference" if self.no_preference else "")
            return f"choose {choices} (100 for the preferred stimulus, 0 for the other" + \
                (", 50 each for no preference)" if self.no_preference else ")")
        return None

    def player(self, test: Any) -> dict[str, Any]:
        return {"type": self.name, "labels": CHOICE_LABELS, "question": self.question,
                "no_preference": self.no_preference}

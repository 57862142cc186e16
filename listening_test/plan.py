"""A listener's session plan: training trials, then the test items in a random order, labels shuffled per trial."""

from __future__ import annotations

import string
from dataclasses import dataclass

import numpy as np

from codecbench.listening_test.testdef import MushraTest, TestItem

LABELS = string.ascii_uppercase  # a trial holds at most 12 stimuli: A-L, never R (the open reference's key)


@dataclass(frozen=True)
class PlannedTrial:
    """One trial of one listener.

    Args:
        trial: position in the listener's sequence, from 1.
        phase: `training` or `test`.
        item: the item id.
        stimuli: (label, condition, file) in label order.
        reference_file: the open reference's file (None: a trial without one).
    """

    trial: int
    phase: str
    item: str
    stimuli: list[tuple[str, str, str]]
    reference_file: str | None


def plan_trials(test: MushraTest, seed: int) -> list[PlannedTrial]:
    """Training items in their built order, then every test item in a seeded random order; each trial's
    conditions are assigned to labels A, B, ... in a seeded random order.

    Args:
        test: the loaded test.
        seed: the listener's seed (logged, so the order can be reproduced).
    """
    rng = np.random.default_rng(seed)
    ordered = list(test.training) + [test.items[i] for i in rng.permutation(len(test.items))]
    return [_trial(number, entry, test.spec["reference"], rng) for number, entry in enumerate(ordered, start=1)]


def _trial(number: int, entry: TestItem, reference: str, rng: np.random.Generator) -> PlannedTrial:
    conditions = list(entry.stimuli)
    shuffled = [conditions[i] for i in rng.permutation(len(conditions))]
    labels = [label for label in LABELS if label != "R"]
    stimuli = [(labels[i], c, entry.stimuli[c]) for i, c in enumerate(shuffled)]
    return PlannedTrial(number, entry.phase, entry.item, stimuli, entry.stimuli[reference])

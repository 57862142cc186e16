"""ITU-T P.808 absolute category rating (ACR): one stimulus per trial, rated on the 5-point listening-quality scale.

Every listener rates every (item, condition) once: the training items first (every condition, so the whole range
is heard before the test), then the test items' stimuli in a seeded random order. The unprocessed reference is a
condition like any other (P.808's "clean" condition) and doubles as the gold-standard clip: its expected answer
is 5 (Excellent), and P.808 accepts one category off (see `analysis_acr`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from codecbench.listening_test.plan import PlannedTrial
from codecbench.listening_test.types.base import CHOICE_LABELS

# ITU-T P.808 (06/2021) clause 6.1 / ITU-T P.800 Annex B: the listening-quality scale, best first.
SCALE = {5: "Excellent", 4: "Good", 3: "Fair", 2: "Poor", 1: "Bad"}
QUESTION = "Quality of the speech"
WELCOME = """\
# Listening test: {name}

You will hear short speech recordings, one at a time, and rate the **quality of the speech** of each on a
five-category scale: **Excellent · Good · Fair · Poor · Bad**.

- Listen to each recording for at least {min_play} s (or to its end) before you rate it.
- Use headphones in a quiet room. It takes about {minutes} minutes: {items} excerpts, each in several versions,
  after a short **training** whose ratings are not counted.
- Your ratings are saved every time you press **Next**. If anything goes wrong, open your personal link (shown on
  every page) to continue where you stopped.
"""
INSTRUCTIONS = ("Listen to the recording (at least {min_play} s, or to its end) and rate the quality of the "
                "speech: Excellent, Good, Fair, Poor or Bad.")
LABEL = "A"  # the one stimulus of a trial (its key on the keyboard)


def settings(reference: str) -> dict[str, Any]:
    """The `acr:` section of a test.yaml: wording, scale and the gold clip (sealed with the stimuli)."""
    return {"question": QUESTION, "scale": {int(k): v for k, v in SCALE.items()},
            "gold": {"condition": reference, "expected": 5, "tolerance": 1}}


def cells(test: Any, seed: int) -> list[tuple[Any, str]]:
    """Every (item entry, condition) of the test once: the training items' first (each item's conditions
    shuffled), then the test items' in a seeded random order (ACR, DCR and CCR plan their trials from these)."""
    rng = np.random.default_rng(seed)
    training = [(e, str(c)) for e in test.training for c in (rng.permutation(list(e.stimuli)) if e.stimuli else [])]
    tested = [(e, str(c)) for e in test.items for c in e.stimuli]
    return training + [tested[i] for i in rng.permutation(len(tested))]


def category_check(ratings: Any, rated: dict[str, str], trial: int, scale: dict[int, str]) -> str | None:
    """Why `ratings` are not one category of `scale` for the trial's one rated stimulus (None: they are)."""
    if not isinstance(ratings, dict) or set(ratings) != set(rated):
        return f"trial {trial} needs one rating of its stimulus"
    for value in ratings.values():
        if not isinstance(value, int) or isinstance(value, bool) or value not in scale:
            return f"ratings are whole numbers from {min(scale)} to {max(scale)}, not {str(value)[:20]!r}"
    return None


def choices(scale: dict[Any, str]) -> list[dict[str, Any]]:
    """The answers of a category scale as the choice page lists them: best first, "5 Excellent"."""
    return [{"value": k, "label": f"{k:+d} {v}" if min(int(x) for x in scale) < 0 and k else f"{k} {v}"}
            for k, v in sorted(((int(k), v) for k, v in scale.items()), reverse=True)]


class CategoryType:
    """A test answered on a category scale (`scale`, worded by `question`; a test's own section may reword both):
    keeps the test's section, checks an answer per rated stimulus, and tells the choice page its options.

    Args:
        spec: the test's section of its type (`settings` of the type's module).
    """

    name = ""
    scale: dict[int, str] = {}
    question = ""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec

    def check(self, ratings: Any, rated: dict[str, str], trial: int) -> str | None:
        return category_check(ratings, rated, trial, self.scale)

    def player(self, test: Any) -> dict[str, Any]:
        return {"type": self.name, "labels": CHOICE_LABELS, "question": self.spec.get("question", self.question),
                "choices": choices(self.spec.get("scale") or self.scale)}


class AcrType(CategoryType):
    """Single-stimulus trials answered 1-5."""

    name, scale, question = "acr", SCALE, QUESTION

    def plan(self, test: Any, seed: int) -> list[PlannedTrial]:
        return [PlannedTrial(number, entry.phase, entry.item, [(LABEL, condition, entry.stimuli[condition])],
                             None) for number, (entry, condition) in enumerate(cells(test, seed), start=1)]

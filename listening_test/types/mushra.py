"""The MUSHRA type (ITU-R BS.1534-3): every condition of an item in one trial, rated 0-100 beside the reference."""

from __future__ import annotations

from typing import Any

from codecbench.listening_test.plan import PlannedTrial, plan_trials


class MushraType:
    """A MUSHRA trial: hidden reference, anchors and conditions on labels A, B, ..., and the open reference."""

    name = "mushra"

    def plan(self, test: Any, seed: int) -> list[PlannedTrial]:
        return plan_trials(test, seed)

    def check(self, ratings: Any, rated: dict[str, str], trial: int) -> str | None:
        if not isinstance(ratings, dict) or set(ratings) != set(rated):
            return f"trial {trial} needs exactly one rating for each of its {len(rated)} stimuli"
        for value in ratings.values():
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
                return f"ratings are whole numbers from 0 to 100, not {str(value)[:20]!r}"
        return None

    def player(self, test: Any) -> dict[str, Any]:
        return {"type": self.name}

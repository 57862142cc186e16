"""Listening-test types on one server: what a trial holds, what a listener answers, and how it is checked.

A test folder's `test.yaml` names its type (`type:`; MUSHRA when absent) and that type's settings under a key of
the same name. Every type shares the store, the security gate, resume, per-trial saving and the exports: a trial
is a set of stimuli served by opaque key (with or without an open reference), and a listener's answer is one
integer per rated stimulus (the `ratings` table):
- `mushra` (ITU-R BS.1534-3): 0-100 per stimulus (`plan.plan_trials`);
- `acr` (ITU-T P.808 absolute category rating): one stimulus per trial, 1 (Bad) to 5 (Excellent), see `acr`;
- `ab` (paired comparison, with or without the reference): two stimuli, 100 for the preferred one and 0 for the
  other, or 50 each for "no preference" where the test allows it, see `ab`.
"""

from __future__ import annotations

from typing import Any, Protocol

from codecbench.listening_test.plan import PlannedTrial

MUSHRA = "mushra"
TYPES = ("mushra", "acr", "ab")
CHOICE_LABELS = {  # what the ACR and A/B trial pages say beside MUSHRA's labels (a test's own texts override them)
    "recording": "▶ Recording",
    "prefer": "{label} is better",
    "no_preference": "No preference",
    "choice_progress": "Listen to every recording long enough ({heard} of {total} done), then answer.",
    "choice_complete": "Listened and answered: press Next.",
    "acr_keys": "Keys (when no button has the focus): Space play/stop · A the recording · ←/→ seek 1 s · "
                "Enter next. In the answers: arrow keys move, Space chooses.",
    "ab_keys": "Keys (when no button has the focus): Space play/stop · A, B the two versions · R reference (if "
               "shown) · ←/→ seek 1 s · Enter next. In the answers: arrow keys move, Space chooses.",
}


class ListeningType(Protocol):
    """What a test type decides: the listener's trials, the valid answers, and what the page shows."""

    name: str

    def plan(self, test: Any, seed: int) -> list[PlannedTrial]:
        """The listener's trials (training first), seeded."""

    def check(self, ratings: Any, rated: dict[str, str], trial: int) -> str | None:
        """Why these answers to `trial` do not fit it (None: they do); `rated` is key -> condition of the trial."""

    def player(self, test: Any) -> dict[str, Any]:
        """What player.js needs to draw this type's trial (merged into its texts)."""


def type_name(spec: dict[str, Any]) -> str:
    """The type a `test.yaml` names (MUSHRA when it names none).

    Raises:
        ValueError: an unknown type.
    """
    name = str(spec.get("type") or MUSHRA)
    if name not in TYPES:
        raise ValueError(f"unknown test type {name!r}: choose one of {', '.join(TYPES)}")
    return name


def type_of(test: Any) -> ListeningType:
    """The type object of a loaded test."""
    name = type_name(test.spec)
    if name == "acr":
        from codecbench.listening_test.types.acr import AcrType

        return AcrType(test.spec.get("acr") or {})
    if name == "ab":
        from codecbench.listening_test.types.ab import AbType

        return AbType(test.spec.get("ab") or {})
    from codecbench.listening_test.types.mushra import MushraType

    return MushraType()

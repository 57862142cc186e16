"""What every listening-test type shares: the type names, the choice pages' labels and the `ListeningType` protocol."""

from __future__ import annotations

from typing import Any, Protocol

from codecbench.listening_test.plan import PlannedTrial

MUSHRA = "mushra"
TYPES = ("mushra", "acr", "dcr", "ccr", "ab")
# what the ACR, DCR, CCR and A/B trial pages say beside MUSHRA's labels (a test's own texts override them)
CHOICE_LABELS = {
    "recording": "▶ Recording",
    "prefer": "{label} is better",
    "no_preference": "No preference",
    "choice_progress": "Listen to every recording long enough ({heard} of {total} done), then answer.",
    "choice_complete": "Listened and answered: press Next.",
    "acr_keys": "Keys (when no button has the focus): Space play/stop · A the recording · ←/→ seek 1 s · "
                "Enter next. In the answers: arrow keys move, Space chooses.",
    "dcr_keys": "Keys (when no button has the focus): Space play/stop · R the Reference · A the recording · ←/→ "
                "seek 1 s · Enter next. In the answers: arrow keys move, Space chooses.",
    "ccr_keys": "Keys (when no button has the focus): Space play/stop · A, B the two versions · ←/→ seek 1 s · "
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

"""The listener's event log: what player.js reports with a submission, the play time per stimulus in it, and
the listening rule that play time must meet.

player.js logs, with `t` in ms on the page's clock since the screen appeared:
`ready` (all audio decoded), `play` / `switch` / `stop` (key: the stimulus that starts or stops),
`seek` / `loop` (position, loop bounds), `rate_move` / `rate` (key, rating), `next`; the level screen
logs `play` / `stop` of its sample and `tone` / `answer` (side -1 or 1). Unknown kinds are kept as sent
(cut to `MAX_KIND` characters): the log records what the page said, rules read the kinds they know.

The page's clock is the listener's, so the server checks it against its own (`physical_bounds`): a trial's
log may not hold more than `MAX_TRIAL_EVENTS` events, times must be non-negative, in order and within the
wall-clock time since the server first served the trial's audio (plus `PAGE_LEAD_MS` for the moments
between the page appearing and its first audio request), and the play time it claims must fit in that
wall-clock time; and `ListeningRule.wall_ms` is the least wall-clock time in which a trial's stimuli can
be heard one after the other as the rule asks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

MAX_KIND = 32
DEFAULT_MIN_PLAY_S = 3.0
MAX_DETAIL = 64
MAX_TRIAL_EVENTS = 5000  # per submission; a slider logs at most one move per 100 ms, so 8 min of dragging
PAGE_LEAD_MS = 30000.0  # page clock starts when the screen appears, before its audio is requested
CLOCK_TOLERANCE_MS = 250.0  # page and server clocks, and the server's millisecond time stamps
STARTS_PLAYBACK = frozenset({"play", "switch"})  # the event's key is now the stimulus being heard
ENDS_PLAYBACK = frozenset({"stop", "next"})  # nothing is heard from now on


@dataclass(frozen=True)
class Event:
    """One logged event.

    Args:
        t_ms: when, on the page's clock (None if the page sent no number).
        kind: what happened.
        key: the stimulus it concerns, if it is one of the screen's keys ('' otherwise).
        value: a number that goes with it (position, rating, side), or None.
        detail: free text (e.g. a loop's end), at most `MAX_DETAIL` characters.
    """

    t_ms: float | None
    kind: str
    key: str
    value: float | None
    detail: str


@dataclass(frozen=True)
class Playback:
    """How a stimulus was heard, from the event log.

    Args:
        starts: how often playback started on it (`play`, or `switch` to it).
        play_ms: the time it was the stimulus being heard, on the page's clock.
    """

    starts: int
    play_ms: float


def parse_events(raw: list[Any], keys: set[str]) -> list[Event]:
    """The events of a submission; entries that are not objects are dropped, keys not on the screen blanked."""
    return [Event(_number(e.get("t")), str(e.get("kind", ""))[:MAX_KIND], _known(e.get("key"), keys),
                  _number(e.get("value")), str(e.get("detail", ""))[:MAX_DETAIL])
            for e in raw if isinstance(e, dict)]


def playback(events: list[Event]) -> dict[str, Playback]:
    """Per stimulus key: playback starts and time heard. A stretch runs from a `play`/`switch` to the next
    `play`/`switch`/`stop`/`next` (or the last event); a stretch without usable times counts as 0 ms."""
    starts: dict[str, int] = {}
    heard: dict[str, float] = {}
    current, since = "", None
    for event in events:
        if event.kind not in STARTS_PLAYBACK | ENDS_PLAYBACK:
            continue
        if current:
            heard[current] = heard.get(current, 0.0) + _span(since, event.t_ms)
        current, since = "", None
        if event.kind in STARTS_PLAYBACK and event.key:
            current, since = event.key, event.t_ms
            starts[current] = starts.get(current, 0) + 1
    if current and events:
        heard[current] = heard.get(current, 0.0) + _span(since, events[-1].t_ms)
    return {key: Playback(count, heard.get(key, 0.0)) for key, count in starts.items()}


def physical_bounds(events: list[Event], elapsed_ms: float) -> str | None:
    """Why a trial's event log cannot be true, given that its audio was first served `elapsed_ms` ago on the
    server's clock (None: it can be). Playback stretches never overlap, so the play time a log claims
    cannot exceed the wall-clock time its audio has been on the page."""
    times = [e.t_ms for e in events if e.t_ms is not None]
    if len(events) > MAX_TRIAL_EVENTS:
        return f"the play log holds {len(events)} events, more than {MAX_TRIAL_EVENTS}"
    if any(t < 0 for t in times):
        return "the play log has negative times"
    if any(later < earlier for earlier, later in zip(times, times[1:])):
        return "the play log's times go backwards"
    if times and max(times) > elapsed_ms + PAGE_LEAD_MS:
        return (f"the play log has an event at {max(times) / 1000:.1f} s, but this trial's audio was first "
                f"served {elapsed_ms / 1000:.1f} s ago")
    claimed = sum(p.play_ms for p in playback(events).values())
    if claimed > elapsed_ms + CLOCK_TOLERANCE_MS:
        return (f"the play log claims {claimed / 1000:.1f} s of listening, but this trial's audio was first "
                f"served {elapsed_ms / 1000:.1f} s ago")
    return None


def _span(start: float | None, end: float | None) -> float:
    return max(0.0, end - start) if start is not None and end is not None else 0.0


def _known(key: Any, keys: set[str]) -> str:
    return key if isinstance(key, str) and key in keys else ""


def _number(value: Any) -> float | None:
    """A finite number, or None (booleans, text, NaN, infinities and integers beyond float range)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        value = float(value)
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class ListeningRule:
    """Every stimulus of a trial, the open reference included, must have been heard for at least
    `min_play_s`, or for its whole length where it is shorter, before the trial is accepted. player.js
    counts play time from the events it logs exactly as `playback` does, so the page unlocks Next when the
    server will accept the trial. 0 turns the rule off.

    Args:
        min_play_s: seconds each stimulus must be heard.
    """

    min_play_s: float = DEFAULT_MIN_PLAY_S

    def __post_init__(self) -> None:
        if not 0 <= self.min_play_s <= 60:
            raise ValueError(f"--min-play must be from 0 to 60 s, not {self.min_play_s}")

    def required_ms(self, duration_s: float) -> float:
        """The play time asked of a stimulus of `duration_s` seconds, in ms."""
        return 1000.0 * min(self.min_play_s, duration_s)

    def wall_ms(self, duration_s: float, stimuli: int) -> float:
        """The least wall-clock time, in ms, in which `stimuli` stimuli of `duration_s` seconds can each be
        heard as the rule asks: one after the other (the player plays one at a time)."""
        return stimuli * self.required_ms(duration_s)

    def short(self, heard: dict[str, Playback], keys: set[str], required_ms: float) -> list[str]:
        """The keys heard for less than `required_ms`."""
        return sorted(k for k in keys if (heard[k].play_ms if k in heard else 0.0) < required_ms)

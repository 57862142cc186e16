"""Channel conditions as the CLI names them: `clean`, `loss@5%`, `loss@0.1:burst=3`, `loss@trace=FILE`, `ber@1e-4`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codecbench.rows import CLEAN

KINDS = ("clean", "loss", "ber")


@dataclass(frozen=True)
class ChannelCondition:
    """One channel condition.

    Args:
        name: the spelling the rows carry in `channel` (as given on the command line).
        kind: `clean`, `loss` (packets lost) or `ber` (payload bits flipped).
        rate: the loss probability per packet, or the bit-error rate.
        burst: mean burst length in packets (Gilbert–Elliott); 1 for independent (Bernoulli) losses.
        trace: one 0/1 per packet (1: lost), read from a file, repeated when the stream is longer.
    """

    name: str
    kind: str
    rate: float = 0.0
    burst: float = 1.0
    trace: tuple[int, ...] | None = None

    @property
    def is_clean(self) -> bool:
        return self.kind == CLEAN


def _rate(text: str, what: str) -> float:
    """`5%` -> 0.05, `0.05` -> 0.05, `1e-4` -> 0.0001."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a number (e.g. 5% or 0.05)") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{what} {text!r} is outside [0, 1]")
    return value


def read_trace(path: str | Path) -> tuple[int, ...]:
    """A loss trace: whitespace- or comma-separated 0/1 values, one per packet (1: lost), as the PLC
    Challenge's traces are written.

    Raises:
        ValueError: the file is unreadable, empty, or holds anything but 0 and 1.
    """
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"loss trace {path}: unreadable ({type(exc).__name__}: {exc})") from None
    tokens = text.replace(",", " ").split()
    if not tokens or any(t not in {"0", "1"} for t in tokens):
        raise ValueError(f"loss trace {path}: expected one 0 or 1 per packet, separated by spaces or newlines")
    return tuple(int(t) for t in tokens)


def parse_channel(text: str) -> ChannelCondition:
    """Parse one condition.

    Raises:
        ValueError: an unknown kind, a rate outside [0, 1], a burst length below 1, an unreadable trace.
    """
    name = text.strip()
    if name == CLEAN:
        return ChannelCondition(CLEAN, CLEAN)
    kind, at, rest = name.partition("@")
    if kind not in KINDS[1:] or not at or not rest:
        raise ValueError(f"channel {name!r}: expected clean, loss@RATE[:burst=N], loss@trace=FILE or ber@RATE")
    point, _, option_text = rest.partition(":")
    options = dict(item.partition("=")[::2] for item in option_text.split(":") if item)
    if kind == "ber":
        if options:
            raise ValueError(f"channel {name!r}: ber takes no options")
        return ChannelCondition(name, "ber", _rate(point, "bit-error rate"))
    if point.startswith("trace="):
        if options:
            raise ValueError(f"channel {name!r}: a trace takes no options")
        trace = read_trace(point.removeprefix("trace="))
        return ChannelCondition(name, "loss", float(np.mean(trace)), trace=trace)
    unknown = sorted(set(options) - {"burst"})
    if unknown:
        raise ValueError(f"channel {name!r}: unknown option {unknown}; loss takes burst=N")
    burst = 1.0
    if "burst" in options:
        try:
            burst = float(options["burst"])
        except ValueError:
            raise ValueError(f"channel {name!r}: burst {options['burst']!r} is not a number") from None
        if burst < 1:
            raise ValueError(f"channel {name!r}: the mean burst length must be at least 1 packet")
    rate = _rate(point, "loss rate")
    if burst > 1 and rate >= 1:
        raise ValueError(f"channel {name!r}: bursty loss needs a rate below 100%")
    return ChannelCondition(name, "loss", rate, burst)


def parse_channels(texts: list[str]) -> list[ChannelCondition]:
    """Conditions from comma-separated lists (`clean,loss@5%,loss@10%:burst=3`); duplicates are dropped.

    Raises:
        ValueError: a bad condition (see `parse_channel`).
    """
    names = [item.strip() for text in texts for item in text.split(",") if item.strip()]
    return [parse_channel(n) for n in dict.fromkeys(names)]

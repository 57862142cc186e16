"""Trapping trials (after ITU-T P.808 §6.3.8): stimuli whose spoken instruction sets the expected rating, and the
screening rule that scores them.

A trap stimulus is one more stimulus in a test trial: it starts with a spoken sentence ("This is an attention
check. Please rate this one zero." or "... one hundred."; `data/traps/`, CC0, made with eSpeak NG) at the
item's loudness, then, after a short pause, continues as the item's reference. Its condition is `trap@0` or
`trap@100`: the expected rating is in the name, so a ratings file from any source can be scored. Which trials
hold one is chosen when the test is built; a listener meets them at random positions of their own random
item order, under a random label. A script that ranks stimuli by their likeness to the open reference cannot
tell a zero-trap from a hundred-trap: only a listener who heard the sentence can.

The rule (`failed_traps`): a trap is passed when rated within `TOLERANCE` of what it asks (0-10 for
`trap@0`, 90-100 for `trap@100`); a listener who fails any trap they rated is excluded (P.808 rejects a
session with a failed trapping question).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

PREFIX = "trap@"
EXPECTED = (0, 100)
TOLERANCE = 10
GAP_S = 0.4  # silence between the sentence and the reference's continuation
MIN_AFTER_S = 1.0  # reference heard after the sentence, at least
FADE_S = 0.01
DATA = Path(__file__).parent / "data" / "traps"
SHIPPED_RATES = (48000, 24000, 16000)


def condition(expected: int) -> str:
    """The condition name of a trap asking for `expected`."""
    if expected not in EXPECTED:
        raise ValueError(f"a trap asks for one of {list(EXPECTED)}, not {expected}")
    return f"{PREFIX}{expected}"


def is_trap(name: object) -> bool:
    return isinstance(name, str) and name.startswith(PREFIX)


def expected_rating(name: str) -> int:
    """What a trap condition asks for (`trap@0` -> 0)."""
    value = int(name[len(PREFIX):])
    if value not in EXPECTED:
        raise ValueError(f"unknown trap condition {name!r}; traps are {[condition(e) for e in EXPECTED]}")
    return value


def passed(name: str, rating: float) -> bool:
    return abs(float(rating) - expected_rating(name)) <= TOLERANCE


def instruction(expected: int, rate: int) -> np.ndarray:
    """The spoken sentence of a trap [T] at `rate` (a shipped file, else the 48 kHz one resampled with soxr)."""
    import soundfile as sf

    shipped = rate if rate in SHIPPED_RATES else SHIPPED_RATES[0]
    speech, found = sf.read(str(DATA / f"trap{expected}_{shipped // 1000}k.flac"), dtype="float64")
    if found != rate:
        import soxr

        speech = soxr.resample(speech, found, rate, "VHQ")
    return speech


def min_length_s(rate: int) -> float:
    """The shortest excerpt that can hold a trap: the longer sentence, the pause and `MIN_AFTER_S`."""
    return max(len(instruction(e, rate)) for e in EXPECTED) / rate + GAP_S + MIN_AFTER_S


def trap_signal(reference: np.ndarray, rate: int, expected: int) -> np.ndarray:
    """A trap stimulus [T, C] of the reference excerpt's shape: the sentence at the excerpt's loudness, a pause,
    then the reference from there on (10 ms raised-cosine fade-in).

    Raises:
        ValueError: the excerpt is shorter than `min_length_s`.
    """
    from codecbench.listening_test import stimuli as st

    speech = instruction(expected, rate)
    start = len(speech) + round(GAP_S * rate)
    if len(reference) < start + round(MIN_AFTER_S * rate):
        raise ValueError(f"a {len(reference) / rate:.2f} s excerpt cannot hold a trap (at least "
                         f"{min_length_s(rate):.2f} s)")
    gain = 10 ** ((st.integrated_loudness(reference, rate) - st.integrated_loudness(speech[:, None], rate)) / 20)
    out = reference.astype(np.float64).copy()
    out[:start] = 0.0
    out[:len(speech)] = (speech * gain)[:, None]
    fade = round(FADE_S * rate)
    out[start:start + fade] *= (0.5 - 0.5 * np.cos(np.pi * np.arange(fade) / fade))[:, None]
    return out


def assign(lengths_s: dict[str, float], count: int, rate: int, seed: int) -> dict[str, int]:
    """Which test items get a trap, and what each asks: `count` items long enough (`min_length_s`), chosen with
    `seed`, asking for 0 and 100 in turn (shuffled, so a listener cannot tell from the order).

    Raises:
        ValueError: fewer long-enough items than `count`.
    """
    if count < 0:
        raise ValueError(f"--traps must be >= 0, not {count}")
    needed = min_length_s(rate)
    usable = sorted(item for item, length in lengths_s.items() if length >= needed)
    if len(usable) < count:
        raise ValueError(f"{count} traps need {count} test items of at least {needed:.2f} s; {len(usable)} are that "
                         "long: lower --traps or use longer excerpts")
    rng = np.random.default_rng(seed)
    chosen = [usable[i] for i in rng.permutation(len(usable))[:count]]
    asks = [EXPECTED[i % len(EXPECTED)] for i in range(count)]
    return {item: asks[i] for item, i in zip(chosen, rng.permutation(count))}


def trap_scores(ratings: pd.DataFrame) -> pd.DataFrame:
    """Per listener with trap ratings in the test phase: `traps` rated and `traps_passed`."""
    traps = ratings[(ratings["phase"] == "test") & ratings["condition"].map(is_trap).astype(bool)]
    ok = [passed(c, r) for c, r in zip(traps["condition"], traps["rating"])]
    scores = traps.assign(ok=ok).groupby("listener")["ok"].agg(traps="size", traps_passed="sum")
    return scores.astype(int).reset_index()


def failed_traps(rated: int, passed_count: int) -> str:
    """The rule: a listener who failed any trap they rated is excluded; returns the reason ('' if kept)."""
    failed = rated - passed_count
    return f"failed {failed} of {rated} trapping trials (a trap is passed within {TOLERANCE} of the rating it " \
           "asks for)" if failed else ""


def without_traps(ratings: pd.DataFrame) -> pd.DataFrame:
    """The ratings that measure the conditions: trap stimuli left out."""
    return ratings[~ratings["condition"].map(is_trap).astype(bool)]  # bool also when empty (else: a column key)

"""Which packets a channel loses: independent (Bernoulli), bursty (Gilbert–Elliott) or a recorded trace.

Every pattern is drawn from one `numpy.random.Generator` in packet order, so two streams drawn from the same
seed lose the same packets wherever both have them (a longer stream only adds packets at its end).
"""

from __future__ import annotations

import numpy as np

from codecbench.channel.conditions import ChannelCondition


def bernoulli(count: int, rate: float, rng: np.random.Generator) -> np.ndarray:
    """`count` independent losses of probability `rate` (bool [count], True: lost)."""
    return rng.random(count) < rate


def gilbert_elliott(count: int, rate: float, burst: float, rng: np.random.Generator) -> np.ndarray:
    """A two-state Markov chain (good: delivered, bad: lost) whose stationary loss rate is `rate` and whose
    mean loss burst is `burst` packets: P(bad -> good) = 1 / burst, P(good -> bad) = rate / (burst (1 - rate)),
    the first state drawn from the stationary distribution (the Gilbert model, a Gilbert–Elliott channel that
    loses every packet in the bad state and none in the good one).

    Raises:
        ValueError: the two parameters need P(good -> bad) > 1 (a rate too high for the burst length).
    """
    if rate <= 0:
        return np.zeros(count, bool)
    leave_bad = 1.0 / burst
    enter_bad = rate * leave_bad / (1.0 - rate)
    if enter_bad > 1:
        raise ValueError(f"a loss rate of {rate:g} cannot have a mean burst of only {burst:g} packets")
    draws = rng.random(count + 1)
    lost = np.empty(count, bool)
    bad = draws[0] < rate
    for k in range(count):
        lost[k] = bad
        bad = draws[k + 1] >= leave_bad if bad else draws[k + 1] < enter_bad
    return lost


def loss_pattern(condition: ChannelCondition, count: int, rng: np.random.Generator) -> np.ndarray:
    """The lost packets (bool [count]) of a `loss` condition; a trace shorter than the stream repeats."""
    if condition.trace is not None:
        return np.resize(np.asarray(condition.trace, bool), count)
    if condition.burst > 1:
        return gilbert_elliott(count, condition.rate, condition.burst, rng)
    return bernoulli(count, condition.rate, rng)


def bit_errors(bits: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """`bits` (uint8 0/1) with each one flipped independently with probability `rate`."""
    return bits ^ (rng.random(bits.size) < rate).astype(np.uint8)

"""Bootstrap confidence intervals of a mean over utterances (scipy.stats.bootstrap, fixed seed)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

BOOTSTRAP_SEED = 0
BOOTSTRAP_RESAMPLES = 9999
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    """A mean, its confidence interval and the number of finite values it used."""

    mean: float
    low: float
    high: float
    n: int

    def contains(self, value: float) -> bool:
        return bool(np.isfinite(self.low) and self.low <= value <= self.high)


def bootstrap_mean(values: np.ndarray, seed: int = BOOTSTRAP_SEED, n_resamples: int = BOOTSTRAP_RESAMPLES,
                   confidence: float = CONFIDENCE) -> Estimate:
    """Mean of the finite values and its BCa bootstrap confidence interval.

    Every call draws from `numpy.random.default_rng(seed)`, so a value and its CI are reproducible
    from the stored rows alone. Fewer than 2 values: CI is NaN. Identical values: the CI is that value.
    Where BCa is degenerate (values equal up to rounding), the percentile interval is used.

    Args:
        values: per-utterance values [N] (NaN = failed, ignored).
        seed: bootstrap seed.
        n_resamples: bootstrap resamples.
        confidence: confidence level.
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    mean = float(x.mean())
    if x.size < 2:
        return Estimate(mean, float("nan"), float("nan"), 1)
    if np.all(x == x[0]):
        return Estimate(mean, mean, mean, int(x.size))
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a degenerate BCa (all values nearly equal) falls back below
            result = stats.bootstrap((x,), np.mean, n_resamples=n_resamples, confidence_level=confidence,
                                     method=method, rng=np.random.default_rng(seed))
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
        if np.isfinite(low) and np.isfinite(high):
            break
    return Estimate(mean, low, high, int(x.size))

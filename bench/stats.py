"""The one home of confidence intervals, per-condition summaries, paired tests, the Holm correction, and the
correlations and bootstrap percentile intervals of metric validity (`codecbench.validity`).

Every CI codecbench prints comes from `mean_ci`: `summary.csv` of a run, `codecbench report` and
`codecbench mushra analyze` agree to the last digit. The default is the Student-t interval of the mean
(`DEFAULT_METHOD`, see README "Confidence intervals" for why); a seeded BCa bootstrap is available where a
caller asks for it (`codecbench report --ci bca`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

CONFIDENCE = 0.95
STUDENT_T = "t"
BCA = "bca"
METHODS = (STUDENT_T, BCA)
DEFAULT_METHOD = STUDENT_T
BOOTSTRAP_SEED = 0
BOOTSTRAP_RESAMPLES = 9999


@dataclass(frozen=True)
class Estimate:
    """A mean, its confidence interval and the number of finite values it used."""

    mean: float
    low: float
    high: float
    n: int

    def contains(self, value: float) -> bool:
        return bool(np.isfinite(self.low) and self.low <= value <= self.high)


@dataclass(frozen=True)
class CiMethod:
    """How a confidence interval of a mean is computed.

    Args:
        name: `t` (Student-t) or `bca` (BCa bootstrap).
        seed: bootstrap seed (`bca` only).
        resamples: bootstrap resamples (`bca` only).
    """

    name: str = DEFAULT_METHOD
    seed: int = BOOTSTRAP_SEED
    resamples: int = BOOTSTRAP_RESAMPLES

    def __post_init__(self) -> None:
        if self.name not in METHODS:
            raise ValueError(f"unknown CI method {self.name!r}; select one of {list(METHODS)}")
        if self.name == BCA and self.resamples < 100:
            raise ValueError(f"a bootstrap needs at least 100 resamples, not {self.resamples}")

    @property
    def label(self) -> str:
        """What the interval is, in words, for tables and footnotes."""
        if self.name == STUDENT_T:
            return f"Student-t {CONFIDENCE:.0%}"
        return f"BCa bootstrap {CONFIDENCE:.0%} ({self.resamples} resamples, seed {self.seed})"


DEFAULT = CiMethod()


def mean_ci(values: Sequence[float] | np.ndarray, method: CiMethod = DEFAULT) -> Estimate:
    """Mean of the finite values and its 95 % confidence interval.

    Fewer than 2 finite values: the CI is NaN. Identical values: the CI is that value. A BCa bootstrap
    draws from `numpy.random.default_rng(method.seed)` on every call (reproducible from the stored values
    alone) and falls back to the percentile interval where BCa is degenerate.

    Args:
        values: per-utterance (or per-rating) values [N]; NaN marks a failure and is left out.
        method: the interval (default Student-t).
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
    if method.name == STUDENT_T:
        low, high = stats.t.interval(CONFIDENCE, x.size - 1, loc=mean, scale=stats.sem(x))
        return Estimate(mean, float(low), float(high), int(x.size))
    for kind in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a degenerate BCa (values nearly equal) falls back below
            result = stats.bootstrap((x,), np.mean, n_resamples=method.resamples, confidence_level=CONFIDENCE,
                                     method=kind, rng=np.random.default_rng(method.seed))
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
        if np.isfinite(low) and np.isfinite(high):
            break
    return Estimate(mean, low, high, int(x.size))


def summarize(table: pd.DataFrame, by: list[str], columns: list[str], method: CiMethod = DEFAULT) -> pd.DataFrame:
    """Per group of `by` (in order of first appearance): `<column>_mean`, `<column>_ci95_low`,
    `<column>_ci95_high` and `<column>_n` (finite values) of every column (NaN where a column is absent)."""
    records = []
    for keys, group in table.groupby(by, sort=False):
        record = dict(zip(by, keys if isinstance(keys, tuple) else (keys,)))
        for column in columns:
            est = mean_ci(group[column].to_numpy(dtype=float) if column in group else np.array([]), method)
            record.update({f"{column}_mean": est.mean, f"{column}_ci95_low": est.low,
                           f"{column}_ci95_high": est.high, f"{column}_n": est.n})
        records.append(record)
    return pd.DataFrame(records)


@dataclass(frozen=True)
class PairedTest:
    """A two-sided Wilcoxon signed-rank test of paired values (NaN statistic and p with a note when untestable)."""

    statistic: float
    p_value: float
    note: str = ""


def wilcoxon_paired(a: np.ndarray, b: np.ndarray) -> PairedTest:
    """Wilcoxon signed-rank test of `a - b` (scipy); all differences zero: p = 1."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if diff.size == 0:
        return PairedTest(float("nan"), float("nan"), "no pair scored by both")
    if np.all(diff == 0):
        return PairedTest(0.0, 1.0, "identical scores")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.wilcoxon(a, b)
    return PairedTest(float(result.statistic), float(result.pvalue))


def holm(p_values: Sequence[float], alpha: float = 0.05) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (statsmodels), in the order given."""
    from statsmodels.stats.multitest import multipletests

    return multipletests(list(p_values), alpha=alpha, method="holm")[1]


CORRELATIONS = ("pearson", "spearman", "kendall")


def correlation(x: np.ndarray, y: np.ndarray, kind: str) -> float:
    """Pearson, Spearman or Kendall (tau-b) correlation of paired values (NaN with fewer than 3 pairs or a
    constant side).

    Raises:
        ValueError: an unknown kind.
    """
    if kind not in CORRELATIONS:
        raise ValueError(f"unknown correlation {kind!r}; select one of {list(CORRELATIONS)}")
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.size < 3 or np.all(x == x[0]) or np.all(y == y[0]):
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "pearson":
            return float(stats.pearsonr(x, y).statistic)
        if kind == "spearman":
            return float(stats.spearmanr(x, y).statistic)
        return float(stats.kendalltau(x, y).statistic)


def percentile_interval(samples: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """The central 95 % percentile interval of bootstrap replicates (NaN replicates left out; NaN if fewer
    than half of them are finite)."""
    x = np.asarray(samples, dtype=float)
    finite = x[np.isfinite(x)]
    if finite.size < max(1, x.size // 2):
        return float("nan"), float("nan")
    tail = 100 * (1 - CONFIDENCE) / 2
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)

"""The metric contract: a small class with metadata and one `compute(reference, degraded)`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from codecbench.resources import Availability, Dependencies

MIN_STD = 1e-6  # below this a signal is constant (DC): nothing to score
REFERENCE_PREFIX = "ref_"  # columns of a non-intrusive metric's score of the reference itself


class MetricError(ValueError):
    """The metric cannot score this input; the message is the reason stored in the row."""


def check_input(x: np.ndarray, what: str, min_samples: int = 1) -> None:
    """Raise MetricError for an empty, too short, non-finite, silent or constant signal."""
    if x.size < max(min_samples, 1):
        raise MetricError(f"{what} too short: {x.size} samples, need {min_samples}")
    if not np.all(np.isfinite(x)):
        raise MetricError(f"{what} contains NaN or Inf")
    if float(np.max(np.abs(x))) < 1e-4:
        raise MetricError(f"{what} is silent")
    if float(np.std(x)) < MIN_STD:
        raise MetricError(f"{what} is constant (DC)")


class Metric(ABC):
    """Base class of all metrics; subclasses are registered under `codecbench.metrics`.

    `compute` receives signals already checked (`check_input`), resampled to `sample_rate` (and, for
    intrusive metrics, delay-aligned and of equal length) and returns one float per column. It raises MetricError when it
    cannot score; it never returns a placeholder value. A non-intrusive metric with `scores_reference` is also
    computed on the reference (once per distinct reference and process) into `ref_<column>`. A metric with
    `needs_transcript` is also given the utterance's corpus transcript (`compute(..., transcript=text or None)`).
    """

    name: ClassVar[str]
    columns: ClassVar[tuple[str, ...]] = ()  # output columns; default: (name,)
    sample_rate: ClassVar[int]
    intrusive: ClassVar[bool] = True
    higher_is_better: ClassVar[bool] = True
    value_range: ClassVar[tuple[float, float]] = (float("-inf"), float("inf"))
    # Intrusive metrics: the interval compute(x, x) falls in for any speech x, i.e. the metric's best value up to
    # numerical precision (tests/test_metric_contract.py). None for non-intrusive ones: there f(x) as decoded
    # must equal the reference's own score.
    best_range: ClassVar[tuple[float, float] | None] = None
    min_duration_s: ClassVar[float] = 0.0
    default: ClassVar[bool] = True  # part of the default metric set (built-in metrics only: plugins are opt-in)
    requires: ClassVar[Dependencies] = Dependencies()  # its packages: availability, pip hint, recorded versions
    scores_reference: ClassVar[bool] = False  # non-intrusive only: also report the reference's own score
    needs_transcript: ClassVar[bool] = False  # compute() takes the corpus transcript as `transcript`
    notes: ClassVar[str] = ""  # a caveat shown by `codecbench metrics` (e.g. meaningless for generative decoders)

    @classmethod
    def computed_columns(cls) -> tuple[str, ...]:
        """The columns `compute` returns."""
        return cls.columns or (cls.name,)

    @classmethod
    def output_columns(cls) -> tuple[str, ...]:
        """The columns a row gets: the computed ones, then `ref_<column>` if the reference is scored too."""
        columns = cls.computed_columns()
        if cls.scores_reference:
            columns += tuple(REFERENCE_PREFIX + c for c in columns)
        return columns

    @classmethod
    def availability(cls) -> Availability:
        """Whether the metric can run here: its `requires` import. Override to check weights too."""
        return cls.requires.check()

    def check_duration(self, degraded: np.ndarray) -> None:
        """Raise MetricError if the signal (at `sample_rate`) is shorter than the metric needs."""
        if len(degraded) < self.min_duration_s * self.sample_rate:
            raise MetricError(
                f"signal too short: {len(degraded) / self.sample_rate:.3f} s, need {self.min_duration_s} s")

    @abstractmethod
    def compute(self, reference: np.ndarray | None, degraded: np.ndarray) -> dict[str, float]:
        """Score `degraded` [T] (against `reference` [T] if intrusive) at `sample_rate`."""

"""Score one (reference, degraded) pair with many metrics: resample once per rate, never hide a failure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from codecbench.audio import resample
from codecbench.metrics.base import REFERENCE_PREFIX, Metric, MetricError, check_input
from codecbench.metrics.cache import SignalCache
from codecbench.metrics.registry import get_metric_class, metric_availability

_instances: dict[str, Metric] = {}  # per process: metrics may hold models (ONNX sessions) worth reusing
_reference_scores: SignalCache[dict[str, float] | str] = SignalCache()  # per process: values or the reason


def metric_instance(name: str) -> Metric:
    """A cached instance of the metric registered as `name`."""
    if name not in _instances:
        _instances[name] = get_metric_class(name)()
    return _instances[name]


@dataclass
class Scores:
    """Metric values by column (NaN where a metric failed) and the reasons of failures by metric."""

    values: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


class _Pair:
    """A (reference, degraded) pair, checked once and resampled once per rate."""

    def __init__(self, reference: np.ndarray, degraded: np.ndarray, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.signals = {"reference": {sample_rate: reference}, "degraded": {sample_rate: degraded}}
        self.problems: dict[str, str] = {}
        for what, signal in (("degraded", degraded), ("reference", reference)):
            try:
                check_input(signal, f"{what} signal")
            except MetricError as exc:
                self.problems[what] = str(exc)

    def decoded_is_reference(self) -> bool:
        """Whether the decoded signal is the reference itself, sample for sample (a `reference` codec, a
        listening test's hidden reference)."""
        reference, degraded = self.signals["reference"][self.sample_rate], self.signals["degraded"][self.sample_rate]
        return reference.shape == degraded.shape and bool(np.array_equal(reference, degraded))

    def at(self, what: str, rate: int) -> np.ndarray:
        by_rate = self.signals[what]
        if rate not in by_rate:
            by_rate[rate] = resample(by_rate[self.sample_rate], self.sample_rate, rate)
        return by_rate[rate]


def _attempt(scores: Scores, key: str, columns: tuple[str, ...], score: Callable[[], dict[str, float]]) -> None:
    """Run `score` into `scores`; a failure, or values for other columns than `columns`, becomes NaN in
    `columns` and a reason under `key`."""
    try:
        values = score()
        if set(values) != set(columns):
            raise MetricError(f"returned the columns {sorted(values)}, but declares {list(columns)}")
        bad = [c for c, v in values.items() if not np.isfinite(v)]
        if bad:
            raise MetricError(f"returned a non-finite value for {bad}")
        scores.values.update(values)
    except MetricError as exc:
        scores.errors[key] = str(exc)
    except Exception as exc:  # a library failure is a failed score, reported, never a crash
        scores.errors[key] = f"{type(exc).__name__}: {exc}"
    if key in scores.errors:
        scores.values.update({column: float("nan") for column in columns})


def _score(name: str, pair: _Pair, what: str, transcript: str | None) -> dict[str, float]:
    """One metric on the `what` signal of `pair` (and, if intrusive, against its reference)."""
    metric = metric_instance(name)
    reason = pair.problems.get(what) or (pair.problems.get("reference") if metric.intrusive else None)
    if reason:
        raise MetricError(reason)
    signal = pair.at(what, metric.sample_rate)
    metric.check_duration(signal)
    reference = pair.at("reference", metric.sample_rate) if metric.intrusive else None
    if metric.needs_transcript:
        return metric.compute(reference, signal, transcript=transcript)
    return metric.compute(reference, signal)


def _score_reference(name: str, pair: _Pair, transcript: str | None) -> dict[str, float]:
    """A non-intrusive metric's score of the reference itself, computed once per distinct reference."""
    def compute() -> dict[str, float] | str:
        attempt = Scores()
        _attempt(attempt, name, get_metric_class(name).computed_columns(),
                 lambda: _score(name, pair, "reference", transcript))
        return attempt.errors.get(name) or attempt.values

    tag = f"{name}|{transcript}" if get_metric_class(name).needs_transcript else name  # same samples, other text
    cached = _reference_scores.get(pair.at("reference", pair.sample_rate), pair.sample_rate, compute, tag=tag)
    if isinstance(cached, str):
        raise MetricError(cached)
    return {REFERENCE_PREFIX + column: value for column, value in cached.items()}


def _unprefixed(values: dict[str, float]) -> dict[str, float]:
    return {column.removeprefix(REFERENCE_PREFIX): value for column, value in values.items()}


def evaluate(
    metric_names: list[str], reference: np.ndarray, degraded: np.ndarray, sample_rate: int,
    unaligned: tuple[np.ndarray, np.ndarray] | None = None, transcript: str | None = None,
) -> Scores:
    """Compute every metric on an aligned pair of equal-length mono signals at `sample_rate`.

    Each signal is resampled once per rate a metric needs. A metric that cannot score, or is unavailable,
    yields NaN in each of its columns and its reason in `errors` (`ref_<metric>` for the reference side).

    Args:
        metric_names: registered metric names.
        reference: [T] the aligned reference.
        degraded: [T] the aligned degraded signal.
        sample_rate: their rate in Hz.
        unaligned: the (reference, degraded) pair before alignment, each [T'] at `sample_rate`, which
            non-intrusive metrics score (they need no alignment); default: the aligned pair.
        transcript: the utterance's corpus transcript, for metrics that need one (None: there is none).
    """
    scores = Scores()
    aligned = _Pair(reference, degraded, sample_rate)
    whole = _Pair(*unaligned, sample_rate) if unaligned is not None else aligned
    for name in metric_names:
        cls = get_metric_class(name)
        status = metric_availability(name)
        if not status.available:
            scores.errors[name] = f"unavailable: {status.reason}"
            scores.values.update({column: float("nan") for column in cls.output_columns()})
            continue
        pair = aligned if cls.intrusive else whole
        if cls.scores_reference and pair.decoded_is_reference():  # the same samples: the reference's cached score
            _attempt(scores, name, cls.computed_columns(),
                     lambda: _unprefixed(_score_reference(name, pair, transcript)))
        else:
            _attempt(scores, name, cls.computed_columns(), lambda: _score(name, pair, "degraded", transcript))
        if cls.scores_reference:
            ref_columns = tuple(REFERENCE_PREFIX + c for c in cls.computed_columns())
            _attempt(scores, REFERENCE_PREFIX + name, ref_columns, lambda: _score_reference(name, pair, transcript))
    return scores

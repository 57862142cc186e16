"""Score one (reference, degraded) pair with many metrics: resample once per rate, never hide a failure."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from codecbench.audio import resample
from codecbench.metrics.base import Metric, MetricError, check_input
from codecbench.metrics.registry import get_metric_class

_instances: dict[str, Metric] = {}  # per process: metrics may hold models (ONNX sessions) worth reusing


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

    def error_text(self) -> str:
        return "; ".join(f"{name}: {reason}" for name, reason in self.errors.items())


def _input_problems(reference: np.ndarray, degraded: np.ndarray) -> dict[str, str]:
    """Reasons why the reference or the degraded signal cannot be scored at all (checked once)."""
    problems = {}
    for what, signal in (("degraded", degraded), ("reference", reference)):
        try:
            check_input(signal, f"{what} signal")
        except MetricError as exc:
            problems[what] = str(exc)
    return problems


def evaluate(
    metric_names: list[str], reference: np.ndarray, degraded: np.ndarray, sample_rate: int
) -> Scores:
    """Compute every metric on an aligned pair of equal-length mono signals at `sample_rate`.

    Each signal is resampled once per rate a metric needs. A metric that cannot score yields NaN in
    each of its columns and its reason in `errors`.
    """
    scores = Scores()
    problems = _input_problems(reference, degraded)
    by_rate: dict[int, tuple[np.ndarray, np.ndarray]] = {sample_rate: (reference, degraded)}
    for name in metric_names:
        metric = metric_instance(name)
        try:
            reason = problems.get("degraded") or (problems.get("reference") if metric.intrusive else None)
            if reason:
                raise MetricError(reason)
            if metric.sample_rate not in by_rate:
                by_rate[metric.sample_rate] = (resample(reference, sample_rate, metric.sample_rate),
                                               resample(degraded, sample_rate, metric.sample_rate))
            ref, deg = by_rate[metric.sample_rate]
            metric.check_duration(deg)
            values = metric.compute(ref if metric.intrusive else None, deg)
            bad = [c for c, v in values.items() if not np.isfinite(v)]
            if bad:
                raise MetricError(f"returned a non-finite value for {bad}")
            scores.values.update(values)
        except MetricError as exc:
            scores.errors[name] = str(exc)
        except Exception as exc:  # a library failure is a failed score, reported, never a crash
            scores.errors[name] = f"{type(exc).__name__}: {exc}"
        if name in scores.errors:
            scores.values.update({column: float("nan") for column in metric.output_columns()})
    return scores

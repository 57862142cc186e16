"""Objective metrics: registry, contract and evaluation."""

from codecbench.metrics.base import Metric, MetricError
from codecbench.metrics.evaluate import Scores, evaluate
from codecbench.metrics.registry import (
    default_metric_names,
    get_metric_class,
    in_default_set,
    metric_availability,
    metric_columns,
    metric_metadata,
    metric_names,
    metric_packages,
    parse_metric_list,
)
from codecbench.resources import Dependencies  # the plugin API: a metric's `requires`

__all__ = [
    "Dependencies",
    "Metric",
    "MetricError",
    "Scores",
    "default_metric_names",
    "evaluate",
    "get_metric_class",
    "in_default_set",
    "metric_availability",
    "metric_columns",
    "metric_metadata",
    "metric_names",
    "metric_packages",
    "parse_metric_list",
]

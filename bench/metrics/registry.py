"""The metric registry: the entry-point group `codecbench.metrics`."""

from __future__ import annotations

from codecbench.metrics.base import Metric
from codecbench.plugins import PluginRegistry

METRICS: PluginRegistry[Metric] = PluginRegistry("codecbench.metrics", Metric, "metric")


def metric_names() -> list[str]:
    """Names of all registered metrics."""
    return METRICS.names()


def get_metric_class(name: str) -> type[Metric]:
    """Import and return the metric class registered as `name`."""
    return METRICS.get(name)


def default_metric_names() -> list[str]:
    """The metrics `run` computes when `--metrics` is not given."""
    return [n for n in metric_names() if get_metric_class(n).default]


def parse_metric_list(texts: list[str] | None) -> list[str]:
    """`['pesq_wb,stoi', 'estoi']` -> validated names; None -> the default set."""
    if not texts:
        return default_metric_names()
    names = [n.strip().lower() for t in texts for n in t.split(",") if n.strip()]
    for name in names:
        get_metric_class(name)  # raises ValueError listing the registered names
    return list(dict.fromkeys(names))

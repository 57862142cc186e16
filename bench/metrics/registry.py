"""The metric registry: the entry-point group `codecbench.metrics`."""

from __future__ import annotations

from functools import lru_cache

from codecbench.codecs.base import Availability
from codecbench.metrics.base import Metric
from codecbench.plugins import PluginRegistry

METRICS: PluginRegistry[Metric] = PluginRegistry("codecbench.metrics", Metric, "metric")


def metric_names() -> list[str]:
    """Names of all registered metrics."""
    return METRICS.names()


def get_metric_class(name: str) -> type[Metric]:
    """Import and return the metric class registered as `name`."""
    return METRICS.get(name)


@lru_cache(maxsize=None)
def metric_availability(name: str) -> Availability:
    """Whether the metric's libraries and weights are here (checked once per process)."""
    return get_metric_class(name).availability()


def default_metric_names() -> list[str]:
    """The metrics `run` computes when `--metrics` is not given: the default ones that are available."""
    return [n for n in metric_names() if get_metric_class(n).default and metric_availability(n).available]


def parse_metric_list(texts: list[str] | None) -> list[str]:
    """`['pesq_wb,stoi', 'estoi']` -> validated names; None -> the default set.

    An unavailable metric named explicitly is kept: every row gets NaN and `unavailable: <reason>`.
    """
    if not texts:
        return default_metric_names()
    names = [n.strip().lower() for t in texts for n in t.split(",") if n.strip()]
    for name in names:
        get_metric_class(name)  # raises ValueError listing the registered names
    return list(dict.fromkeys(names))

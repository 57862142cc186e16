"""The metric registry: the entry-point group `codecbench.metrics`."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from codecbench.metrics.base import Metric
from codecbench.plugins import PluginRegistry
from codecbench.resources import Availability

METRICS: PluginRegistry[Metric] = PluginRegistry("codecbench.metrics", Metric, "metric")


def metric_names() -> list[str]:
    """Names of all registered metrics."""
    return METRICS.names()


def get_metric_class(name: str) -> type[Metric]:
    """Import and return the metric class registered as `name`."""
    return METRICS.get(name)


def metric_packages(names: Iterable[str]) -> list[str]:
    """The distributions the named metrics declare (`Metric.requires`), whose versions a run records.

    Raises:
        ValueError: an unknown name.
    """
    return [dist for name in dict.fromkeys(names) for dist in get_metric_class(name).requires.distributions()]


@lru_cache(maxsize=None)
def metric_availability(name: str) -> Availability:
    """Whether the metric's libraries and weights are here (checked once per process)."""
    return get_metric_class(name).availability()


def in_default_set(name: str) -> bool:
    """Whether a metric belongs to the default set: a built-in one declaring `default = True`. Third-party
    metrics are opt-in (`--metrics NAME`), so installing a plugin never changes what a default run computes."""
    return METRICS.is_builtin(name) and get_metric_class(name).default


def default_metric_names() -> list[str]:
    """The metrics `run` computes when `--metrics` is not given: the default ones that are available."""
    return [n for n in metric_names() if in_default_set(n) and metric_availability(n).available]


def metric_columns(names: list[str]) -> list[str]:
    """The row columns of `names`, in order."""
    return [column for name in names for column in get_metric_class(name).output_columns()]


def metric_metadata(name: str) -> dict[str, Any]:
    """What a run records of a metric (so a report can read the run without the plugin installed)."""
    cls = get_metric_class(name)
    return {"columns": list(cls.output_columns()), "higher_is_better": bool(cls.higher_is_better),
            "value_range": [float(v) for v in cls.value_range], "sample_rate": cls.sample_rate,
            "best_range": None if cls.best_range is None else [float(v) for v in cls.best_range],
            "intrusive": bool(cls.intrusive), "scores_reference": bool(cls.scores_reference),
            "notes": cls.notes,  # e.g. how warpq applies its VAD
            "class": f"{cls.__module__}.{cls.__qualname__}", "distribution": METRICS.distribution(name),
            "version": METRICS.distribution_version(name)}


def metric_of_column(column: str) -> str:
    """The metric whose output columns include `column` (e.g. `dnsmos_ovrl` -> `dnsmos`).

    Raises:
        ValueError: no metric, or more than one, has that column.
    """
    owners = [n for n in metric_names() if column in get_metric_class(n).output_columns()]
    if len(owners) == 1:
        return owners[0]
    if owners:
        raise ValueError(f"column {column!r} belongs to several metrics ({', '.join(owners)}): name one")
    raise ValueError(f"unknown metric {column!r}; registered: {', '.join(metric_names())}")


def parse_metric_list(texts: list[str] | None) -> list[str]:
    """`['pesq_wb,stoi', 'estoi']` -> validated names; None -> the default set.

    An output column names its metric (`dnsmos_ovrl` -> `dnsmos`, said on stderr). An unavailable metric
    named explicitly is kept: every row gets NaN and `unavailable: <reason>`.
    """
    if not texts:
        return default_metric_names()
    names = []
    for name in (n.strip().lower() for t in texts for n in t.split(",") if n.strip()):
        if name not in metric_names():
            metric = metric_of_column(name)
            print(f"--metrics: {name} is a column of {metric}; computing {metric}", file=sys.stderr)
            name = metric
        names.append(name)
    return list(dict.fromkeys(names))

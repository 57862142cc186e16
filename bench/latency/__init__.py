"""Latency and complexity benchmark: per-stage timings, RTF, delay, parameters, FLOPs and memory."""

from codecbench.latency.measure import SETTINGS, LatencyResult, expand_specs, measure_latency
from codecbench.latency.rows import COLUMNS, LatencyRow

__all__ = ["COLUMNS", "SETTINGS", "LatencyResult", "LatencyRow", "expand_specs", "measure_latency"]

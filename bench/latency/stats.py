"""Summary statistics of repeated timings."""

from __future__ import annotations

import numpy as np


def summarize_ms(samples: list[float]) -> dict[str, float]:
    """p50, p95, p99 (linear interpolation), mean, std (ddof 1) and min of timings in milliseconds.

    Raises:
        ValueError: no samples.
    """
    if not samples:
        raise ValueError("no timings to summarize")
    values = np.asarray(samples, dtype=float)
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    std = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
    return {"p50_ms": float(p50), "p95_ms": float(p95), "p99_ms": float(p99), "mean_ms": float(values.mean()),
            "std_ms": std, "min_ms": float(values.min())}

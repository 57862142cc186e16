"""Per-codec summary of a run: n, errors, mean and t-based 95 % CI of measured kbps and every metric."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


def mean_ci(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval of the finite values (NaN where fewer than 2)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(values.mean())
    if values.size < 2:
        return mean, float("nan"), float("nan")
    sem = stats.sem(values)
    if sem == 0:
        return mean, mean, mean
    low, high = stats.t.interval(confidence, values.size - 1, loc=mean, scale=sem)
    return mean, float(low), float(high)


def summarize(rows: pd.DataFrame, metric_columns: list[str], skipped: dict[str, str] | None = None,
              order: list[str] | None = None) -> pd.DataFrame:
    """One row per codec spec (in `order`, else of first appearance), plus a row per skipped spec.

    Columns: spec, codec, n, n_errors, then `<col>_mean`, `<col>_ci95_low`, `<col>_ci95_high` for
    measured_kbps and each metric column, then `skipped` (the reason a spec did not run). Specs decoded
    with several seeds (rows with `<col>_seed_std`) also get `<col>_seed_std_mean` right after
    `<col>_ci95_high`: the mean within-utterance standard deviation over seeds, next to the
    between-utterance CI.
    """
    records = []
    groups = dict(list(rows.groupby("spec", sort=False)))
    ordered = [s for s in order or [] if s in groups] + [s for s in groups if s not in (order or [])]
    for spec in ordered:
        group = groups[spec]
        record = {"spec": spec, "codec": group["codec"].iloc[0], "n": len(group),
                  "n_errors": int((group["error"].fillna("") != "").sum())}
        for column in ["measured_kbps", *metric_columns]:
            mean, low, high = mean_ci(group[column].to_numpy() if column in group else np.array([]))
            record.update({f"{column}_mean": mean, f"{column}_ci95_low": low, f"{column}_ci95_high": high})
            spread = group[f"{column}_seed_std"] if f"{column}_seed_std" in group else None
            if spread is not None and spread.notna().any():
                record[f"{column}_seed_std_mean"] = float(spread.mean())
        record["skipped"] = ""
        records.append(record)
    for spec, reason in (skipped or {}).items():
        records.append({"spec": spec, "codec": spec.split("@")[0].split(":")[0], "n": 0, "n_errors": 0,
                        "skipped": reason})
    return pd.DataFrame(records)


def format_summary(summary: pd.DataFrame, metric_columns: list[str]) -> str:
    """A compact text table: mean ± half-width of the 95 % CI per column, and `(seed sd X)` where the
    spec was decoded with several seeds (X: the mean within-utterance standard deviation)."""
    lines = []
    for _, record in summary.iterrows():
        line = {"spec": record["spec"], "n": int(record["n"]), "errors": int(record["n_errors"])}
        if record.get("skipped"):
            line["note"] = record["skipped"]
        else:
            for column in ["measured_kbps", *metric_columns]:
                mean, low, high = (record.get(f"{column}_{s}") for s in ("mean", "ci95_low", "ci95_high"))
                half = (high - low) / 2 if np.isfinite(low) and np.isfinite(high) else float("nan")
                line[column] = "nan" if not np.isfinite(mean) else (
                    f"{mean:.3f}" if not np.isfinite(half) else f"{mean:.3f} ±{half:.3f}")
                spread = record.get(f"{column}_seed_std_mean")
                if spread is not None and np.isfinite(spread):
                    line[column] += f" (seed sd {spread:.3f})"
        lines.append(line)
    return pd.DataFrame(lines).fillna("").to_string(index=False)

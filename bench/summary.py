"""Per-codec summary of a run (`summary.csv`): n, errors, mean and 95 % CI of measured kbps and every metric.

Metric columns appear in `metric_order`: the primary metrics first (`PRIMARY_COLUMNS`: PESQ-WB, STOI, ESTOI,
ViSQOL, DNSMOS), then the others in the run's order, then the reference input's own scores (`ref_*`). The
printed summary, `summary.csv` and `codecbench report` all use this one order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from codecbench.codecs.spec import parse_spec
from codecbench.metrics.base import REFERENCE_PREFIX
from codecbench.rows import CONDITIONS, SEED_STD_SUFFIX
from codecbench.stats import DEFAULT, CiMethod
from codecbench.stats import summarize as summarize_groups

ROBUSTNESS_COLUMNS = ("pesq_wb", "plcmos", "stoi")  # a robustness analysis's default: PLCMOS was made for packet loss
PRIMARY_COLUMNS = ("pesq_wb", "stoi", "estoi", "visqol", "dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak", "dnsmos_p808")


def metric_order(columns: list[str]) -> list[str]:
    """`columns` in reporting order: `PRIMARY_COLUMNS` first (in that order), then the rest as given, then the
    reference input's own columns (`ref_*`)."""
    primary = [c for c in PRIMARY_COLUMNS if c in columns]
    reference = [c for c in columns if c.startswith(REFERENCE_PREFIX)]
    return primary + [c for c in columns if c not in primary and c not in reference] + reference


def robustness_metrics(columns: list[str]) -> list[str]:
    """The metrics a robustness analysis shows unless asked for others: of `ROBUSTNESS_COLUMNS`, those in
    `columns` (PESQ-WB where none is)."""
    return [c for c in ROBUSTNESS_COLUMNS if c in columns] or [ROBUSTNESS_COLUMNS[0]]


def summarize(rows: pd.DataFrame, metric_columns: list[str], skipped: dict[str, str] | None = None,
              order: list[str] | None = None, method: CiMethod = DEFAULT,
              conditions: dict[str, list[str]] | None = None) -> pd.DataFrame:
    """One row per codec spec (in `order`, else of first appearance) and condition (`conditions`: condition
    column -> its values in the order the run lists them), plus a row per skipped spec.

    Columns: spec, the condition columns, codec, n, n_errors, then `<col>_mean`, `<col>_ci95_low`, `<col>_ci95_high`
    for measured_kbps and each metric column in `metric_order` (`codecbench.stats.mean_ci`), then `ci` (the interval's method,
    e.g. `Student-t 95%`) and `skipped` (the reason a spec did not run). Specs decoded with several seeds
    (rows with `<col>_seed_std`) also get `<col>_seed_std_mean` right after `<col>_ci95_high`: the mean
    within-utterance standard deviation over seeds, next to the between-utterance CI.
    """
    columns = ["measured_kbps", *metric_order(metric_columns)]
    by = ["spec", *(conditions or [])]
    estimates = summarize_groups(rows, by, columns, method).set_index(by) if len(rows) else None
    groups = {k if isinstance(k, tuple) else (k,): g for k, g in rows.groupby(by, sort=False)}
    ranks = [{value: i for i, value in enumerate(values)} for values in [order or [], *(conditions or {}).values()]]
    ordered = sorted(groups, key=lambda key: [rank.get(v, len(rank)) for rank, v in zip(ranks, key)])
    records = []
    for key in ordered:
        group = groups[key]
        record = {**dict(zip(by, key)), "codec": group["codec"].iloc[0], "n": len(group),
                  "n_errors": int((group["error"].fillna("") != "").sum())}
        for column in columns:
            for suffix in ("mean", "ci95_low", "ci95_high"):
                record[f"{column}_{suffix}"] = estimates.loc[key if len(by) > 1 else key[0], f"{column}_{suffix}"]
            spread = group.get(column + SEED_STD_SUFFIX)
            if spread is not None and spread.notna().any():
                record[f"{column}{SEED_STD_SUFFIX}_mean"] = float(spread.mean())
        record.update(ci=method.label, skipped="")
        records.append(record)
    for spec, reason in (skipped or {}).items():
        records.append({"spec": spec, "codec": parse_spec(spec).name, "n": 0, "n_errors": 0,
                        "ci": method.label, "skipped": reason})
    return pd.DataFrame(records)


def format_summary(summary: pd.DataFrame, metric_columns: list[str]) -> str:
    """A compact text table: mean ± half-width of the 95 % CI per column, and `(seed sd X)` where the
    spec was decoded with several seeds (X: the mean within-utterance standard deviation)."""
    lines = []
    for _, record in summary.iterrows():
        line = {"spec": record["spec"], **{c: record[c] for c in CONDITIONS if c in record},
                "n": int(record["n"]), "errors": int(record["n_errors"])}
        if record.get("skipped"):
            line["note"] = record["skipped"]
        else:
            for column in ["measured_kbps", *metric_order(metric_columns)]:
                mean, low, high = (record.get(f"{column}_{s}") for s in ("mean", "ci95_low", "ci95_high"))
                half = (high - low) / 2 if np.isfinite(low) and np.isfinite(high) else float("nan")
                line[column] = "nan" if not np.isfinite(mean) else (
                    f"{mean:.3f}" if not np.isfinite(half) else f"{mean:.3f} ±{half:.3f}")
                spread = record.get(f"{column}{SEED_STD_SUFFIX}_mean")
                if spread is not None and np.isfinite(spread):
                    line[column] += f" (seed sd {spread:.3f})"
        lines.append(line)
    return pd.DataFrame(lines).fillna("").to_string(index=False)

"""Figures of a report (matplotlib's object API with the Agg canvas: no pyplot state), each as PNG and PDF."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

from codecbench.report.document import FigureRef
from codecbench.report.sources import MetricColumn
from codecbench.report.tables import RATE, curves

JITTER_SEED = 0
KBPS_TICKS = tuple(1.5 * 2.0 ** k for k in range(-4, 9))  # 0.09375 ... 384: 0.75, 1.5, 3, 6, 12, 24 kbps ...
OVERVIEW_PANELS = 4  # the rate–quality overview shows the first metrics of the report's order


def _save(fig: Figure, stem: Path, caption: str) -> FigureRef:
    stem.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    png, pdf = stem.with_suffix(".png"), stem.with_suffix(".pdf")
    fig.savefig(png, dpi=150)
    fig.savefig(pdf, metadata={"CreationDate": None})  # byte-stable PDFs for the same results
    return FigureRef(png, pdf, caption)


def _colors(families: list[str]) -> dict[str, str]:
    palette = [f"C{i}" for i in range(10)]
    return {f: palette[i % len(palette)] for i, f in enumerate(dict.fromkeys(families))}


def _errors(mean: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return np.nan_to_num(np.vstack([mean - low, high - mean]), nan=0.0).clip(min=0)


def _label(metric: MetricColumn) -> str:
    return f"{metric.column} ({'higher' if metric.higher_is_better else 'lower'} is better)"


def kbps_text(value: float) -> str:
    """A rate as a reader writes it: 1.5, 3, 6, 12 (never 2×10⁰)."""
    return f"{value:g}"


def kbps_axis(ax: Axes, rates: np.ndarray) -> None:
    """A log-scale kbps x axis with ticks at 1.5·2^k kbps (…, 0.75, 1.5, 3, 6, 12, …) labelled in plain numbers;
    where fewer than two of them fall in the data's range, the data's own rates are the ticks."""
    rates = np.asarray(rates, dtype=float)
    rates = rates[np.isfinite(rates) & (rates > 0)]
    ax.set_xscale("log")
    if rates.size:
        low, high = rates.min() / 1.15, rates.max() * 1.15
        ticks = [t for t in KBPS_TICKS if low <= t <= high]
        ax.set_xlim(low, high)
        ax.xaxis.set_major_locator(FixedLocator(ticks if len(ticks) >= 2 else sorted(set(np.round(rates, 2)))))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: kbps_text(value)))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("measured bitrate (kbps, log scale)")


def _draw_rate_quality(ax: Axes, table: pd.DataFrame, metric: MetricColumn, pareto: set[str]) -> None:
    """Measured kbps vs metric mean on `ax`, one line per codec family (under one set of conditions: `curves`),
    95 % CI bars; Pareto specs ringed."""
    family_of = pd.Series(curves(table), index=table.index)  # a Series: a one-row list would read as column keys
    colors = _colors(list(family_of))
    for family, part in table.groupby(family_of, sort=False):
        part = part[np.isfinite(part[f"{metric.column}_mean"])].sort_values(f"{RATE}_mean")
        mean = part[f"{metric.column}_mean"].to_numpy()
        ax.errorbar(part[f"{RATE}_mean"], mean, yerr=_errors(mean, part[f"{metric.column}_ci95_low"].to_numpy(),
                                                             part[f"{metric.column}_ci95_high"].to_numpy()),
                    marker="o", capsize=3, color=colors[family], label=family)
        for _, r in part.iterrows():
            ax.annotate(r["spec"], (r[f"{RATE}_mean"], r[f"{metric.column}_mean"]), textcoords="offset points",
                        xytext=(4, 4), fontsize=7)
            if r["spec"] in pareto:
                ax.scatter([r[f"{RATE}_mean"]], [r[f"{metric.column}_mean"]], s=160, facecolors="none",
                           edgecolors="black", linewidths=1)
    kbps_axis(ax, table[f"{RATE}_mean"].to_numpy())
    ax.set_ylabel(_label(metric))
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)


def rate_quality(table: pd.DataFrame, metric: MetricColumn, pareto: set[str], out: Path) -> FigureRef:
    """Measured kbps vs metric mean, one line per codec family, 95 % CI bars; Pareto specs ringed."""
    fig = Figure(figsize=(6.4, 4.4))
    _draw_rate_quality(fig.add_subplot(), table, metric, pareto)
    return _save(fig, out / f"rate_quality_{metric.column}",
                 f"Rate–quality: {metric.column} mean with 95 % CI vs measured kbps; ringed: Pareto front")


def rate_quality_overview(table: pd.DataFrame, metrics: list[MetricColumn], pareto: dict[str, set[str]],
                          out: Path) -> FigureRef:
    """The rate–quality panels of the first `OVERVIEW_PANELS` metrics side by side (the report's first figure)."""
    shown = metrics[:OVERVIEW_PANELS]
    columns = min(len(shown), 2)
    rows = -(-len(shown) // columns)
    fig = Figure(figsize=(6.4 * columns, 4.4 * rows))
    for i, metric in enumerate(shown, start=1):
        _draw_rate_quality(fig.add_subplot(rows, columns, i), table, metric, pareto[metric.column])
    return _save(fig, out / "rate_quality", "Rate–quality of " + ", ".join(m.column for m in shown)
                 + ": mean with 95 % CI vs measured kbps; ringed: Pareto front")


def distributions(rows: pd.DataFrame, specs: list[str], metric: MetricColumn, out: Path) -> FigureRef:
    """Per-utterance values per spec: box plot with every utterance as a jittered point."""
    values = [rows.loc[rows["spec"] == s, metric.column].dropna().to_numpy(dtype=float) for s in specs]
    fig = Figure(figsize=(max(4.8, 0.9 * len(specs) + 1.5), 4.2))
    ax = fig.add_subplot()
    ax.boxplot(values, showfliers=False)
    rng = np.random.default_rng(JITTER_SEED)
    for i, v in enumerate(values, start=1):
        ax.scatter(i + rng.uniform(-0.15, 0.15, v.size), v, s=8, alpha=0.6, color="C0")
    ax.set_xticks(range(1, len(specs) + 1), specs, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(_label(metric))
    ax.grid(True, axis="y", alpha=0.3)
    return _save(fig, out / f"distribution_{metric.column}", f"Per-utterance {metric.column} per codec spec")


def latency_quality(points: pd.DataFrame, metric: MetricColumn, out: Path) -> FigureRef:
    """End-to-end p50 latency vs metric mean (95 % CI) per spec; `points` from the report's latency join."""
    fig = Figure(figsize=(6.4, 4.4))
    ax = fig.add_subplot()
    colors = _colors(list(points["codec"]))
    for _, r in points.iterrows():
        err = _errors(np.array([r["mean"]]), np.array([r["low"]]), np.array([r["high"]]))
        ax.errorbar([r["p50_ms"]], [r["mean"]], yerr=err, marker="o", capsize=3, color=colors[r["codec"]])
        ax.annotate(r["spec"], (r["p50_ms"], r["mean"]), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xlabel("end-to-end latency p50 (ms)")
    ax.set_ylabel(_label(metric))
    ax.grid(True, alpha=0.3)
    return _save(fig, out / f"latency_quality_{metric.column}", f"Latency vs quality: {metric.column}")


def mushra_means(summary: pd.DataFrame, out: Path) -> FigureRef:
    """MUSHRA mean ± 95 % CI per condition."""
    fig = Figure(figsize=(max(4.8, 0.8 * len(summary) + 1.5), 4.2))
    ax = fig.add_subplot()
    mean = summary["mean"].to_numpy(dtype=float)
    x = np.arange(len(summary))
    ax.bar(x, mean, yerr=_errors(mean, summary["ci95_low"].to_numpy(dtype=float),
                                 summary["ci95_high"].to_numpy(dtype=float)), capsize=4, color="C0", alpha=0.8)
    ax.set_xticks(x, list(summary["condition"]), rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 100)
    ax.set_ylabel("MUSHRA score (0–100)")
    ax.grid(True, axis="y", alpha=0.3)
    return _save(fig, out / "mushra_means", "MUSHRA mean ± 95 % CI per condition")


def correlation_scatter(joined: pd.DataFrame, metric: MetricColumn, title: str, out: Path) -> FigureRef:
    """Objective metric mean vs MUSHRA mean per condition; `joined` has condition, mushra, objective."""
    fig = Figure(figsize=(5.2, 4.4))
    ax = fig.add_subplot()
    ax.scatter(joined["objective"], joined["mushra"], color="C1")
    for _, r in joined.iterrows():
        ax.annotate(r["condition"], (r["objective"], r["mushra"]), textcoords="offset points", xytext=(4, 4),
                    fontsize=7)
    ax.set_xlabel(_label(metric))
    ax.set_ylabel("MUSHRA mean")
    ax.set_title(title, fontsize=9)
    ax.grid(True, alpha=0.3)
    return _save(fig, out / f"mushra_vs_{metric.column}", f"MUSHRA mean vs {metric.column} per condition")


def seed_spread(rows: pd.DataFrame, specs: list[str], metric: MetricColumn, column: str, out: Path) -> FigureRef:
    """Per-utterance standard deviation of a metric over decoder seeds, per spec."""
    present = [s for s in specs if rows.loc[rows["spec"] == s, column].notna().any()]
    values = [rows.loc[rows["spec"] == s, column].dropna().to_numpy(dtype=float) for s in present]
    fig = Figure(figsize=(max(4.8, 0.9 * len(present) + 1.5), 4.2))
    ax = fig.add_subplot()
    ax.boxplot(values, showfliers=True)
    ax.set_xticks(range(1, len(present) + 1), present, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(f"std of {metric.column} over seeds")
    ax.grid(True, axis="y", alpha=0.3)
    return _save(fig, out / f"seed_spread_{metric.column}",
                 f"Seed spread: per-utterance std of {metric.column} over decoder seeds")

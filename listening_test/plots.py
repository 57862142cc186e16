"""MUSHRA plots (matplotlib): box + strip per condition and per item, mean with 95 % CI per condition."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

BANDS = (("Bad", 0), ("Poor", 20), ("Fair", 40), ("Good", 60), ("Excellent", 80))


def _scale(ax) -> None:
    """The 0-100 axis with the five BS.1534-3 quality bands."""
    ax.set_ylim(0, 100)
    ax.set_yticks([0, 20, 40, 60, 80, 100])
    for name, low in BANDS:
        ax.axhline(low, color="0.85", linewidth=0.8, zorder=0)
        ax.text(1.01, (low + 10) / 100, name, transform=ax.transAxes, va="center", fontsize=7, color="0.4")


def _box_strip(ax, test: pd.DataFrame, order: list[str], rng: np.random.Generator) -> None:
    present = [c for c in order if c in set(test["condition"])]
    data = [test.loc[test["condition"] == c, "rating"].to_numpy() for c in present]
    ax.boxplot(data, positions=range(len(present)), widths=0.6, showfliers=False)
    for x, values in enumerate(data):
        ax.scatter(x + rng.uniform(-0.18, 0.18, len(values)), values, s=8, alpha=0.5, color="tab:blue", zorder=3)
    ax.set_xticks(range(len(present)), present, rotation=35, ha="right", fontsize=8)
    _scale(ax)


def plot_all(test: pd.DataFrame, summary: pd.DataFrame, order: list[str], out: Path, excluded: int = 0) -> list[Path]:
    """Write `ratings_by_condition.png`, `ratings_by_item.png` and `mean_ci.png`; returns their paths.

    Titles give the listeners kept and excluded by screening; with no rating left each plot says so.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)  # jitter only
    who = f"{test['listener'].nunique()} listeners kept, {excluded} excluded"
    names = ("ratings_by_condition.png", "ratings_by_item.png", "mean_ci.png")
    if test.empty:
        paths = []
        for name in names:
            fig, ax = plt.subplots(figsize=(6, 3))
            ax.axis("off")
            ax.text(0.5, 0.5, f"No ratings to plot: {who}.\nSee excluded_listeners.csv, or use --no-screening.",
                    ha="center", va="center")
            paths.append(_save(fig, out / name))
        return paths
    paths = []

    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * len(order), 4.2))
    _box_strip(ax, test, order, rng)
    ax.set_ylabel("rating")
    ax.set_title(f"MUSHRA ratings: {who}, {test['item'].nunique()} items", fontsize=10)
    paths.append(_save(fig, out / names[0]))

    items = sorted(test["item"].unique())
    cols = min(4, len(items))
    rows = -(-len(items) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False, sharey=True)
    for ax, item in zip(axes.flat, items):
        _box_strip(ax, test[test["item"] == item], order, rng)
        ax.set_title(item, fontsize=9)
    for ax in list(axes.flat)[len(items):]:
        ax.set_visible(False)
    fig.suptitle(f"Ratings per item: {who}", fontsize=10)
    paths.append(_save(fig, out / names[1]))

    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * len(summary), 4.2))
    x = np.arange(len(summary))
    ax.bar(x, summary["mean"], color="tab:blue", alpha=0.7)
    errors = [summary["mean"] - summary["ci95_low"], summary["ci95_high"] - summary["mean"]]
    ax.errorbar(x, summary["mean"], yerr=errors, fmt="none", ecolor="black", capsize=4)
    ax.set_xticks(x, summary["condition"], rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("mean rating (95 % CI, within 0-100)")
    ax.set_title(f"Mean and 95 % CI: {who}", fontsize=10)
    _scale(ax)
    paths.append(_save(fig, out / names[2]))
    return paths


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path

"""Plots of a metric validity measurement: metric vs mean rating per stimulus (one colour per condition), and
the metrics' agreement with its 95 % CI."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from codecbench.stats import CORRELATIONS

if TYPE_CHECKING:  # the plots draw what `codecbench.validity` measured; it calls them (no import back)
    from codecbench.validity import Column, Validity


def _levels(validity: Validity) -> list[str]:
    """The levels measured (`codecbench.validity.LEVELS`), in the table's order."""
    return list(dict.fromkeys(validity.table["level"]))


def plot_scatter(validity: Validity, columns: list[Column], path: Path) -> None:
    """One panel per metric column: each stimulus's value against its mean rating (small dots) and each
    condition's means (large markers), one colour per condition; the title gives both levels' Spearman."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stimuli = validity.stimuli
    conditions = list(dict.fromkeys(stimuli["condition"]))
    colours = plt.get_cmap("tab10")
    ncols = min(4, len(columns))
    nrows = int(np.ceil(len(columns) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 3.2 * nrows), squeeze=False)
    table = validity.table.set_index(["metric", "level", "correlation"])
    for ax, column in zip(axes.flat, columns):
        for c, condition in enumerate(conditions):
            mine = stimuli[stimuli["condition"] == condition]
            colour = colours(c % 10)
            ax.scatter(mine[column.name], mine["mean_rating"], s=10, alpha=0.5, color=colour)
            ax.scatter(mine[column.name].mean(), mine["mean_rating"].mean(), s=70, color=colour, edgecolor="black",
                       label=condition)
        rho = [table.loc[(column.name, level, "spearman"), "agreement"] for level in _levels(validity)]
        ax.set_title(f"{column.name}: ρ cond {rho[0]:.2f}, stim {rho[1]:.2f}", fontsize=9)
        ax.set_xlabel(column.name + ("" if column.higher_is_better else " (lower is better)"), fontsize=8)
        ax.set_ylabel("mean rating", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(columns):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(conditions), 5), fontsize=8)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_ranking(validity: Validity, path: Path) -> None:
    """Each metric column's agreement (every correlation, both levels) with its 95 % bootstrap CI, metrics in
    ranking order."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order, levels = validity.ranking["metric"].tolist(), _levels(validity)
    fig, axes = plt.subplots(1, len(levels), figsize=(5.5 * len(levels), 0.45 * len(order) + 1.5), sharey=True)
    y = np.arange(len(order))[::-1]
    for ax, level in zip(axes, levels):
        for j, kind in enumerate(CORRELATIONS):
            rows = validity.table[(validity.table["level"] == level) & (validity.table["correlation"] == kind)]
            rows = rows.set_index("metric").reindex(order)
            offset = (j - 1) * 0.22
            ax.errorbar(rows["agreement"], y + offset, xerr=[rows["agreement"] - rows["ci95_low"],
                                                             rows["ci95_high"] - rows["agreement"]],
                        fmt="o", ms=4, capsize=2, label=kind)
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_xlim(-1.05, 1.05)
        ax.set_title(f"{level} level ({validity.items} items, {validity.listeners} listeners)", fontsize=10)
        ax.set_xlabel("agreement with listeners (95 % bootstrap CI)")
    axes[0].set_yticks(y, order)
    axes[-1].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

"""The report's robustness section for runs with several channel or input conditions: the tables, paired tests and
curves of `codecbench.robustness` (the one owner of those numbers, also behind `codecbench robustness`),
laid out as report blocks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from codecbench import robustness
from codecbench.report.document import Block, Cell, FigureRef, Grid, cells, fmt, fmt_p
from codecbench.report.sources import CODEC_SPEC, RunData
from codecbench.stats import DEFAULT, CiMethod


@dataclass
class Robustness:
    """What the section shows: `robustness.TABLE` and `robustness.PAIRED` rows, and its blocks."""

    table: pd.DataFrame
    paired: pd.DataFrame
    blocks: list[Block]
    appendix: list[Block]


def _curve_caption(path: Path) -> str:
    metric, _, axis = path.stem.partition("_vs_")
    against = "packet-loss rate (independent loss)" if axis == "loss" else f"SNR of {axis.removeprefix('snr_')} noise"
    return f"{metric} mean with 95 % CI against the {against}, per codec spec"


def _table_grid(block: pd.DataFrame, decimals: int, alpha: float, method: CiMethod) -> Grid:
    metric, column = block["metric"].iloc[0], block["condition_column"].iloc[0]
    conditions = list(dict.fromkeys(block["condition"]))
    rows = []
    for spec, part in block.groupby("spec", sort=False):
        by_condition = {r["condition"]: r for _, r in part.iterrows()}
        rows.append([Cell(spec)] + [
            Cell(robustness.cell_text(by_condition[c], decimals),
                 mark="*" if c in by_condition and by_condition[c]["drop_p"] < alpha else "")
            if c in by_condition else Cell("–") for c in conditions])
    notes = [f"Mean [{method.label} CI] of {metric} over utterances at each {column} condition (other condition "
             "columns held at clean); in parentheses the mean paired drop from clean (clean − condition; + : a rise) "
             f"over the utterances scored in both; *: Wilcoxon signed-rank p < {alpha:g} for that drop (uncorrected)."]
    return Grid(f"robustness-{metric}-{column}", f"Robustness of {metric} by {column}", ["spec", *conditions], rows,
                notes, align="l" + "r" * len(conditions))


def _paired_grid(block: pd.DataFrame, decimals: int, alpha: float) -> Grid:
    metric, column = block["metric"].iloc[0], block["condition_column"].iloc[0]
    rows = [cells(r["condition"], r["spec_a"], r["spec_b"], int(r["n"]), fmt(r["mean_difference"], decimals),
                  fmt_p(r["p"]))
            + [Cell(fmt_p(r["p_holm"]), bold=bool(np.isfinite(r["p_holm"]) and r["p_holm"] < alpha))]
            for _, r in block.iterrows()]
    return Grid(f"robustness-paired-{metric}-{column}",
                f"Paired tests between specs at each {column} condition: {metric}",
                ["condition", "spec a", "spec b", "n", "mean a − b", "p", "p Holm"], rows,
                [f"Wilcoxon signed-rank over the utterances both specs scored at the condition, Holm-corrected within "
                 f"the condition; bold: p Holm < {alpha:g}."], align="lllrrrr")


def robustness_section(run: RunData, figures: Path, alpha: float, method: CiMethod = DEFAULT) -> Robustness | None:
    """The robustness tables, paired tests and curves of the report's metrics over every condition column that holds
    more than one condition (None: no such column).

    Rows go to `codecbench.robustness` with their codec spec (`codec_spec`), so its table compares each
    spec across its conditions."""
    rows = run.rows.assign(spec=run.rows[CODEC_SPEC]) if CODEC_SPEC in run.rows else run.rows
    columns = robustness.conditioned_rows(rows)
    if not columns or not run.metrics:
        return None
    table, paired = robustness.tables(rows, [m.column for m in run.metrics], columns, method)
    blocks: list[Block] = []
    appendix: list[Block] = []
    for (metric, _), block in table.groupby(["metric", "condition_column"], sort=False):
        blocks.append(_table_grid(block, run.metric(metric).decimals, alpha, method))
    for (metric, _), block in paired.groupby(["metric", "condition_column"], sort=False):
        appendix.append(_paired_grid(block, run.metric(metric).decimals, alpha))
    for png in robustness.plot_curves(table, figures, pdf=True):
        blocks.append(FigureRef(png, png.with_suffix(".pdf"), _curve_caption(png)))
    return Robustness(table, paired, blocks, appendix)

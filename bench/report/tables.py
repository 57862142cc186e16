"""The results table: per codec spec, measured kbps and each metric's mean with its 95 % CI (`codecbench.stats`,
the same interval as the run's `summary.csv`), and the reference input's own scores (`ref_*` columns) apart.

The interval's method is named in the table's `ci` column (as in `summary.csv`), and a table computed with another
interval than the default is written under another file name (`table_file`), so one name never holds two kinds
of interval."""

from __future__ import annotations

import numpy as np
import pandas as pd

from codecbench.report.document import Cell, Grid, fmt
from codecbench.report.sources import JOIN_KEY, REFERENCE_CODEC, MetricColumn, RunData
from codecbench.rows import CONDITIONS, system_labels
from codecbench.stats import DEFAULT, CiMethod, summarize

RATE = "measured_kbps"
NOT_DIFFERENT = "†"


def spec_table(run: RunData, method: CiMethod = DEFAULT, group_by: str | None = None) -> pd.DataFrame:
    """One row per spec (per spec and group value with `group_by`, e.g. `speaker` or `split`).

    Columns: [group_by,] spec, [channel, input: in a condition run, where `spec` is the system's label,] codec,
    n, n_errors, then `<col>_mean`, `<col>_ci95_low`, `<col>_ci95_high`
    and `<col>_n` (finite values) for measured_kbps and every ranked metric column, then `ci` (the interval's
    method, as in summary.csv).
    """
    if group_by is not None and group_by not in run.rows:
        raise ValueError(f"cannot group by {group_by!r}: not a column of the run (try split or speaker)")
    keys = [*([group_by] if group_by else []), "spec"]
    conditions = {c: (c, "first") for c in CONDITIONS if c in run.rows}
    counts = run.rows.groupby(keys, sort=False).agg(**conditions, codec=("codec", "first"), n=("spec", "size"),
                                                    n_errors=("error", lambda e: int((e != "").sum())))
    estimates = summarize(run.rows, keys, [RATE, *(m.column for m in run.metrics)], method)
    table = counts.reset_index().merge(estimates, on=keys, how="left")
    order = {spec: i for i, spec in enumerate(run.specs)}
    table["_order"] = table["spec"].map(order)
    table = table.sort_values([*keys[:-1], "_order"], kind="stable").drop(columns="_order")
    table["ci"] = method.label
    return table.reset_index(drop=True)


def curves(table: pd.DataFrame) -> list[str]:
    """The rate–quality curve of each row of a spec table: its codec family under its conditions (`opus`,
    `opus · loss@10%`), so a curve (and a BD comparison) never mixes conditions."""
    return system_labels(table.assign(spec=table["codec"]))


def condition_groups(table: pd.DataFrame) -> list[str]:
    """The conditions of each row of a spec table as one key (empty for clean rows and runs without conditions)."""
    return system_labels(table.assign(spec=""))


def table_file(stem: str, method: CiMethod) -> str:
    """`<stem>.csv` for the default interval (the one of summary.csv), `<stem>_<method>.csv` for another."""
    return f"{stem}.csv" if method == DEFAULT else f"{stem}_{method.name}.csv"


def reference_table(run: RunData, method: CiMethod = DEFAULT) -> pd.DataFrame:
    """The reference input's own scores (`ref_*` columns): mean and CI over the distinct inputs (each input once,
    however many specs scored it). Columns: n_inputs, then `<col>_mean`, `_ci95_low`, `_ci95_high`, `_n`, `ci`."""
    columns = [m.column for m in run.reference_columns]
    inputs = run.rows.drop_duplicates(JOIN_KEY).assign(_all="reference input")
    table = summarize(inputs, ["_all"], columns, method).drop(columns="_all")
    table.insert(0, "n_inputs", len(inputs))
    table["ci"] = method.label
    return table


def reference_grid(table: pd.DataFrame, run: RunData) -> Grid:
    row = [Cell(str(table["n_inputs"].iloc[0]))] + [
        Cell(estimate_text(*(table[f"{m.column}_{s}"].iloc[0] for s in ("mean", "ci95_low", "ci95_high")), m.decimals))
        for m in run.reference_columns]
    return Grid("reference-scores", "Scores of the reference input itself", ["inputs", *(
        f"{m.column} {m.arrow}" for m in run.reference_columns)], [row],
        [f"Mean [95 % CI, {table['ci'].iloc[0]}] over the distinct inputs. The same for every spec: context for "
         "the table above, never ranked or tested."])


def best_specs(table: pd.DataFrame, metric: MetricColumn) -> set[str]:
    """The specs with the best mean of `metric` (direction-aware; ties all count; `reference` excluded)."""
    candidates = table[(table["codec"] != REFERENCE_CODEC) & np.isfinite(table[f"{metric.column}_mean"])]
    if candidates.empty:
        return set()
    means = candidates[f"{metric.column}_mean"]
    best = means.max() if metric.higher_is_better else means.min()
    return set(candidates.loc[means == best, "spec"])


def estimate_text(mean: float, low: float, high: float, decimals: int) -> str:
    if not np.isfinite(low):
        return fmt(mean, decimals)
    return f"{fmt(mean, decimals)} [{fmt(low, decimals)}, {fmt(high, decimals)}]"


def spec_grid(table: pd.DataFrame, run: RunData, not_different: dict[str, set[str]] | None = None,
              group_by: str | None = None, alpha: float = 0.05, method: CiMethod = DEFAULT) -> Grid:
    """The table as a Grid: best value per metric column in bold; with `not_different` (metric column ->
    specs whose paired test against the best is not significant), those cells are marked †."""
    not_different = not_different or {}
    header = ([group_by] if group_by else []) + ["spec", "n", "errors", "kbps"] + [
        f"{m.column} {m.arrow}" for m in run.metrics]
    groups = table.groupby(group_by, sort=False) if group_by else [(None, table)]
    rows = []
    for _, part in groups:
        best = {m.column: best_specs(part, m) for m in run.metrics}
        for _, record in part.iterrows():
            row = ([Cell(str(record[group_by]))] if group_by else []) + [
                Cell(record["spec"]), Cell(str(record["n"])), Cell(str(record["n_errors"])),
                Cell(estimate_text(record[f"{RATE}_mean"], record[f"{RATE}_ci95_low"],
                                   record[f"{RATE}_ci95_high"], 2))]
            for m in run.metrics:
                text = estimate_text(record[f"{m.column}_mean"], record[f"{m.column}_ci95_low"],
                                     record[f"{m.column}_ci95_high"], m.decimals)
                if record[f"{m.column}_n"] != record["n"]:
                    text += f" (n = {record[f'{m.column}_n']})"
                mark = NOT_DIFFERENT if record["spec"] in not_different.get(m.column, set()) else ""
                row.append(Cell(text, bold=record["spec"] in best[m.column], mark=mark))
            rows.append(row)
    notes = [f"Mean [95 % CI] over utterances; CI: {method.label}. n: utterances coded (rows, errors "
             "included); (n = K): a mean over the K utterances the metric scored, where K differs from n. kbps is "
             "measured from the payload bytes. Bold: best mean per column (↑ higher / ↓ lower is better; the "
             "reference condition is not ranked)."]
    if any(not_different.values()):
        notes.append(f"{NOT_DIFFERENT}: not significantly different from the best of its column "
                     f"(paired Wilcoxon signed-rank over shared utterances, Holm-corrected, α = {alpha:g}).")
    if run.skipped:
        notes.append("Not run (unavailable): " + "; ".join(f"{s}: {r}" for s, r in run.skipped.items()))
    caption = "Results per codec spec" + (f" and {group_by}" if group_by else "")
    label = "results" + (f"-by-{group_by}" if group_by else "")
    return Grid(label, caption, header, rows, notes, align=("l" if group_by else "") + "lrrr" + "r" * len(run.metrics))

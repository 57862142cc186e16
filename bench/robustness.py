"""Robustness of a run with `channel` or `input` conditions, from its run folder alone: the score at each
condition with its 95 % CI and its paired drop from `clean`, paired tests between codecs at each condition
(Wilcoxon signed-rank over utterances, Holm-corrected within the condition), and quality-vs-loss-rate and
quality-vs-SNR curves per codec with CIs.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd

from codecbench.channel.conditions import parse_channel
from codecbench.channel.inputs import NOISES, parse_input
from codecbench.rows import CLEAN, CONDITIONS
from codecbench.rundir import RunDir
from codecbench.stats import DEFAULT, CiMethod, holm, mean_ci, wilcoxon_paired
from codecbench.summary import robustness_metrics

TABLE = ["metric", "condition_column", "condition", "spec", "n", "mean", "ci95_low", "ci95_high", "drop_from_clean",
         "drop_p"]
PAIRED = ["metric", "condition_column", "condition", "spec_a", "spec_b", "n", "mean_difference", "p", "p_holm"]


def condition_axis(column: str, name: str) -> tuple[str, float]:
    """The curve a condition belongs to and its x value: (`loss`, percent) for independent loss (clean: 0),
    (`<noise>`, SNR dB) for noise; (`other`, NaN) for the rest (bursts, traces, bit errors, reverberation)."""
    if column == "channel":
        condition = parse_channel(name) if not name.startswith("loss@trace=") else None
        if condition is not None and (condition.is_clean or (condition.kind == "loss" and condition.burst == 1)):
            return "loss", 100 * condition.rate
        return "other", float("nan")
    condition = parse_input(name)
    return (condition.kind, condition.value) if condition.kind in NOISES else ("other", float("nan"))


def _rank(column: str, name: str) -> tuple[int, str, float]:
    """Sort key of a condition: clean, then the curve families by their x value, then the rest by name."""
    family, x = condition_axis(column, name)
    return (0 if name == CLEAN else 1 if family != "other" else 2, family, x if np.isfinite(x) else 0.0)


def _scores(rows: pd.DataFrame, metric: str, column: str) -> pd.DataFrame:
    """utterance x (spec, condition) of one metric, other condition columns held at `clean`."""
    others = [c for c in CONDITIONS if c in rows and c != column]
    kept = rows[(rows[others] == CLEAN).all(axis=1)] if others else rows
    return kept.pivot_table(index="utterance", columns=["spec", column], values=metric, aggfunc="first")


def robustness_table(rows: pd.DataFrame, metric: str, column: str, method: CiMethod = DEFAULT) -> pd.DataFrame:
    """Per spec and condition: n, mean and 95 % CI (`method`), the mean paired drop from `clean` (clean - condition,
    over the utterances scored in both) and its Wilcoxon p."""
    scores = _scores(rows, metric, column)
    records = []
    for spec, condition in sorted(scores.columns, key=lambda key: (key[0], _rank(column, key[1]))):
        values = scores[(spec, condition)]
        estimate = mean_ci(values.dropna().to_numpy(), method)
        drop = p = float("nan")
        if (spec, CLEAN) in scores and condition != CLEAN:
            both = pd.concat([scores[(spec, CLEAN)], values], axis=1).dropna()
            if len(both):
                drop = float((both.iloc[:, 0] - both.iloc[:, 1]).mean())
                p = wilcoxon_paired(both.iloc[:, 0].to_numpy(), both.iloc[:, 1].to_numpy()).p_value
        records.append({"metric": metric, "condition_column": column, "condition": condition, "spec": spec,
                        "n": estimate.n, "mean": estimate.mean, "ci95_low": estimate.low, "ci95_high": estimate.high,
                        "drop_from_clean": drop, "drop_p": p})
    return pd.DataFrame(records, columns=TABLE)


def paired_tests(rows: pd.DataFrame, metric: str, column: str) -> pd.DataFrame:
    """Every pair of specs at every condition: mean paired difference (a - b), Wilcoxon p, Holm within the condition."""
    scores = _scores(rows, metric, column)
    records = []
    for condition in dict.fromkeys(c for _, c in scores.columns):
        specs = [s for s, c in scores.columns if c == condition]
        block = []
        for a, b in itertools.combinations(specs, 2):
            both = pd.concat([scores[(a, condition)], scores[(b, condition)]], axis=1).dropna()
            test = wilcoxon_paired(both.iloc[:, 0].to_numpy(), both.iloc[:, 1].to_numpy())
            block.append({"metric": metric, "condition_column": column, "condition": condition, "spec_a": a,
                          "spec_b": b, "n": len(both), "mean_difference": float((both.iloc[:, 0] - both.iloc[:, 1]).mean())
                          if len(both) else float("nan"), "p": test.p_value})
        finite = [r for r in block if np.isfinite(r["p"])]
        for record, adjusted in zip(finite, holm([r["p"] for r in finite]) if finite else []):
            record["p_holm"] = float(adjusted)
        records += block
    return pd.DataFrame(records, columns=PAIRED)


def plot_curves(table: pd.DataFrame, out: Path, pdf: bool = False) -> list[Path]:
    """One PNG per metric and curve family (`<metric>_vs_loss.png`, `<metric>_vs_snr_<noise>.png`): the mean and
    95 % CI of every spec against the loss rate or SNR; with `pdf`, a PDF beside each PNG. Returns the PNGs."""
    from matplotlib.figure import Figure

    out.mkdir(parents=True, exist_ok=True)
    axes = [condition_axis(c, n) for c, n in zip(table["condition_column"], table["condition"])]
    table = table.assign(family=[a[0] for a in axes], x=[a[1] for a in axes])
    paths = []
    for (metric, family), group in table[table["family"] != "other"].groupby(["metric", "family"], sort=False):
        if group["x"].nunique() < 2:
            continue
        fig = Figure(figsize=(6, 4))
        ax = fig.add_subplot()
        for spec, line in group.sort_values("x").groupby("spec", sort=False):
            error = np.nan_to_num(np.vstack([line["mean"] - line["ci95_low"], line["ci95_high"] - line["mean"]]))
            ax.errorbar(line["x"], line["mean"], yerr=error.clip(min=0), marker="o", capsize=3, label=spec)
        ax.set_xlabel("packet loss (%)" if family == "loss" else f"{family} noise SNR (dB)")
        ax.set_ylabel(f"{metric} (mean, 95 % CI)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        path = out / (f"{metric}_vs_loss.png" if family == "loss" else f"{metric}_vs_snr_{family}.png")
        fig.tight_layout()
        fig.savefig(path, dpi=150)
        if pdf:
            fig.savefig(path.with_suffix(".pdf"), metadata={"CreationDate": None})  # byte-stable for the same table
        paths.append(path)
    return paths


def markdown(table: pd.DataFrame) -> str:
    """The robustness table as Markdown: `mean [CI]` per spec (rows) and condition (columns), drop in brackets."""
    lines = []
    for (metric, column), block in table.groupby(["metric", "condition_column"], sort=False):
        conditions = list(dict.fromkeys(block["condition"]))
        lines += [f"{metric} by {column} (mean [95 % CI], paired drop from clean)", "",
                  "| spec | " + " | ".join(conditions) + " |", "|---" * (len(conditions) + 1) + "|"]
        for spec, rows in block.groupby("spec", sort=False):
            cells = {r["condition"]: cell_text(r) for _, r in rows.iterrows()}
            lines.append(f"| {spec} | " + " | ".join(cells.get(c, "–") for c in conditions) + " |")
        lines.append("")
    return "\n".join(lines)


def cell_text(record: pd.Series, decimals: int = 3) -> str:
    """One cell of the robustness table: `mean [CI]`, then the paired drop from clean as `(−drop)`, a rise as
    `(+rise)`."""
    text = f"{record['mean']:.{decimals}f} [{record['ci95_low']:.{decimals}f}, {record['ci95_high']:.{decimals}f}]"
    drop = record["drop_from_clean"]
    if np.isfinite(drop):
        text += f" ({'−' if drop >= 0 else '+'}{abs(drop):.{decimals}f})"
    return text


def conditioned_rows(rows: pd.DataFrame) -> list[str]:
    """The condition columns of `rows` that hold more than one condition (what a robustness analysis compares)."""
    return [c for c in CONDITIONS if c in rows and rows[c].nunique() > 1]


def tables(rows: pd.DataFrame, metrics: list[str], columns: list[str],
           method: CiMethod = DEFAULT) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The robustness table (CIs by `method`) and the paired tests of every metric over every condition column."""
    table = pd.concat([robustness_table(rows, m, c, method) for m in metrics for c in columns], ignore_index=True)
    paired = pd.concat([paired_tests(rows, m, c) for m in metrics for c in columns], ignore_index=True)
    return table, paired


def analyze(run_dir: str | Path, metrics: list[str] | None = None, out: str | Path | None = None) -> dict[str, Path]:
    """Write `robustness.csv`, `paired.csv`, `robustness.md` and the curves of a run into `out`
    (default `RUN_DIR/robustness`); returns what was written.

    Raises:
        ValueError: the run has no condition column, or a metric it did not score.
    """
    from codecbench.safecsv import write_csv

    run_dir = Path(run_dir)
    rows = RunDir(run_dir).read_rows()
    columns = [c for c in CONDITIONS if c in rows]
    if not columns:
        raise ValueError(f"{run_dir}: the run has no channel or input conditions (run with --channel/--input)")
    metrics = metrics or robustness_metrics(list(rows.columns))
    missing = [m for m in metrics if m not in rows]
    if missing:
        raise ValueError(f"{run_dir}: no column {missing} in the run's rows")
    out = Path(out) if out is not None else run_dir / "robustness"
    out.mkdir(parents=True, exist_ok=True)
    table, paired = tables(rows, metrics, columns)
    written = {"table": write_csv(table, out / "robustness.csv"), "paired": write_csv(paired, out / "paired.csv")}
    (out / "robustness.md").write_text(markdown(table))
    written["markdown"] = out / "robustness.md"
    for path in plot_curves(table, out):
        written[path.stem] = path
    return written

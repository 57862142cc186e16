"""Paired significance between codec specs on the same utterances: Wilcoxon signed-rank, Holm-corrected.

For every metric, the specs compared are those with a score of it; every pair of them is compared on the
same utterances: those all compared specs scored (a failed metric drops the utterance from every pair of that
metric; `coverage` says how many remain). Rows join on (utterance, input SHA-256), so rows of merged runs pair
only when they scored the same file. The Holm correction runs over all pairs of one metric.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from codecbench.report.document import Cell, Grid, fmt_p
from codecbench.report.sources import JOIN_KEY, MetricColumn
from codecbench.report.tables import best_specs
from codecbench.stats import holm, wilcoxon_paired

ALPHA = 0.05
COVERAGE_COLUMNS = ["metric", "specs", "utterances", "shared", "not_compared"]
COLUMNS = ["metric", "spec_a", "spec_b", "n_pairs", "mean_a", "mean_b", "mean_diff", "median_diff", "statistic",
           "p_value", "p_holm", "significant", "better", "note"]


def shared_scores(rows: pd.DataFrame, specs: list[str], metric: MetricColumn) -> tuple[pd.DataFrame, int]:
    """The scores of `metric` (one column per compared spec, one row per (utterance, input SHA-256) all of them
    scored) and the number of distinct inputs in `rows`. Specs without any score of the metric are left out."""
    scores = rows.pivot(index=JOIN_KEY, columns="spec", values=metric.column)
    compared = [s for s in specs if s in scores and scores[s].notna().any()]
    return scores[compared].dropna(), len(scores)


def coverage(rows: pd.DataFrame, specs: list[str], metrics: list[MetricColumn]) -> pd.DataFrame:
    """Per metric: how many specs are compared, how many inputs the rows hold, how many all compared specs
    scored (the paired tests' n), and the specs left out for having no score of the metric."""
    records = []
    for metric in metrics:
        scores, total = shared_scores(rows, specs, metric)
        records.append({"metric": metric.column, "specs": scores.shape[1], "utterances": total, "shared": len(scores),
                        "not_compared": ", ".join(s for s in specs if s not in scores)})
    return pd.DataFrame(records, columns=COVERAGE_COLUMNS)


def coverage_note(covered: pd.DataFrame) -> str:
    """One sentence: on how many utterances the paired tests ran, per metric where it differs."""
    counts = {(r["shared"], r["utterances"], r["specs"]) for _, r in covered.iterrows()}
    if len(counts) == 1:
        shared, total, n_specs = counts.pop()
        return (f"Paired tests use the {shared} of {total} utterances that all {n_specs} compared specs scored.")
    return "Paired tests use the utterances that all compared specs scored: " + "; ".join(
        f"{r['metric']} {r['shared']} of {r['utterances']} ({r['specs']} specs)" for _, r in covered.iterrows()) + "."


def paired_tests(rows: pd.DataFrame, specs: list[str], metrics: list[MetricColumn], alpha: float = ALPHA) -> pd.DataFrame:
    """One row per (metric, spec pair) with the test, the Holm-adjusted p and the better spec."""
    records = []
    for metric in metrics:
        scores, _ = shared_scores(rows, specs, metric)
        block = []
        for spec_a, spec_b in combinations(list(scores.columns), 2):
            pair = scores[[spec_a, spec_b]]
            a, b = pair[spec_a].to_numpy(dtype=float), pair[spec_b].to_numpy(dtype=float)
            test = wilcoxon_paired(a, b)
            mean_diff = float(np.mean(a - b)) if a.size else float("nan")
            sign = mean_diff if metric.higher_is_better else -mean_diff
            block.append({"metric": metric.column, "spec_a": spec_a, "spec_b": spec_b, "n_pairs": int(a.size),
                          "mean_a": float(np.mean(a)) if a.size else float("nan"),
                          "mean_b": float(np.mean(b)) if b.size else float("nan"), "mean_diff": mean_diff,
                          "median_diff": float(np.median(a - b)) if a.size else float("nan"),
                          "statistic": test.statistic, "p_value": test.p_value, "p_holm": float("nan"),
                          "better": spec_a if sign > 0 else spec_b if sign < 0 else "", "note": test.note})
        tested = [i for i, r in enumerate(block) if np.isfinite(r["p_value"])]
        if tested:
            for i, p in zip(tested, holm([block[i]["p_value"] for i in tested], alpha)):
                block[i]["p_holm"] = float(p)
        records += block
    table = pd.DataFrame(records, columns=COLUMNS)
    table["significant"] = table["p_holm"] < alpha
    return table


def _lookup(tests: pd.DataFrame, metric: str, spec_a: str, spec_b: str) -> pd.Series | None:
    hit = tests[(tests["metric"] == metric) & (((tests["spec_a"] == spec_a) & (tests["spec_b"] == spec_b))
                                               | ((tests["spec_a"] == spec_b) & (tests["spec_b"] == spec_a)))]
    return None if hit.empty else hit.iloc[0]


def not_different_from_best(tests: pd.DataFrame, table: pd.DataFrame, metrics: list[MetricColumn]) -> dict[str, set[str]]:
    """Per metric column, the specs whose test against the (first) best spec is not significant."""
    marks: dict[str, set[str]] = {}
    for metric in metrics:
        best = [s for s in table["spec"] if s in best_specs(table, metric)]
        marks[metric.column] = set()
        if not best:
            continue
        for spec in table["spec"]:
            test = None if spec in best else _lookup(tests, metric.column, best[0], spec)
            if test is not None and np.isfinite(test["p_holm"]) and not test["significant"]:
                marks[metric.column].add(spec)
    return marks


def matrix_grid(tests: pd.DataFrame, metric: MetricColumn, specs: list[str], alpha: float = ALPHA) -> Grid:
    """Holm-adjusted p of row vs column; `+` row significantly better, `−` significantly worse."""
    rows = []
    for row_spec in specs:
        row = [Cell(row_spec)]
        for col_spec in specs:
            test = None if row_spec == col_spec else _lookup(tests, metric.column, row_spec, col_spec)
            if test is None:
                row.append(Cell("–"))
                continue
            sign = ("+" if test["better"] == row_spec else "−") if test["significant"] else ""
            row.append(Cell(f"{fmt_p(test['p_holm'])}{sign}", bold=bool(test["significant"])))
        rows.append(row)
    n_pairs = tests.loc[tests["metric"] == metric.column, "n_pairs"]
    notes = [f"Holm-adjusted p of the paired Wilcoxon signed-rank test, row vs column, over the "
             f"{n_pairs.max() if len(n_pairs) else 0} utterances all compared specs scored. "
             f"+ / −: the row is significantly better / worse at α = {alpha:g} ({metric.arrow} is better)."]
    return Grid(f"significance-{metric.column}", f"Paired significance: {metric.column}", ["spec", *specs],
                rows, notes)

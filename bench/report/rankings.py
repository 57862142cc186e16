"""Rankings: the Pareto front over (measured kbps, metric) and Bjøntegaard-delta comparisons of codec families.

BD-rate (G. Bjøntegaard, "Calculation of average PSNR differences between RD-curves", VCEG-M33, 2001) is
the average log-rate difference of two rate–quality curves over their common quality range, in % (negative:
the test family needs less rate for the same quality). BD-quality is the average quality difference over the
common (log) rate range. Curves are interpolated with PCHIP (piecewise cubic Hermite), as in the JCT-VC/JVET
common test conditions (JCTVC-L1100), by the `bjontegaard` package (FAU-LMS; matches the CTC Excel sheet to 10
decimals). A family is one codec name (`opus`, `codec2`, ...) with at least two operating points, under one set of
channel/input conditions in a condition run (`opus · loss@10%`): curves of different conditions are never compared.
A BD value
is given only when it means something, else it is NaN and the note says why:
- each curve has at least `MIN_POINTS` (4) scored operating points: the cubic fit of VCEG-M33 needs 4, and
  PCHIP through 2 or 3 points is a straight or barely bent line that extrapolates the codec's behaviour;
- quality strictly improves as the rate rises along each curve (direction-aware): a curve whose quality falls
  with more rate is not a rate–quality trade-off, and the BD integral over it has no meaning;
- the two curves' ranges overlap by at least `MIN_OVERLAP` (75 %, intersection over union; the threshold at
  which the `bjontegaard` package warns) on the axis integrated over: quality for BD-rate, log rate for
  BD-quality. Both overlaps are always reported.
The reference condition and reference-only columns (`ref_*`) are never ranked.
"""

from __future__ import annotations

import warnings
from itertools import combinations

import numpy as np
import pandas as pd

from codecbench.report.document import Cell, Grid, cells, fmt
from codecbench.report.sources import REFERENCE_CODEC, MetricColumn
from codecbench.report.tables import RATE, condition_groups, curves

BD_METHOD = "pchip"
MIN_POINTS = 4
MIN_OVERLAP = 0.75
BD_COLUMNS = ["metric", "anchor", "test", "anchor_specs", "test_specs", "bd_rate_pct", "bd_quality",
              "rate_overlap", "quality_overlap", "note"]


def pareto_front(table: pd.DataFrame, metric: MetricColumn) -> pd.DataFrame:
    """Per spec: kbps, metric mean and whether no other spec under the same conditions is at least as good on
    both axes and strictly better on one (lower kbps; better metric, direction-aware). `reference` is not ranked."""
    points = table[(table["codec"] != REFERENCE_CODEC) & np.isfinite(table[f"{RATE}_mean"])
                   & np.isfinite(table[f"{metric.column}_mean"])]
    rate = points[f"{RATE}_mean"].to_numpy()
    quality = points[f"{metric.column}_mean"].to_numpy() * (1 if metric.higher_is_better else -1)
    group = np.array(condition_groups(points), dtype=object)
    dominated = [bool(np.any((group == g) & (rate <= r) & (quality >= q) & ((rate < r) | (quality > q))))
                 for r, q, g in zip(rate, quality, group)]
    return pd.DataFrame({"metric": metric.column, "spec": points["spec"].to_numpy(),
                         "kbps": rate, "value": points[f"{metric.column}_mean"].to_numpy(),
                         "pareto": np.logical_not(dominated)})


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Common part of two ranges as a fraction of their union."""
    union = max(a.max(), b.max()) - min(a.min(), b.min())
    common = min(a.max(), b.max()) - max(a.min(), b.min())
    return max(common, 0.0) / union if union > 0 else 0.0


def _curve(table: pd.DataFrame, family: str, metric: MetricColumn) -> tuple[np.ndarray, np.ndarray, str]:
    """A family's (kbps, quality) points sorted by rate, and why they cannot make a BD curve ('' if fine)."""
    part = table[(np.array(curves(table), dtype=object) == family) & np.isfinite(table[f"{metric.column}_mean"])]
    part = part.sort_values(f"{RATE}_mean")
    rate, quality = part[f"{RATE}_mean"].to_numpy(), part[f"{metric.column}_mean"].to_numpy()
    if len(rate) < MIN_POINTS:
        return rate, quality, (f"{family}: {len(rate)} scored points, a BD curve needs at least {MIN_POINTS} "
                               "(fewer make a straight or barely bent line)")
    if np.any(np.diff(rate) <= 0):
        return rate, quality, f"{family}: two points share one rate"
    gain = np.diff(quality) * (1 if metric.higher_is_better else -1)
    if np.any(gain <= 0):
        i = int(np.argmax(gain <= 0))
        return rate, quality, (f"{family}: {metric.column} does not improve as the rate rises ({quality[i]:.3f} at "
                               f"{rate[i]:.2f} kbps, {quality[i + 1]:.3f} at {rate[i + 1]:.2f} kbps)")
    return rate, quality, ""


def _by_quality(rate: np.ndarray, quality: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points in ascending quality: BD-rate interpolates rate over quality (the package needs x ascending)."""
    order = np.argsort(quality)
    return rate[order], quality[order]


def bd_comparisons(table: pd.DataFrame, metrics: list[MetricColumn], method: str = BD_METHOD) -> pd.DataFrame:
    """BD-rate and BD-quality of every pair of families under the same conditions (the first in run order is the
    anchor); in a condition run a family is a codec under one set of conditions (`opus · loss@10%`,
    `tables.curves`)."""
    import bjontegaard

    ranked = table[table["codec"] != REFERENCE_CODEC]
    family_of = curves(ranked)
    condition_of = dict(zip(family_of, condition_groups(ranked)))
    families = [f for f in dict.fromkeys(family_of) if family_of.count(f) >= 2]
    pairs = [(a, t) for a, t in combinations(families, 2) if condition_of[a] == condition_of[t]]
    records = []
    for metric in metrics:
        for anchor, test in pairs:
            rate_a, quality_a, why_a = _curve(table, anchor, metric)
            rate_t, quality_t, why_t = _curve(table, test, metric)
            record = {"metric": metric.column, "anchor": anchor, "test": test, "anchor_specs": len(rate_a),
                      "test_specs": len(rate_t), "bd_rate_pct": float("nan"), "bd_quality": float("nan"),
                      "rate_overlap": float("nan"), "quality_overlap": float("nan"), "note": ""}
            notes = [w for w in (why_a, why_t) if w]
            if min(len(rate_a), len(rate_t)) >= 2:
                record["rate_overlap"] = _overlap(np.log10(rate_a), np.log10(rate_t))
                record["quality_overlap"] = _overlap(quality_a, quality_t)
            if not notes:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # overlap is checked and reported here
                    if record["quality_overlap"] >= MIN_OVERLAP:
                        record["bd_rate_pct"] = float(bjontegaard.bd_rate(
                            *_by_quality(rate_a, quality_a), *_by_quality(rate_t, quality_t), method=method,
                            require_matching_points=False, min_overlap=0))
                    else:
                        notes.append(f"quality ranges overlap {record['quality_overlap']:.1%} < {MIN_OVERLAP:.0%}: "
                                     "no BD-rate")
                    if record["rate_overlap"] >= MIN_OVERLAP:
                        record["bd_quality"] = float(bjontegaard.bd_psnr(
                            rate_a, quality_a, rate_t, quality_t, method=method, require_matching_points=False,
                            min_overlap=0))
                    else:
                        notes.append(f"rate ranges overlap {record['rate_overlap']:.1%} < {MIN_OVERLAP:.0%}: "
                                     "no BD-quality")
            record["note"] = "; ".join(notes)
            records.append(record)
    return pd.DataFrame(records, columns=BD_COLUMNS)


def pareto_grid(fronts: pd.DataFrame, metrics: list[MetricColumn]) -> Grid:
    rows = []
    for metric in metrics:
        part = fronts[fronts["metric"] == metric.column].sort_values("kbps")
        front = part[part["pareto"]]
        rows.append(cells(f"{metric.column} {metric.arrow}", ", ".join(front["spec"]) or "–",
                          ", ".join(part.loc[~part["pareto"], "spec"]) or "–"))
    return Grid("pareto", "Pareto front over (measured kbps, metric mean)", ["metric", "on the front", "dominated"],
                rows, ["A spec is dominated when another runs at no more kbps with no worse mean, and is strictly "
                       "better in one of the two."], align="lpp")


def bd_grid(bd: pd.DataFrame, metrics: list[MetricColumn]) -> Grid:
    by_column = {m.column: m for m in metrics}
    rows = []
    for _, r in bd.iterrows():
        metric = by_column[r["metric"]]
        rows.append([Cell(f"{r['metric']} {metric.arrow}"), Cell(r["anchor"]), Cell(r["test"]),
                     Cell(fmt(r["bd_rate_pct"], 1)), Cell(fmt(r["bd_quality"], metric.decimals)),
                     Cell(fmt(100 * r["rate_overlap"], 0)), Cell(fmt(100 * r["quality_overlap"], 0)), Cell(r["note"])])
    notes = ["BD-rate: average rate difference (%) of test vs anchor at equal quality (negative: test needs "
             "less rate); BD-quality: average metric difference at equal rate (positive: test scores higher). "
             f"Bjøntegaard (VCEG-M33) with {BD_METHOD.upper()} interpolation (JCTVC-L1100), package "
             f"`bjontegaard`. Given only for curves of at least {MIN_POINTS} points whose quality improves with "
             f"rate, whose ranges overlap by at least {MIN_OVERLAP:.0%} (intersection over union of the two curves' "
             "log-rate and metric ranges, reported in %)."]
    return Grid("bd-rate", "Bjøntegaard-delta comparison of codec families",
                ["metric", "anchor", "test", "BD-rate %", "BD-quality", "rate overlap %", "quality overlap %", "note"],
                rows, notes, align="lllrrrrp")

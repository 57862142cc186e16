"""`codecbench mushra analyze`: BS.1534-3 post-screening, summaries with CIs, RM-ANOVA, Holm-corrected pairs.

Reads the export contract `ratings.csv` (`listener, session, trial, item, condition, rating, phase,
timestamp`) from any source. Only `phase == test` rows are analysed; training rows are ignored.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from codecbench.listening_test.testdef import MID_ANCHOR, PHASES, RATINGS_COLUMNS, REFERENCE
from codecbench.resources import package_versions
from codecbench.safecsv import write_csv
from codecbench.stats import DEFAULT, mean_ci

REFERENCE_BELOW = 90  # a hidden-reference rating below this counts against the listener
ANCHOR_ABOVE = 90  # a mid-anchor rating above this counts against the listener
MAX_FRACTION = Fraction(15, 100)  # excluded when MORE than this fraction of the items count against them
ANCHOR_ITEM_FRACTION = Fraction(25, 100)  # an item whose mid anchor more listeners rate > 90 is not used


def read_ratings(path: str | Path) -> pd.DataFrame:
    """Read and validate a `ratings.csv` (see `validate_ratings`)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} not found")
    return validate_ratings(pd.read_csv(path, dtype={"listener": str, "item": str, "condition": str,
                                                     "phase": str, "timestamp": str}))


def validate_ratings(table: pd.DataFrame) -> pd.DataFrame:
    """The ratings in contract column order, checked.

    Raises:
        ValueError: a missing column, a rating that is not a whole number 0-100, an unknown phase,
            or one listener rating one (item, condition) twice in the same phase.
    """
    missing = [c for c in RATINGS_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"ratings lack the columns {missing}; expected {RATINGS_COLUMNS}")
    table = table[RATINGS_COLUMNS].copy()
    for column in ("listener", "item", "condition"):
        if table[column].isna().any():
            raise ValueError(f"ratings have empty {column} values")
        table[column] = table[column].astype(str)
    rating = pd.to_numeric(table["rating"], errors="coerce")
    bad = table.loc[rating.isna() | (rating != rating.round()) | (rating < 0) | (rating > 100), "rating"]
    if len(bad):
        raise ValueError(f"ratings must be whole numbers from 0 to 100; found {bad.iloc[:5].tolist()}")
    table["rating"] = rating.astype(int)
    phases = set(table["phase"]) - set(PHASES)
    if phases:
        raise ValueError(f"unknown phase values {sorted(map(str, phases))}; expected {list(PHASES)}")
    duplicated = table.duplicated(["listener", "item", "condition", "phase"], keep=False)
    if duplicated.any():
        first = table[duplicated].iloc[0]
        raise ValueError(f"{int(duplicated.sum())} duplicate ratings, e.g. listener {first['listener']} rated "
                         f"item {first['item']} / {first['condition']} more than once in the {first['phase']} phase")
    return table


@dataclass
class Screening:
    """The outcome of BS.1534-3 post-screening.

    Args:
        listeners: per listener: items, reference_below_90, anchor_items, anchor_above_90, excluded, reason.
        exempt_items: items not used for the anchor rule (more than 25 % of listeners rated their mid
            anchor above 90).
        notes: rules that could not be applied, and why.
    """

    listeners: pd.DataFrame
    exempt_items: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def excluded(self) -> pd.DataFrame:
        return self.listeners.loc[self.listeners["excluded"], ["listener", "reason"]].reset_index(drop=True)

    @property
    def kept(self) -> list[str]:
        return self.listeners.loc[~self.listeners["excluded"], "listener"].tolist()


def _percent(fraction: Fraction) -> str:
    return f"{float(fraction) * 100:.0f} %"


def screen_listeners(ratings: pd.DataFrame, reference: str = REFERENCE, mid_anchor: str = MID_ANCHOR) -> Screening:
    """BS.1534-3 post-screening of the test-phase ratings.

    A listener is excluded who rates the hidden reference below 90 for more than 15 % of the test items
    they rated, or the mid anchor above 90 for more than 15 % of the items, where an item whose mid
    anchor more than 25 % of all listeners rated above 90 is not used for the anchor rule. Exactly 15 %
    is kept; counts are compared as exact fractions.
    """
    test = ratings[ratings["phase"] == "test"]
    notes = []
    ref = test[test["condition"] == reference]
    anchor = test[test["condition"] == mid_anchor]
    if ref.empty:
        notes.append(f"no '{reference}' ratings: the hidden-reference rule was not applied")
    if anchor.empty:
        notes.append(f"no '{mid_anchor}' ratings: the mid-anchor rule was not applied")
    high_share = anchor.groupby("item")["rating"].agg(lambda r: Fraction(int((r > ANCHOR_ABOVE).sum()), len(r)))
    exempt = sorted(high_share[high_share > ANCHOR_ITEM_FRACTION].index)
    used_anchor = anchor[~anchor["item"].isin(exempt)]
    records = []
    for listener in sorted(test["listener"].unique()):
        mine_ref = ref[ref["listener"] == listener]["rating"]
        mine_anchor = used_anchor[used_anchor["listener"] == listener]["rating"]
        ref_bad, anchor_bad = int((mine_ref < REFERENCE_BELOW).sum()), int((mine_anchor > ANCHOR_ABOVE).sum())
        reasons = []
        if len(mine_ref) and Fraction(ref_bad, len(mine_ref)) > MAX_FRACTION:
            reasons.append(f"hidden reference rated below {REFERENCE_BELOW} in {ref_bad} of {len(mine_ref)} test "
                           f"items ({_percent(Fraction(ref_bad, len(mine_ref)))} > 15 %)")
        if len(mine_anchor) and Fraction(anchor_bad, len(mine_anchor)) > MAX_FRACTION:
            reasons.append(f"mid anchor ({mid_anchor}) rated above {ANCHOR_ABOVE} in {anchor_bad} of "
                           f"{len(mine_anchor)} test items ({_percent(Fraction(anchor_bad, len(mine_anchor)))} > 15 %)")
        records.append({"listener": listener, "items": int(test[test["listener"] == listener]["item"].nunique()),
                        "reference_items": len(mine_ref), "reference_below_90": ref_bad,
                        "anchor_items": len(mine_anchor), "anchor_above_90": anchor_bad,
                        "excluded": bool(reasons), "reason": "; ".join(reasons)})
    columns = ["listener", "items", "reference_items", "reference_below_90", "anchor_items", "anchor_above_90",
               "excluded", "reason"]
    return Screening(pd.DataFrame(records, columns=columns), exempt, notes)


def condition_order(conditions: list[str], reference: str = REFERENCE, mid_anchor: str = MID_ANCHOR) -> list[str]:
    """Hidden reference, then the anchors, then the other conditions in order of first appearance."""
    anchors = [c for c in dict.fromkeys(conditions) if c.startswith("lowpass@")]
    anchors.sort(key=lambda c: (c != mid_anchor, c))
    first = [c for c in (reference, *anchors) if c in conditions]
    return first + [c for c in dict.fromkeys(conditions) if c not in first]


def summarize(test: pd.DataFrame, by: list[str], order: list[str]) -> pd.DataFrame:
    """n, mean, 95 % CI (`codecbench.stats.mean_ci`, the interval of every codecbench table), median and
    IQR of the ratings per group of `by` (pooled over listeners x items); conditions in `order`."""
    records = []
    for keys, group in test.groupby(by, sort=False):
        values = group["rating"].to_numpy(dtype=float)
        estimate = mean_ci(values)
        records.append({**dict(zip(by, keys if isinstance(keys, tuple) else (keys,))), "n": len(values),
                        "mean": estimate.mean, "ci95_low": estimate.low, "ci95_high": estimate.high,
                        "median": float(np.median(values)), "iqr": float(stats.iqr(values)), "ci": DEFAULT.label})
    table = pd.DataFrame(records)
    table["condition"] = pd.Categorical(table["condition"], categories=order, ordered=True)
    table = table.sort_values(by, kind="stable")
    table["condition"] = table["condition"].astype(str)
    return table.reset_index(drop=True)


def crossed_conditions(test: pd.DataFrame) -> pd.DataFrame:
    """The ratings of the conditions that were rated in every item."""
    items = test.groupby("condition")["item"].nunique()
    return test[test["condition"].isin(items[items == test["item"].nunique()].index)]


def complete_listeners(test: pd.DataFrame) -> pd.DataFrame:
    """A fully crossed design (what a repeated-measures ANOVA needs): the conditions rated in every item,
    and of those ratings only the listeners who rated every (item, condition) cell."""
    crossed = crossed_conditions(test)
    cells = crossed.groupby(["item", "condition"]).ngroups
    counts = crossed.groupby("listener").size()
    return crossed[crossed["listener"].isin(counts[counts == cells].index)]


def rm_anova(test: pd.DataFrame) -> tuple[pd.DataFrame | None, str]:
    """Two-way repeated-measures ANOVA (condition x item, subject = listener) with pingouin, on the
    listeners with complete data; returns (table, note) with the table None when it cannot be run."""
    import pingouin

    complete = complete_listeners(test)
    listeners, items, conditions = (complete[c].nunique() for c in ("listener", "item", "condition"))
    if listeners < 2 or items < 2 or conditions < 2:
        return None, (f"repeated-measures ANOVA needs at least 2 listeners with complete data, 2 items and "
                      f"2 conditions; have {listeners}, {items}, {conditions}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        table = pingouin.rm_anova(complete, dv="rating", within=["condition", "item"], subject="listener",
                                  detailed=True)
    return table, f"{listeners} listeners with complete data" + _left_out(test, complete)


def pairwise_tests(test: pd.DataFrame) -> tuple[pd.DataFrame | None, str]:
    """Paired t-tests and Wilcoxon signed-rank tests between the conditions rated in every item,
    Holm-corrected (pingouin), pairing ratings of the same listener and item; (listener, item) blocks
    missing a condition are left out."""
    import pingouin

    crossed = crossed_conditions(test)
    blocks = crossed.assign(block=crossed["listener"] + "|" + crossed["item"])
    conditions = blocks["condition"].nunique()
    sizes = blocks.groupby("block")["condition"].nunique()
    blocks = blocks[blocks["block"].isin(sizes[sizes == conditions].index)]
    if blocks["block"].nunique() < 2 or conditions < 2:
        return None, "paired tests need at least 2 (listener, item) blocks rating every condition and 2 conditions"
    tables = []
    for parametric, name, statistic in ((True, "paired t", "T"), (False, "wilcoxon", "W_val")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            result = pingouin.pairwise_tests(blocks, dv="rating", within="condition", subject="block",
                                             padjust="holm", parametric=parametric)
        tables.append(pd.DataFrame({"A": result["A"], "B": result["B"], "test": name,
                                    "statistic": result[statistic], "p_unc": result["p_unc"],
                                    "p_holm": result["p_corr"], "hedges_g": result["hedges"],
                                    "blocks": blocks["block"].nunique()}))
    note = f"{blocks['block'].nunique()} complete (listener, item) blocks" + _left_out(test, blocks)
    return pd.concat(tables, ignore_index=True), note


def _left_out(test: pd.DataFrame, used: pd.DataFrame) -> str:
    left = sorted(set(test["condition"]) - set(used["condition"]))
    return f"; conditions not rated in every item, left out: {left}" if left else ""


@dataclass
class AnalysisResult:
    """What `analyze` wrote."""

    out: Path
    screening: Screening
    summary: pd.DataFrame
    item_summary: pd.DataFrame
    anova: pd.DataFrame | None
    pairwise: pd.DataFrame | None
    notes: list[str]


def analyze(ratings: str | Path | pd.DataFrame, out: str | Path, reference: str = REFERENCE,
            mid_anchor: str = MID_ANCHOR, plots: bool = True) -> AnalysisResult:
    """Screen listeners and analyse the test ratings of the kept ones; write tables, plots and `analysis.json`.

    Args:
        ratings: a `ratings.csv` path or its table.
        out: the output folder.
        reference: the hidden reference's condition name.
        mid_anchor: the mid anchor's condition name (the 7 kHz low-pass).
        plots: write the PNG plots.

    Raises:
        ValueError: invalid ratings, or no test-phase rating of a kept listener.
    """
    from codecbench.listening_test.plots import plot_all

    table = read_ratings(ratings) if not isinstance(ratings, pd.DataFrame) else validate_ratings(ratings)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    screening = screen_listeners(table, reference, mid_anchor)
    write_csv(screening.excluded, out / "excluded_listeners.csv")
    write_csv(screening.listeners, out / "screening.csv")
    test = table[(table["phase"] == "test") & table["listener"].isin(screening.kept)]
    if test.empty:
        raise ValueError("no test-phase ratings of a kept listener to analyse "
                         f"({len(screening.excluded)} listeners excluded)")
    order = condition_order(test["condition"].tolist(), reference, mid_anchor)
    summary = summarize(test, ["condition"], order)
    write_csv(summary, out / "summary.csv")
    item_summary = summarize(test, ["item", "condition"], order)
    write_csv(item_summary, out / "item_summary.csv")
    anova, anova_note = rm_anova(test)
    pairs, pairs_note = pairwise_tests(test)
    notes = list(screening.notes)
    for frame, name, note in ((anova, "anova.csv", anova_note), (pairs, "pairwise.csv", pairs_note)):
        if frame is None:
            notes.append(f"{name} not written: {note}")
            (out / name).unlink(missing_ok=True)
        else:
            write_csv(frame, out / name)
    if plots:
        plot_all(test, summary, order, out)
    info = {
        "ratings": str(ratings) if not isinstance(ratings, pd.DataFrame) else "(table)",
        "rules": {"reference": reference, "reference_below": REFERENCE_BELOW, "mid_anchor": mid_anchor,
                  "anchor_above": ANCHOR_ABOVE, "max_fraction": str(MAX_FRACTION),
                  "anchor_item_fraction": str(ANCHOR_ITEM_FRACTION)},
        "listeners": int(table["listener"].nunique()), "kept": screening.kept,
        "excluded": screening.excluded.to_dict("records"), "anchor_rule_exempt_items": screening.exempt_items,
        "test_ratings_analysed": len(test), "training_ratings_ignored": int((table["phase"] == "training").sum()),
        "anova": anova_note, "pairwise": pairs_note, "ci": DEFAULT.label,
        "notes": notes, "versions": package_versions("pingouin", "statsmodels", "matplotlib"),
    }
    (out / "analysis.json").write_text(json.dumps(info, indent=2))
    return AnalysisResult(out, screening, summary, item_summary, anova, pairs, notes)

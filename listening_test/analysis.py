"""`codecbench mushra analyze`: BS.1534-3 post-screening, summaries with CIs, RM-ANOVA, Holm-corrected pairs.

Reads the export contract `ratings.csv` (`listener, session, trial, item, condition, rating, phase,
timestamp`) from any source. Only `phase == test` rows are analysed; training rows are ignored.
With a `listeners.csv` export beside it, each listener's headphone screen is reported next to
post-screening, and can exclude them (`headphone_rule="exclude"`); so are the timings of their test trials
(`timed_trials`, `too_fast_trials`, `impossible_trials`, see `results.trial_timing`), which exclude by
`timing_rule="exclude"` (the default): a listener with any impossible trial, or more than 15 % of their
timed test trials too fast, is excluded. Every output is written whatever
screening leaves: with no listener kept the tables have their columns and no rows, the plots say why,
and `analysis.json` lists who was excluded and why.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from codecbench.listening_test.headphones import MIN_CORRECT, passed
from codecbench.listening_test.testdef import PHASES, RATINGS_COLUMNS, REFERENCE
from codecbench.listening_test.traps import failed_traps, trap_scores, without_traps
from codecbench.resources import package_versions
from codecbench.safecsv import write_csv
from codecbench.stats import DEFAULT, mean_ci

AUTO = "auto"
MIN_LISTENERS_FOR_TESTS = 6  # fewer: no ANOVA, no pairwise tests (see `analyze`)
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


def find_mid_anchor(conditions: list[str]) -> str | None:
    """The mid anchor among rated conditions: `lowpass@7k` if rated, else the low-pass condition with the
    highest cut-off beside the low anchor `lowpass@3.5k` (a mid anchor chosen for the material, see
    `anchors`), else None (no anchors: a MUSHRA-like test)."""
    from codecbench.listening_test.anchors import anchor_name, cutoff_of, LOW_CUTOFF_HZ, STANDARD_MID_HZ

    lowpass = {}
    for condition in set(conditions):
        try:
            lowpass[condition] = cutoff_of(condition)
        except ValueError:
            continue
    if anchor_name(STANDARD_MID_HZ) in lowpass:
        return anchor_name(STANDARD_MID_HZ)
    higher = {c: f for c, f in lowpass.items() if f > LOW_CUTOFF_HZ}
    return max(higher, key=higher.get) if higher else None


def screen_listeners(ratings: pd.DataFrame, reference: str = REFERENCE, mid_anchor: str | None = AUTO,
                     checks: pd.DataFrame | None = None, headphone_rule: str = "report",
                     headphone_min_correct: int = MIN_CORRECT, timing_rule: str = "exclude") -> Screening:
    """BS.1534-3 post-screening of the test-phase ratings, and the headphone screen beside it.

    A listener is excluded who rates the hidden reference below 90 for more than 15 % of the test items
    they rated, or the mid anchor above 90 for more than 15 % of the items, where an item whose mid
    anchor more than 25 % of all listeners rated above 90 is not used for the anchor rule. Exactly 15 %
    is kept; counts are compared as exact fractions.

    Args:
        ratings: validated ratings.
        reference: the hidden reference's condition.
        mid_anchor: the mid anchor's condition; `auto`: `find_mid_anchor`; None: no anchor rule.
        checks: a `listeners.csv` export (`listener`, `huggins_correct`, `huggins_rounds`): adds each
            listener's headphone screen to the table.
        headphone_rule: `report` (only show it) or `exclude` (exclude who did not pass or did not take it).
        headphone_min_correct: correct rounds needed to pass the headphone screen.
        timing_rule: `exclude` (who sent any trial whose play log cannot be true, or more than 15 % of their
            timed test trials too fast) or `report` (only show the counts); applied when `checks` has them.
    """
    if timing_rule not in ("report", "exclude"):
        raise ValueError(f"the timing rule is 'report' or 'exclude', not {timing_rule!r}")
    if headphone_rule not in ("report", "exclude"):
        raise ValueError(f"the headphone rule is 'report' or 'exclude', not {headphone_rule!r}")
    if headphone_rule == "exclude" and checks is None:
        raise ValueError("excluding by the headphone screen needs the listeners file (export --listeners)")
    test = ratings[ratings["phase"] == "test"]
    trapped = trap_scores(test).set_index("listener")
    notes = []
    timed = checks is not None and {"timed_trials", "too_fast_trials", "impossible_trials"} <= set(checks.columns)
    if checks is not None and not timed:
        notes.append("the listeners file has no trial timings (timed_trials, too_fast_trials, impossible_trials): "
                     "the timing rule was not applied")
    if mid_anchor == AUTO:
        mid_anchor = find_mid_anchor(test["condition"].tolist())
    ref = test[test["condition"] == reference]
    anchor = test[test["condition"] == mid_anchor] if mid_anchor else test.iloc[0:0]
    if ref.empty:
        notes.append(f"no '{reference}' ratings: the hidden-reference rule was not applied")
    if mid_anchor is None:
        notes.append("no mid anchor among the conditions (a MUSHRA-like test without anchors): the mid-anchor "
                     "rule was not applied")
    elif anchor.empty:
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
        traps = trapped.loc[listener].tolist() if listener in trapped.index else [0, 0]
        if failed_traps(*traps):
            reasons.append(failed_traps(*traps))
        headphone = _headphone_screen(checks, listener, headphone_min_correct)
        if headphone_rule == "exclude" and headphone["headphone_passed"] is not True:
            reasons.append(headphone["headphone_screen"])
        timing = _timing(checks, listener) if timed else {"timing": "", "timing_passed": None}
        if timing_rule == "exclude" and timing["timing_passed"] is False:
            reasons.append(timing["timing"])
        records.append({"listener": listener, "items": int(test[test["listener"] == listener]["item"].nunique()),
                        "reference_items": len(mine_ref), "reference_below_90": ref_bad,
                        "anchor_items": len(mine_anchor), "anchor_above_90": anchor_bad, "traps": traps[0],
                        "traps_passed": traps[1], **headphone, **timing,
                        "excluded": bool(reasons), "reason": "; ".join(reasons)})
    columns = ["listener", "items", "reference_items", "reference_below_90", "anchor_items", "anchor_above_90",
               "traps", "traps_passed", "headphone_screen", "headphone_passed", "timing", "timing_passed", "excluded",
               "reason"]
    return Screening(pd.DataFrame(records, columns=columns), exempt, notes)


def _headphone_screen(checks: pd.DataFrame | None, listener: str, min_correct: int) -> dict[str, Any]:
    """A listener's headphone screen in words and as passed (True / False / None: no listeners file)."""
    if checks is None:
        return {"headphone_screen": "", "headphone_passed": None}
    row = checks[checks["listener"].astype(str) == listener]
    correct = pd.to_numeric(row["huggins_correct"], errors="coerce").iloc[0] if len(row) else float("nan")
    if pd.isna(correct):
        return {"headphone_screen": "headphone screen not taken", "headphone_passed": False}
    rounds = int(pd.to_numeric(row["huggins_rounds"], errors="coerce").fillna(0).iloc[0])
    ok = passed(int(correct), min_correct)
    return {"headphone_screen": f"headphone screen {'passed' if ok else 'failed'}: {int(correct)} of {rounds} "
                                f"correct (needs {min_correct})", "headphone_passed": ok}


def _timing(checks: pd.DataFrame, listener: str) -> dict[str, Any]:
    """A listener's trial timings in words and as passed (None: no timed test trial)."""
    row = checks[checks["listener"].astype(str) == listener]
    counts = {c: int(pd.to_numeric(row[c], errors="coerce").fillna(0).iloc[0]) if len(row) else 0
              for c in ("timed_trials", "too_fast_trials", "impossible_trials")}
    timed, fast, impossible = counts["timed_trials"], counts["too_fast_trials"], counts["impossible_trials"]
    if not timed:
        return {"timing": "no timed test trials", "timing_passed": None}
    ok = impossible == 0 and Fraction(fast, timed) <= MAX_FRACTION
    words = (f"timings {'ok' if ok else 'failed'}: {impossible} impossible and {fast} too fast of {timed} timed "
             "test trials (none impossible, at most 15 % too fast)")
    return {"timing": words, "timing_passed": ok}


def condition_order(conditions: list[str], reference: str = REFERENCE, mid_anchor: str | None = None) -> list[str]:
    """Hidden reference, then the anchors (mid first), then the other conditions in order of first appearance."""
    anchors = [c for c in dict.fromkeys(conditions) if c.startswith("lowpass@")]
    anchors.sort(key=lambda c: (c != mid_anchor, c))
    first = [c for c in (reference, *anchors) if c in conditions]
    return first + [c for c in dict.fromkeys(conditions) if c not in first]


def summarize(test: pd.DataFrame, by: list[str], order: list[str]) -> pd.DataFrame:
    """n, mean, 95 % CI (`codecbench.stats.mean_ci`, the interval of every codecbench table), median and
    IQR of the ratings per group of `by` (pooled over listeners x items); conditions in `order`."""
    records = []
    columns = [*by, "n", "mean", "ci95_low", "ci95_high", "median", "iqr", "ci"]
    if test.empty:
        return pd.DataFrame(columns=columns)
    for keys, group in test.groupby(by, sort=False):
        values = group["rating"].to_numpy(dtype=float)
        estimate = mean_ci(values)
        mean, low, high = np.clip([estimate.mean, estimate.low, estimate.high], 0, 100)  # ratings lie in [0, 100]
        records.append({**dict(zip(by, keys if isinstance(keys, tuple) else (keys,))), "n": len(values),
                        "mean": mean, "ci95_low": low, "ci95_high": high, "median": float(np.median(values)),
                        "iqr": float(stats.iqr(values)), "ci": DEFAULT.label})
    table = pd.DataFrame(records, columns=columns)
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
        p_holm = result["p_corr"] if "p_corr" in result else result["p_unc"]  # one pair: nothing to correct
        tables.append(pd.DataFrame({"A": result["A"], "B": result["B"], "test": name,
                                    "statistic": result[statistic], "p_unc": result["p_unc"],
                                    "p_holm": p_holm, "hedges_g": result["hedges"],
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
            mid_anchor: str | None = AUTO, plots: bool = True, screening: bool = True,
            listeners: str | Path | pd.DataFrame | None = None, headphone_rule: str = "report",
            headphone_min_correct: int = MIN_CORRECT, timing_rule: str = "exclude") -> AnalysisResult:
    """Screen listeners and analyse the test ratings of the kept ones; write tables, plots and `analysis.json`.

    Every output is written whatever screening leaves. The ANOVA and the pairwise tests need at least
    `MIN_LISTENERS_FOR_TESTS` kept listeners: with fewer, even a test on per-listener means cannot reach
    p < 0.05 (the smallest two-sided p of a Wilcoxon signed-rank test on n listeners is 2 / 2^n, 0.0625 at
    n = 5), and tests that pool (listener, item) blocks would only measure these few listeners' habits.

    Args:
        ratings: a `ratings.csv` path or its table.
        out: the output folder.
        reference: the hidden reference's condition name.
        mid_anchor: the mid anchor's condition name; `auto` finds it (see `find_mid_anchor`); None: no anchor rule.
        plots: write the PNG plots.
        screening: apply post-screening (False: every listener is kept, and the table still shows the counts).
        listeners: a `listeners.csv` export (path or table): the headphone screen is reported (and applied).
        headphone_rule: `report` or `exclude` (listeners who did not pass the headphone screen).
        headphone_min_correct: correct rounds needed to pass the headphone screen.
        timing_rule: `exclude` or `report` (listeners with impossible or too-fast trial timings, see
            `screen_listeners`).

    Raises:
        ValueError: invalid ratings or listeners file.
    """
    from codecbench.listening_test.plots import plot_all

    table = read_ratings(ratings) if not isinstance(ratings, pd.DataFrame) else validate_ratings(ratings)
    checks = _read_listeners(listeners)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if mid_anchor == AUTO:  # resolved once, as screening sees it, so analysis.json names the anchor it applied
        mid_anchor = find_mid_anchor(table.loc[table["phase"] == "test", "condition"].tolist())
    screened = screen_listeners(table, reference, mid_anchor, checks, headphone_rule, headphone_min_correct,
                                timing_rule)
    notes = list(screened.notes)
    if not screening:
        screened.listeners["excluded"] = False
        screened.listeners["reason"] = ""
        notes.append("post-screening off (--no-screening): every listener is kept; screening.csv shows the counts")
    write_csv(screened.excluded, out / "excluded_listeners.csv")
    write_csv(screened.listeners, out / "screening.csv")
    test = without_traps(table[(table["phase"] == "test") & table["listener"].isin(screened.kept)])
    if test.empty:
        notes.append(f"no test-phase ratings of a kept listener ({len(screened.excluded)} of "
                     f"{len(screened.listeners)} listeners excluded): the tables are empty; see "
                     "excluded_listeners.csv, or analyse with --no-screening")
    order = condition_order(test["condition"].tolist(), reference, mid_anchor)
    summary = summarize(test, ["condition"], order)
    write_csv(summary, out / "summary.csv")
    item_summary = summarize(test, ["item", "condition"], order)
    write_csv(item_summary, out / "item_summary.csv")
    kept = len(screened.kept)
    if kept < MIN_LISTENERS_FOR_TESTS:
        too_few = (f"{kept} kept listeners, fewer than the {MIN_LISTENERS_FOR_TESTS} an inferential test needs "
                   f"(with n listeners the smallest two-sided Wilcoxon p is 2/2^n)")
        (anova, anova_note), (pairs, pairs_note) = (None, too_few), (None, too_few)
    else:
        anova, anova_note = rm_anova(test)
        pairs, pairs_note = pairwise_tests(test)
    for frame, name, note in ((anova, "anova.csv", anova_note), (pairs, "pairwise.csv", pairs_note)):
        if frame is None:
            notes.append(f"{name} not written: {note}")
            (out / name).unlink(missing_ok=True)
        else:
            write_csv(frame, out / name)
    if plots:
        plot_all(test, summary, order, out, excluded=len(screened.excluded))
    info = {
        "ratings": str(ratings) if not isinstance(ratings, pd.DataFrame) else "(table)",
        "rules": {"screening": screening, "reference": reference, "reference_below": REFERENCE_BELOW,
                  "mid_anchor": mid_anchor, "anchor_above": ANCHOR_ABOVE, "max_fraction": str(MAX_FRACTION),
                  "anchor_item_fraction": str(ANCHOR_ITEM_FRACTION), "headphone_rule": headphone_rule if
                  checks is not None else None, "headphone_min_correct": headphone_min_correct,
                  "timing_rule": timing_rule if checks is not None else None,
                  "min_listeners_for_tests": MIN_LISTENERS_FOR_TESTS},
        "listeners": int(table["listener"].nunique()), "kept": screened.kept,
        "excluded": screened.excluded.to_dict("records"), "anchor_rule_exempt_items": screened.exempt_items,
        "test_ratings_analysed": len(test), "training_ratings_ignored": int((table["phase"] == "training").sum()),
        "anova": anova_note, "pairwise": pairs_note, "ci": DEFAULT.label,
        "notes": notes, "versions": package_versions("pingouin", "statsmodels", "matplotlib"),
    }
    (out / "analysis.json").write_text(json.dumps(info, indent=2))
    return AnalysisResult(out, screened, summary, item_summary, anova, pairs, notes)


def _read_listeners(listeners: str | Path | pd.DataFrame | None) -> pd.DataFrame | None:
    """A listeners export with the columns the headphone rule reads (None stays None)."""
    if listeners is None:
        return None
    table = listeners if isinstance(listeners, pd.DataFrame) else pd.read_csv(listeners, dtype={"listener": str})
    missing = [c for c in ("listener", "huggins_correct", "huggins_rounds") if c not in table.columns]
    if missing:
        raise ValueError(f"the listeners file lacks {missing}: write it with `codecbench mushra export --listeners`")
    return table

